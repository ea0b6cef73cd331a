// `medctc export --target pytorch FILE --out DIR`: the experiment as a self-contained PyTorch
// training and zero-shot evaluation program with its data bundle (runtime/export/pytorch.ts says
// what the folder holds). A sweep writes one sub-folder per variant, as `medctc build` does.
import { dirname, join, relative, resolve } from 'node:path';
import type { CommandModule } from 'yargs';
import { compileExperiment, variantFolder } from '../../compiler/build.js';
import { diag } from '../../base/diagnostics/catalog.js';
import { renderDiagnostics } from '../../base/diagnostics/render.js';
import { DiagnosticError, type Diagnostic } from '../../base/diagnostics/types.js';
import { exportPytorch, type PytorchExport } from '../../runtime/export/index.js';
import { loadRunnable } from './build.js';
import { setArgs, withSet } from '../overrides.js';
import { refuse } from '../failure.js';

interface ExportArgs { file: string; target: 'pytorch'; out: string; json: boolean; quiet: boolean; limit?: number; set?: string | string[] }

export const exportCommand: CommandModule<object, ExportArgs> = {
  command: 'export <file>',
  describe: 'Export an experiment to another engine: a self-contained PyTorch (DDP) training and evaluation program with its data',
  builder: (y) => withSet(y)
    .positional('file', { type: 'string', demandOption: true, describe: '.medct spec (or a resolved experiment .json)' })
    .option('target', { type: 'string', choices: ['pytorch'], demandOption: true, describe: 'the engine to export to' })
    .option('out', { type: 'string', demandOption: true, describe: 'export folder (a sweep gets one sub-folder per variant)' })
    .option('limit', { type: 'number', describe: 'use at most N volumes per split (overrides data.limit)' })
    .option('json', { type: 'boolean', default: false, describe: 'print what was written as JSON on stdout' })
    .option('quiet', { type: 'boolean', default: false, describe: 'no progress output' }) as never,
  handler: async (a) => {
    let sources = new Map<string, string>();
    const fail = (diags: Diagnostic[]): void => refuse(diags, sources, a);
    if (a.limit !== undefined && (!Number.isInteger(a.limit) || a.limit < 1)) {
      fail([diag('E0001', `--limit must be a positive integer, got ${a.limit}`, null, { help: 'run `medctc export --help`' })]);
      return;
    }
    const done: PytorchExport[] = [];
    try {
      const { checked, refused } = loadRunnable(a.file, setArgs(a.set));
      sources = checked.sources;
      if (refused) { fail(refused); return; }
      const exps = checked.experiments.map((e) => (a.limit === undefined ? e : { ...e, data: { ...e.data, limit: a.limit } }));
      const nested = exps.length > 1 || exps.some((e) => e.variant !== null);
      const baseDir = dirname(resolve(a.file));
      const compiled = exps.map((e) => compileExperiment(e, sources));
      const warnings = [...checked.diagnostics, ...compiled.flatMap((c) => c.diagnostics)].filter((d) => d.severity !== 'error');
      if (warnings.length && !a.json && !a.quiet) process.stderr.write(renderDiagnostics(warnings, sources) + '\n');
      for (const c of compiled) {
        const dir = nested ? join(a.out, variantFolder(c.experiment)) : a.out;
        done.push(await exportPytorch(c, dir, { baseDir, sources, progress: a.json ? 'json' : a.quiet ? 'quiet' : 'auto' }));
      }
    } catch (e) {
      if (e instanceof DiagnosticError) { fail(e.diagnostics); return; }
      throw e;
    }
    if (a.json) {
      const items = done.map((d) => ({ dir: d.dir, files: d.files, trainable: d.trainable, volumes: d.volumes }));
      process.stdout.write(JSON.stringify(items.length === 1 ? { ok: true, ...items[0] } : { ok: true, variants: items }, null, 2) + '\n');
      return;
    }
    for (const d of done) {
      const shown = relative(process.cwd(), d.dir) || '.';
      process.stdout.write(`wrote ${shown}: train.py, experiment.json, adapter_config.json, build/ (lock), data/ (${d.volumes.train} train / ${d.volumes.eval} eval volumes); ${d.trainable.toLocaleString('en-US')} trainable parameters\n`
        + `  run: python3 ${join(shown, 'train.py')}   (or torchrun --nproc_per_node N ${join(shown, 'train.py')}; see ${join(shown, 'README.md')})\n`);
    }
  },
};
