// `medctc build FILE`: check a `.medct` spec (or read a resolved experiment `.json`), compile each
// experiment into plans and write the build folder (see compiler/build.ts). Prints the
// parameter and cost report; `--json` prints it as JSON.

import { dirname, resolve } from 'node:path';
import type { CommandModule } from 'yargs';
import { buildAll, type Compiled } from '../../compiler/build.js';
import { checkFiles, validateExperiment } from '../../compiler/check/index.js';
import { diag } from '../../base/diagnostics/catalog.js';
import { diagnosticsToJson, renderDiagnostics } from '../../base/diagnostics/render.js';
import { DiagnosticError, fileDiagnostic, type Diagnostic } from '../../base/diagnostics/types.js';
import type { BackendName, ResolvedExperiment } from '../../compiler/ir/experiment.js';
import { renderReport } from '../../compiler/report/render.js';
import { dataLock } from '../../runtime/data/dataset.js';
import { setArgs, withSet } from '../overrides.js';
import { fileErrorText, readRegularFile } from '../../base/files.js';
import { refuse } from '../failure.js';

interface BuildArgs { file: string; out: string; json: boolean; backend?: BackendName; onnx: boolean; set?: string | string[] }

export interface Checked { experiments: ResolvedExperiment[]; diagnostics: Diagnostic[]; sources: Map<string, string> }

/** `.json`: a ResolvedExperiment or an array of them (what the checker produces). Otherwise the checker. */
/** `overrides`: `--set` arguments (a resolved `.json` takes none: E0013). */
export function load(file: string, overrides: readonly string[] = []): Checked {
  if (file.endsWith('.json')) {
    if (overrides.length) {
      throw new DiagnosticError(fileDiagnostic('E0013', `--set applies to a .medct spec; \`${file}\` is a resolved experiment`, file, { help: 'override in the spec the experiment was resolved from' }));
    }
    let v: unknown;
    try {
      v = JSON.parse(readRegularFile(file, 'utf8'));
    } catch (e) {
      throw new DiagnosticError(fileDiagnostic('E3022', `cannot read resolved experiment ${file}: ${e instanceof SyntaxError ? e.message : `it ${fileErrorText(e)}`}`, file));
    }
    const exps = (Array.isArray(v) ? v : [v]) as ResolvedExperiment[];
    // Hand-written IR gets the schema check the checker's output always passes.
    const problems = exps.flatMap((e, i) => validateExperiment(e).map((p) => `experiment ${i}: ${p}`));
    if (problems.length) {
      throw new DiagnosticError(fileDiagnostic('E3022', `not a valid resolved experiment: ${problems.slice(0, 5).join('; ')}`, file, { help: 'see spec/experiment.schema.json' }));
    }
    return { experiments: exps, diagnostics: [], sources: new Map() };
  }
  const r = checkFiles(file, { overrides });
  return { experiments: r.experiments, diagnostics: r.diagnostics, sources: r.sources };
}

/** `load`, and the refusal shared by every command that runs what it loads: the spec's errors, or
 *  a file that defines no experiment (E3021). `refused` is null when there is something to run. */
export function loadRunnable(file: string, overrides: readonly string[] = []): { checked: Checked; refused: Diagnostic[] | null } {
  const checked = load(file, overrides);
  const errors = checked.diagnostics.some((d) => d.severity === 'error');
  if (errors) return { checked, refused: checked.diagnostics };
  if (checked.experiments.length === 0) return { checked, refused: [diag('E3021', `\`${file}\` defines no experiment`, null)] };
  return { checked, refused: null };
}

export const buildCommand: CommandModule<object, BuildArgs> = {
  command: 'build <file>',
  describe: 'Compile an experiment into execution plans, a parameter/cost report and a lock file',
  builder: (y) => withSet(y)
    .positional('file', { type: 'string', demandOption: true, describe: '.medct spec (or a resolved experiment .json)' })
    .option('out', { type: 'string', default: 'build', describe: 'build folder (a sweep writes one sub-folder per variant)' })
    .option('json', { type: 'boolean', default: false, describe: 'print the report as JSON on stdout' })
    .option('backend', { type: 'string', choices: ['auto', 'cpu', 'webgpu', 'cuda', 'reference'], describe: 'override the experiment\'s backend (cpu: native C; reference: the TypeScript oracle)' })
    .option('onnx', { type: 'boolean', default: false, describe: 'also write model.onnx: the eval forward with the spec\'s weights, seeded init where it has none, LoRA unmerged' }) as never,
  handler: async (a) => {
    const fail = (diags: Diagnostic[], sources: ReadonlyMap<string, string> = new Map()): void => refuse(diags, sources, a);
    let checked: Checked;
    try {
      const r = loadRunnable(a.file, setArgs(a.set));
      checked = r.checked;
      if (r.refused) { fail(r.refused, checked.sources); return; }
    } catch (e) {
      if (e instanceof DiagnosticError) { fail(e.diagnostics); return; }
      throw e;
    }
    const exps = checked.experiments.map((e) => (a.backend ? { ...e, backend: a.backend } : e));
    let built;
    try {
      const baseDir = dirname(resolve(a.file));
      built = await buildAll(exps, a.out, { baseDir, sources: checked.sources, dataLock: (e) => dataLock(e.data, baseDir, { progress: a.json ? 'quiet' : 'auto' }), ...(a.onnx ? { extraFiles: await onnxFiles(baseDir) } : {}) });
    } catch (e) {
      if (e instanceof DiagnosticError) { fail(e.diagnostics, checked.sources); return; }
      throw e;
    }
    const warnings = [...checked.diagnostics, ...built.flatMap((b) => b.compiled.diagnostics)].filter((d) => d.severity !== 'error');
    if (warnings.length && !a.json) process.stderr.write(renderDiagnostics(warnings, checked.sources) + '\n');
    if (a.json) {
      const items = built.map((b) => ({ dir: b.dir, ...b.compiled.report }));
      const body = items.length === 1 ? { ok: true, ...items[0] } : { ok: true, variants: items };
      process.stdout.write(JSON.stringify({ ...body, warnings: diagnosticsToJson(warnings, checked.sources) }, null, 2) + '\n');
    } else {
      for (const b of built) process.stdout.write(`${renderReport(b.compiled.report)}\nwrote ${b.dir}\n`);
    }
  },
};

/** `--onnx`: the eval graph (1 volume, every prompt) exported with seeded weights (runtime/exec/init),
 *  replaced by the spec's weights file wherever it holds the tensor. Loaded only when asked for. */
async function onnxFiles(baseDir: string): Promise<(c: Compiled) => ReadonlyMap<string, Uint8Array>> {
  const [{ exportOnnx }, { withSafetensors }, { initWeights }] = await Promise.all([
    import('../../compiler/export/onnx/index.js'), import('../../runtime/io/safetensors.js'), import('../../runtime/exec/init.js'),
  ]);
  return (c) => {
    const g = c.graphs.eval, exp = c.experiment;
    const w = initWeights(g.tensors, exp.seed);
    if (exp.model.weights) {
      withSafetensors(resolve(baseDir, exp.model.weights), (f) => {
        for (const t of g.tensors) if (w.has(t.name) && f.has(t.name)) w.set(t.name, f.readF32(t.name));
      });
    }
    return new Map([['model.onnx', exportOnnx(g, w)]]);
  };
}
