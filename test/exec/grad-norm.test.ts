// The executor's gradient norm (what train_log.jsonl records as gradNorm): the global L2 norm of
// the step's parameter gradients before grad_clip scales them, as torch's clip_grad_norm_ returns.
// Checked against the gradients read back from the device after an unclipped step, and against the
// same step with a clip far below the norm (the recorded norm is the same; the gradients the
// optimizer saw are scaled to the clip).
import { describe, expect, it } from 'vitest';
import { CpuDevice } from '../../runtime/device/cpu/device.js';
import type { Plan } from '../../compiler/plan/types.js';
import { tinyTrain, feeds, weights } from '../train/setup.js';
import { execFor } from './fixtures.js';

const norm = (xs: Float32Array[]): number => Math.sqrt(xs.reduce((s, g) => s + g.reduce((a, v) => a + v * v, 0), 0));

async function step(plan: Plan, graph: Parameters<typeof weights>[0]) {
  const ex = await execFor(plan, new CpuDevice());
  try {
    await ex.loadWeights({ seed: 7, tensors: weights(graph, 7) });
    await ex.run(feeds(plan, 3), { dropoutSeed: 11, adamStep: 1, lr: 1e-3 }, { gradNorm: true });
    const grads = await Promise.all(plan.buffers.filter((b) => b.kind === 'param_grad').map((b) => ex.readTensor(b.name)));
    return { gradNorm: ex.gradNorm(), after: norm(grads), tensors: grads.length };
  } finally {
    ex.destroy();
  }
}

describe('executor gradNorm', () => {
  it('is the pre-clip global norm of every trainable gradient', async () => {
    const free = tinyTrain({ gradClip: null, pathologies: 2 });
    const clipped = tinyTrain({ gradClip: 1e-4, pathologies: 2 });
    const a = await step(free.plan, free.graph);
    // 14 adapted linears (A and B) and the two latent heads (modules_to_save: weight only).
    expect(a.tensors).toBe(14 * 2 + 2);
    expect(a.gradNorm).not.toBeNull();
    expect(a.gradNorm!).toBeGreaterThan(1e-3);
    // Unclipped: the gradients left on the device after the step are the ones it measured.
    expect(Math.abs(a.gradNorm! - a.after)).toBeLessThanOrEqual(1e-9 * a.after);
    const b = await step(clipped.plan, clipped.graph);
    expect(b.gradNorm).toBe(a.gradNorm);
    // The optimizer saw gradients scaled to the clip: their norm is 1e-4, not what was recorded.
    expect(b.after).toBeCloseTo(1e-4, 8);
  }, 300_000);
});
