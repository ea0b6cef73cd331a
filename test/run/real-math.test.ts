// runCompiled with real model math: the quickstart model on synthetic data, run by test/train's
// independent plan runner (PlanRunnerExecutor) on the CPU backend. Checks what only real math
// shows: the feeds' layout trains the model (loss falls on a set it can overfit), B = 0 adapters
// evaluate as the base model, an adapter read back from disk evaluates exactly as trained, and
// the same seed gives the same bytes.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { compileExperiment } from '../../compiler/build.js';
import { checkFiles } from '../../compiler/check/index.js';
import { readAdapter } from '../../runtime/adapter/index.js';
import { CpuDevice } from '../../runtime/device/index.js';
import { adapterTensorsFor, runCompiled, validateMetrics, type RunOptions } from '../../runtime/run/index.js';
import { smallSpec, tempDir, type SmallSpec } from './helpers.js';
import { PlanRunnerExecutor } from './plan-runner-executor.js';

function compiled(dir: string, o: SmallSpec) {
  const file = smallSpec(dir, o);
  const { experiments, diagnostics } = checkFiles(file);
  expect(diagnostics.filter((d) => d.severity === 'error')).toEqual([]);
  return { file, c: compileExperiment(experiments[0]!) };
}

const run = (c: ReturnType<typeof compileExperiment>, file: string, out: string, o: Partial<RunOptions> = {}) =>
  runCompiled(c, { outDir: out, baseDir: join(file, '..'), source: file, progress: 'quiet', device: new CpuDevice(), createExecutor: PlanRunnerExecutor.over(c.graphs), ...o });

const lines = (f: string) => readFileSync(f, 'utf8').trim().split('\n');
const losses = (out: string) => lines(join(out, 'train_log.jsonl')).map((l) => (JSON.parse(l) as { loss: number }).loss);

describe('runCompiled on the plan runner (cpu)', () => {
  it('trains and evaluates: finite loss, valid metrics, B = 0 baseline equals the base model, reproducible bytes', async () => {
    const dir = tempDir('real-run');
    // 6 volumes: 5 train (2 steps of 2 per epoch), 1 eval; 3 pathologies keep the text batch small.
    const { file, c } = compiled(dir, { volumes: 6, pathologies: 3, batch: 2, epochs: 1, baseline: true, warmup: 0, lr: 0.01 });
    const out1 = join(dir, 'a'), out2 = join(dir, 'b'), base = join(dir, 'base'), again = join(dir, 'again');
    const r = await run(c, file, out1);
    expect(r.train!.steps).toBe(2);
    for (const l of losses(out1)) expect(Number.isFinite(l) && l > 0).toBe(true);
    const metrics = JSON.parse(readFileSync(join(out1, 'metrics.json'), 'utf8'));
    expect(validateMetrics(metrics)).toEqual([]);
    // Evaluating with no adapter at all gives the baseline's scores: lora_B starts at zero.
    await run(c, file, base, { train: false });
    expect(readFileSync(join(base, 'scores.csv'), 'utf8')).toBe(readFileSync(join(out1, 'scores.baseline.csv'), 'utf8'));
    // Training moved the scores.
    expect(readFileSync(join(out1, 'scores.csv'), 'utf8')).not.toBe(readFileSync(join(out1, 'scores.baseline.csv'), 'utf8'));
    // The adapter as written, read back and evaluated, gives the run's final scores.
    const ad = join(out1, 'adapter');
    await run(c, file, again, { train: false, adapter: { tensors: adapterTensorsFor(c.plans.eval.model, readAdapter(ad), ad), from: ad } });
    expect(readFileSync(join(again, 'scores.csv'), 'utf8')).toBe(readFileSync(join(out1, 'scores.csv'), 'utf8'));
    // Same seed, same bytes.
    await run(c, file, out2);
    for (const f of ['adapter/adapter_model.safetensors', 'scores.csv', 'metrics.json']) {
      expect(readFileSync(join(out2, f)).equals(readFileSync(join(out1, f))), f).toBe(true);
    }
    expect(losses(out2)).toEqual(losses(out1));
  });

  it('lowers the loss on a batch it can overfit', async () => {
    const dir = tempDir('real-overfit');
    // 3 volumes: 2 train = one batch every step; constant lr, no dropout.
    const { file, c } = compiled(dir, { volumes: 3, pathologies: 3, batch: 2, epochs: 6, lr: 0.01, dropout: 0, schedule: 'constant', warmup: 0 });
    const out = join(dir, 'out');
    await run(c, file, out, { evaluate: false });
    const l = losses(out);
    expect(l).toHaveLength(6);
    expect(l.at(-1)!).toBeLessThan(l[0]! * 0.9);
  });
});
