// Wall time of the main job, `medctc run examples/quickstart.medct`, by phase (build, data, baseline
// evaluation, training, final evaluation), per backend. Runs runCompiled in-process (loaded through
// vite, which strips the types) so the executor can be chosen: `exec` = runtime/exec (what the CLI
// uses), `plan-runner` = test/train's independent plan runner (test/run/plan-runner-executor.ts,
// which runs the graphs the plans were lowered from).
// From the repository root:
//   node bench/run/quickstart.mjs [--backend auto|cpu|webgpu|cuda|reference] [--executor exec|plan-runner] [--spec FILE] [--epochs N] [--out DIR (kept)]
// Prints one JSON line with the phase times (seconds) and the train/eval sizes.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { createServer } from 'vite';

const args = process.argv.slice(2);
const opt = (name, def) => { const i = args.indexOf(`--${name}`); return i >= 0 ? args[i + 1] : def; };
const backend = opt('backend', 'auto');
const executor = opt('executor', 'exec');
const spec = opt('spec', 'examples/quickstart.medct');
const epochs = opt('epochs', null);

const vite = await createServer({ server: { middlewareMode: true, hmr: false }, appType: 'custom', logLevel: 'error', optimizeDeps: { noDiscovery: true, include: [] } });
const keep = opt('out', null);
const out = keep ?? mkdtempSync(join(tmpdir(), 'medctc-bench-quickstart-'));
try {
  const { checkFiles } = await vite.ssrLoadModule('/compiler/check/index.ts');
  const { compileExperiment } = await vite.ssrLoadModule('/compiler/build.ts');
  const { runCompiled } = await vite.ssrLoadModule('/runtime/run/index.ts');
  const { openDevice } = await vite.ssrLoadModule('/runtime/device/index.ts');
  const checked = checkFiles(spec);
  let exp = { ...checked.experiments[0], backend };
  if (epochs !== null) exp = { ...exp, train: { ...exp.train, epochs: Number(epochs) } };
  const c = compileExperiment(exp, checked.sources);
  const create = executor === 'plan-runner' ? (await vite.ssrLoadModule('/test/run/plan-runner-executor.ts')).PlanRunnerExecutor.over(c.graphs) : undefined;
  const device = await openDevice(backend);
  const t0 = performance.now();
  const r = await runCompiled(c, { outDir: out, baseDir: dirname(resolve(spec)), source: spec, progress: 'auto', device, createExecutor: create });
  const run = JSON.parse((await import('node:fs')).readFileSync(join(out, 'run.json'), 'utf8'));
  console.log(JSON.stringify({
    spec, backend, device: device.description, executor, total: (performance.now() - t0) / 1000, seconds: run.seconds,
    train: run.train && { steps: run.train.steps, batch: run.train.batchSize, volumes: run.data.train, firstLoss: run.train.firstLoss, lastLoss: run.train.lastLoss, firstEpochLoss: run.train.firstEpochLoss, lastEpochLoss: run.train.lastEpochLoss },
    eval: run.data.eval, meanAuroc: r.metrics && { before: r.metrics.baseline?.mean.auroc ?? null, after: r.metrics.final.mean.auroc },
  }));
} finally {
  await vite.close();
  if (!keep) rmSync(out, { recursive: true, force: true });
}
