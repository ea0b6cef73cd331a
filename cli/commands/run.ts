// `medctc run FILE|BUILD_DIR`: build (a spec file), train and evaluate an experiment into a run
// folder (see runtime/run/run.ts for what the folder holds). A build folder runs as it was
// written, without the spec and without recompiling. `medctc train` and `medctc evaluate` are the
// same pipeline with one half left out; this file holds the plumbing the three share.
import { dirname, join, relative, resolve } from 'node:path';
import type { Argv, CommandModule } from 'yargs';
import { compileExperiment, variantFolder } from '../../compiler/build.js';
import { diag } from '../../base/diagnostics/catalog.js';
import { diagnosticsToJson, renderDiagnostics } from '../../base/diagnostics/render.js';
import { DiagnosticError, type Diagnostic } from '../../base/diagnostics/types.js';
import type { BackendName, ResolvedExperiment } from '../../compiler/ir/experiment.js';
import { renderTable } from '../../runtime/eval/index.js';
import { comparisonTable, ensureOutputDir, lossSentence, fileAt, runBuilt, runCompiled, specAt, type RunOptions, type RunResult } from '../../runtime/run/index.js';
import { isBuildFolder, readBuild, type BuiltExperiment } from '../../runtime/run/build-dir.js';
import type { PlanModel } from '../../compiler/plan/types.js';
import { loadRunnable } from './build.js';
import { SET_OPTION, setArgs } from '../overrides.js';
import { assertSweepSummaryReplaceable, writeRunReport, writeSweepSummary } from '../report/index.js';
import { refuse } from '../failure.js';

export interface PipelineArgs {
  file: string;
  out?: string;
  backend?: BackendName;
  json: boolean;
  quiet: boolean;
  epochs?: number;
  limit?: number;
  baseline?: boolean;
  /** `--resume DIR`: continue the run in DIR from its training checkpoint (DIR is also the run folder). */
  resume?: string;
  /** `--set PATH=VALUE` (one string, or several). */
  set?: string | string[];
}

/** Options every pipeline command takes. */
export function pipelineOptions<T>(y: Argv<T>, what: { train: boolean }): Argv<T> {
  let a = y
    .positional('file', { type: 'string', demandOption: true, describe: '.medct spec (or a resolved experiment .json), or a build folder (`medctc build --out DIR`)' })
    .option('out', { type: 'string', describe: 'run folder (default: the spec\'s outputs.dir; a sweep gets one sub-folder per variant)' })
    .option('backend', { type: 'string', choices: ['auto', 'cpu', 'webgpu', 'cuda', 'reference'], describe: 'override the experiment\'s backend (cpu: native C; reference: the TypeScript oracle)' })
    .option('json', { type: 'boolean', default: false, describe: 'summary as JSON on stdout, progress as JSON lines on stderr' })
    .option('quiet', { type: 'boolean', default: false, describe: 'no progress output' })
    .option('limit', { type: 'number', describe: 'use at most N volumes per split (overrides data.limit)' })
    .option('set', SET_OPTION);
  if (what.train) {
    a = a
      .option('epochs', { type: 'number', describe: 'override train.epochs' })
      .option('baseline', { type: 'boolean', describe: 'evaluate before training too (default: the spec\'s evaluate.baseline)' })
      .option('resume', { type: 'string', describe: 'continue the run in DIR from its checkpoint (train.checkpoint_every); DIR is the run folder, with the same spec and options' });
  }
  return a as Argv<T>;
}

/** A bad option value, reported as the CLI reports usage errors (E0001, exit 2). */
function badOption(a: PipelineArgs): string | null {
  for (const name of ['epochs', 'limit'] as const) {
    const v = a[name];
    if (v !== undefined && (!Number.isInteger(v) || v < 1)) return `--${name} must be a positive integer, got ${v}`;
  }
  if (a.resume !== undefined && a.out !== undefined && resolve(a.out) !== resolve(a.resume)) return `--resume ${a.resume} continues the run in that folder; --out ${a.out} names another`;
  return null;
}

