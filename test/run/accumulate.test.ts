// Gradient accumulation (`train { batch B  accumulate N }`): a step of N micro-batches of B is a
// step on their mean gradient, which for the pair losses (they average over rows) is the gradient
// of one batch of N x B. Checked on the real executor (native CPU backend): each step's loss and
// gradient norm, and the adapter after a few steps, equal those trained with `batch N x B` up to
// f32 rounding, while training with `batch B` alone (other steps, other gradients) ends far from
// it; the train plan and the build report's memory are those of the micro-batch.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { compileExperiment } from '../../compiler/build.js';
import { checkFiles } from '../../compiler/check/index.js';
import { renderReport } from '../../compiler/report/render.js';
import { readAdapter } from '../../runtime/adapter/index.js';
import { openDevice, type Device } from '../../runtime/device/index.js';
import { runCompiled } from '../../runtime/run/index.js';
import { smallSpec, tempDir, type SmallSpec } from './helpers.js';

function compiled(dir: string, o: SmallSpec) {
  const file = smallSpec(dir, o);
  const { experiments, diagnostics } = checkFiles(file);
  expect(diagnostics.filter((d) => d.severity === 'error')).toEqual([]);
  return { file, c: compileExperiment(experiments[0]!) };
}

/** Trains (no evaluation) and returns every adapter tensor, flattened in a fixed order, with the log. */
async function train(dir: string, o: SmallSpec) {
  const { file, c } = compiled(dir, o);
  const out = join(dir, 'out');
  device ??= await openDevice('cpu');
  const r = await runCompiled(c, { outDir: out, baseDir: join(file, '..'), source: file, progress: 'quiet', device, evaluate: false });
  const log = readFileSync(join(out, 'train_log.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { loss: number; gradNorm: number });
  const a = readAdapter(join(out, 'adapter'));
  const values = a.modules.flatMap((m) => [...m.A, ...m.B]).concat(a.saved.flatMap((s) => Object.keys(s.params).sort().flatMap((k) => [...s.params[k]!.data])));
  return { c, r, log, values: Float64Array.from(values) };
}

let device: Device | undefined;

const maxDiff = (a: Float64Array, b: Float64Array): number => a.reduce((m, x, i) => Math.max(m, Math.abs(x - b[i]!)), 0);

describe('gradient accumulation', () => {
  // 10 volumes: 8 train; no dropout (its masks are drawn per executor run, so they differ by
  // design), constant lr, no warmup: every step moves the weights. AdamW's eps 1e-3, well above
  // the gradients' elements (|g| <~ 1e-4 here), keeps its update ~ lr·m/eps linear in the
  // gradient, so the weights show the gradients' rounding. With the default 1e-8 the update is
  // ~ lr·sign(g) for the many elements whose gradient is near 0, and a rounding-sized change in such
  // a g moves the weight by up to lr: 4 steps then differ by ~1.7% of the movement (measured), by
  // Adam's amplification rather than by anything accumulation does.
  const common: SmallSpec = { volumes: 10, pathologies: 3, epochs: 2, dropout: 0, schedule: 'constant', warmup: 0, lr: 1e-3, eps: 1e-3 };

  it('2 micro-batches of 2 train as one batch of 4, up to f32 rounding', async () => {
    const big = await train(tempDir('acc-big'), { ...common, batch: 4 });
    const acc = await train(tempDir('acc-micro'), { ...common, batch: 2, accumulate: 2 });
    const small = await train(tempDir('acc-small'), { ...common, batch: 2 });
    const init = await train(tempDir('acc-init'), { ...common, batch: 4, lr: 1e-30 });
    // Same optimizer steps: 8 train volumes / 4 per step x 2 epochs.
    expect(big.r.train!.steps).toBe(4);
    expect(acc.r.train!.steps).toBe(4);
    expect(small.r.train!.steps).toBe(8);
    // Tolerances: the two runs add the same per-row gradient terms in another order (the big batch
    // sums 4 rows inside each backward GEMM; accumulation sums 2 + 2 on the host, then halves), a
    // few f32 ulps (~1e-7 relative) per gradient element, compounded over 4 steps.
    // Loss of the step (mean of the micro-batch losses vs the 4-row mean): measured <= 1.2e-7 relative.
    // Gradient norm (float64 sum over f32 gradients): measured <= 2.3e-6 relative.
    for (let i = 0; i < 4; i++) {
      expect(Math.abs(acc.log[i]!.loss - big.log[i]!.loss), `loss at step ${i + 1}`).toBeLessThanOrEqual(1e-6 * big.log[i]!.loss);
      expect(Math.abs(acc.log[i]!.gradNorm - big.log[i]!.gradNorm), `gradNorm at step ${i + 1}`).toBeLessThanOrEqual(1e-5 * big.log[i]!.gradNorm);
    }
    // Weights: measured max |acc - big| 2.2e-8 (about one ulp of a weight near 0.1) for a movement
    // of 1.3e-3 (1.7e-5 of it); bounded by 1e-4 of the movement. Training with batch 2 alone
    // differs by about the whole movement.
    const moved = maxDiff(big.values, init.values);
    const accErr = maxDiff(acc.values, big.values);
    const smallErr = maxDiff(small.values, big.values);
    expect(moved).toBeGreaterThan(1e-4);
    expect(accErr, `accumulated vs big batch: ${accErr}, movement ${moved}`).toBeLessThanOrEqual(1e-4 * moved);
    expect(smallErr, `batch 2 vs batch 4: ${smallErr}`).toBeGreaterThan(0.1 * moved);
  }, 300_000);

  it('plans and reports the micro-batch memory', () => {
    const dir = tempDir('acc-plan');
    const micro = compiled(dir, { ...common, batch: 2, accumulate: 2 }).c;
    const plain = compiled(dir, { ...common, batch: 2 }).c;
    const big = compiled(dir, { ...common, batch: 4 }).c;
    expect(micro.plans.train!.batch.images).toBe(2);
    expect(micro.plans.train!.memory).toEqual(plain.plans.train!.memory);
    expect(micro.report.memory.activations.train!.peakBytes).toBeLessThan(big.report.memory.activations.train!.peakBytes);
    expect(micro.report.memory.accumulation).toEqual({ microBatches: 2, microBatch: 2, stepBatch: 4, hostGradientBytes: micro.report.memory.gradientBytes });
    expect(plain.report.memory.accumulation).toBeUndefined();
    const md = renderReport(micro.report);
    expect(md).toContain('activations, train (micro-batch of 2): planned peak');
    expect(md).toContain('2 micro-batches of 2 per optimizer step (4 volumes a step)');
  });
});