function applyOverrides(e: ResolvedExperiment, a: PipelineArgs): { exp: ResolvedExperiment; overrides: Record<string, unknown> } {
  const overrides: Record<string, unknown> = {};
  let exp = e;
  if (a.backend) { exp = { ...exp, backend: a.backend }; overrides.backend = a.backend; }
  if (a.limit !== undefined) { exp = { ...exp, data: { ...exp.data, limit: a.limit } }; overrides.limit = a.limit; }
  if (a.epochs !== undefined && exp.train) { exp = { ...exp, train: { ...exp.train, epochs: a.epochs } }; overrides.epochs = a.epochs; }
  if (a.baseline !== undefined) overrides.baseline = a.baseline;
  if (setArgs(a.set).length) overrides.set = setArgs(a.set);
  return { exp, overrides };
}

/** Checks, compiles and runs every experiment of `a.file`; prints the results. Exit 2 on a user error. */
export async function runPipeline(a: PipelineArgs, mode: Pick<RunOptions, 'train' | 'evaluate'> & {
  /** The adapter to evaluate with, checked against the eval plan's model. */
  adapterFor?: (model: PlanModel) => RunOptions['adapter'];
  defaultSub?: string;
}): Promise<void> {
  let sources = new Map<string, string>();
  const fail = (diags: Diagnostic[]): void => refuse(diags, sources, a);
  const bad = badOption(a);
  if (bad) {
    fail([diag('E0001', bad, null, { help: 'run `medctc --help`' })]);
    return;
  }
  try {
    if (isBuildFolder(a.file)) {
      const r = await runBuildFolder(a, mode);
      if (!r) return;
      if (a.json) process.stdout.write(JSON.stringify({ ok: true, ...resultJson(r) }, null, 2) + '\n');
      else printResult(r);
      return;
    }
    const { checked, refused } = loadRunnable(a.file, setArgs(a.set));
    sources = checked.sources;
    if (refused) { fail(refused); return; }
    const warnings = checked.diagnostics.filter((d) => d.severity !== 'error');
    if (warnings.length && !a.json) process.stderr.write(renderDiagnostics(warnings, sources) + '\n');
    const baseDir = dirname(resolve(a.file));
    const out = a.resume ?? a.out;
    const rootOf = (e: ResolvedExperiment) => (out ? resolve(out) : resolve(baseDir, e.outputs.dir, mode.defaultSub ?? ''));
    // Experiments (sweep variants) that would share a folder get one sub-folder each.
    const sharing = new Map<string, number>();
    for (const e of checked.experiments) sharing.set(rootOf(e), (sharing.get(rootOf(e)) ?? 0) + 1);
    const nestedIn = (e: ResolvedExperiment, root: string): boolean => sharing.get(root)! > 1 || (!!out && e.variant !== null);
    const results: RunResult[] = [];
    // Sweep folders (root -> variant folder names, in run order) get a summary after their runs.
    const sweeps = new Map<string, string[]>();
    // A foreign sweep.md / sweep.json in a sweep's folder is refused before any variant runs.
    for (const e of checked.experiments) if (nestedIn(e, rootOf(e))) assertSweepSummaryReplaceable(rootOf(e));
    for (const e of checked.experiments) {
      const { exp, overrides } = applyOverrides(e, a);
      const compiled = compileExperiment(exp, sources);
      const root = rootOf(e);
      const nested = nestedIn(e, root);
      const outDir = nested ? join(root, variantFolder(exp)) : root;
      if (nested) sweeps.set(root, [...(sweeps.get(root) ?? []), variantFolder(exp)]);
      ensureOutputDir(outDir, specAt(exp, sources, a.file));
      const r = await runCompiled(compiled, {
        outDir, baseDir, source: a.file, sources, progress: a.quiet ? 'quiet' : a.json ? 'json' : 'auto',
        train: mode.train, evaluate: mode.evaluate, baseline: a.baseline, overrides,
        adapter: mode.adapterFor?.(compiled.plans.eval.model), finish: writeReport,
        // A sweep's variants that had not started when it stopped have no checkpoint: they start.
        ...(a.resume ? { resume: nested ? 'optional' as const : 'required' as const } : {}),
      });
      results.push(r);
      if (!a.json) printResult(r);
    }
    const summaries: string[] = [];
    for (const [root, folders] of sweeps) {
      const { files } = writeSweepSummary(root, folders);
      summaries.push(...files);
      if (!a.json) process.stdout.write(`sweep summary: ${files.map((f) => relative(process.cwd(), f) || f).join(', ')}\n`);
    }
    if (a.json) {
      const items = results.map(resultJson);
      // The spec's warnings, which text mode prints before the run, as `medctc build --json` gives them.
      const warned = { warnings: diagnosticsToJson(warnings, sources) };
      process.stdout.write(JSON.stringify(items.length === 1 && summaries.length === 0 ? { ok: true, ...items[0], ...warned } : { ok: true, variants: items, sweep: summaries, ...warned }, null, 2) + '\n');
    }
  } catch (e) {
    if (e instanceof DiagnosticError) { fail(e.diagnostics); return; }
    throw e;
  }
}

/** The report is written into the run's staging folder, so it moves into place with the results. */
const writeReport = (dir: string): void => { writeRunReport(dir); };

const resultJson = (r: RunResult) => ({
  dir: r.dir, experiment: r.experiment, device: r.device, seconds: r.seconds, train: r.train,
  baseline: r.metrics?.baseline?.mean ?? null, final: r.metrics?.final.mean ?? null,
  report: join(r.dir, 'report.html'),
});

/** Runs an existing build folder: only options that leave the program unchanged apply. */
async function runBuildFolder(a: PipelineArgs, mode: Parameters<typeof runPipeline>[1]): Promise<RunResult | null> {
  const changes = (['epochs', 'limit', 'set'] as const).filter((k) => a[k] !== undefined);
  if (changes.length) {
    // Thrown, so that runPipeline reports it as every other diagnostic (JSON on stdout with --json).
    throw new DiagnosticError(diag('E0001', `--${changes[0]} changes the experiment, and a build folder runs as it was built`, null, { help: 'rebuild with the change in the spec, or run the spec file itself' }));
  }
  const b: BuiltExperiment = readBuild(a.file);
  const overrides: Record<string, unknown> = {};
  let built = b;
  if (a.backend) { built = { ...b, experiment: { ...b.experiment, backend: a.backend } }; overrides.backend = a.backend; }
  if (a.baseline !== undefined) overrides.baseline = a.baseline;
  const out = a.resume ?? a.out;
  const outDir = out ? resolve(out) : mode.defaultSub ? join(b.dir, mode.defaultSub) : b.dir;
  ensureOutputDir(outDir, fileAt(out ?? a.file));
  return runBuilt(built, {
    outDir, source: a.file, progress: a.quiet ? 'quiet' : a.json ? 'json' : 'auto',
    train: mode.train, evaluate: mode.evaluate, baseline: a.baseline, overrides,
    adapter: mode.adapterFor?.(b.plans.eval.model), finish: writeReport,
    ...(a.resume ? { resume: 'required' as const } : {}),
  });
}

function printResult(r: RunResult): void {
  const out: string[] = [];
  if (r.metrics) {
    out.push('', renderTable(r.metrics.final, { metrics: r.metrics.metrics }));
    const cmp = comparisonTable(r.metrics);
    if (cmp) out.push(cmp);
  }
  if (r.train) out.push(`trained ${r.train.steps} steps: ${lossSentence(r.train)}`);
  out.push(`wrote ${r.dir} in ${r.seconds.toFixed(1)} s (${r.device}); report: ${join(r.dir, 'report.html')}`);
  process.stdout.write(out.join('\n') + '\n');
}

export const runCommand: CommandModule<object, PipelineArgs> = {
  command: 'run <file>',
  describe: 'Build, train and evaluate an experiment: adapter (PEFT), metrics, scores, logs',
  builder: (y) => pipelineOptions(y, { train: true }) as never,
  handler: (a) => runPipeline(a, {}),
};
