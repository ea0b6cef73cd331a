// A whole ct_clip_tiny train step (forward, backward, grad_clip, AdamW; LoRA dropout 0.05 so the
// recomputed masks are exercised, max grad norm 1e-3 so clipping really scales) on WebGPU (generated WGSL on Dawn/llvmpipe) agrees with the CPU
// reference backend, and CPU training with a fixed seed is bit-reproducible.
//
// WebGPU vs CPU tolerance: per tensor, max |gpu - cpu| <= 1e-4 · max |cpu|. The GPU accumulates in
// f32 in another order than the f64-accumulating reference across ~200 kernels; measured
// differences are <= 5e-6 relative. AdamW's first step divides g by |g| + eps, so a parameter's
// update is compared at the same 1e-4 of the tensor's scale.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import type { Device } from '../../runtime/device/types.js';
import { CpuDevice } from '../../runtime/device/cpu/device.js';
import { openWebGpu } from '../../runtime/device/webgpu/device.js';
import type { Plan } from '../../compiler/plan/types.js';
import { PlanRunner } from './harness.js';
import { tinyTrain, feeds, weights } from './setup.js';

let gpu: Device;
beforeAll(async () => {
  const d = await openWebGpu();
  if ('reason' in d) throw new Error(`WebGPU is required for these tests (CI installs Mesa): ${d.reason}`);
  gpu = d;
}, 60_000);
afterAll(() => gpu?.destroy());

const PHASES = ['forward', 'backward', 'optimizer'] as const;

/** Runs `steps` train steps from the same weights and feeds; returns every state buffer and the loss. */
async function train(plan: Plan, graph: Parameters<typeof weights>[0], device: Device, steps: number): Promise<Map<string, Float32Array>> {
  const run = new PlanRunner(plan, graph, device);
  await run.load(weights(graph, 7));
  const out = new Map<string, Float32Array>();
  for (let s = 1; s <= steps; s++) {
    await run.run(feeds(plan, s), { dropoutSeed: 1000 + s, adamStep: s, lr: 1e-3 * s }, [...PHASES]);
    out.set(`loss@${s}`, await run.read(plan.outputs.loss!));
  }
  for (const b of plan.buffers) if (b.kind === 'param_grad' || b.kind === 'optimizer' || (b.kind === 'weight' && plan.kernels.at(-1)!.outputs.includes(b.id))) out.set(b.name, await run.read(b.id));
  return out;
}

describe('ct_clip_tiny train step', () => {
  const { plan, graph } = tinyTrain({ dropout: 0.05, gradClip: 1e-3 });

  it('WebGPU matches the CPU reference (loss, clipped grads, AdamW moments, updated LoRA weights)', async () => {
    const want = await train(plan, graph, new CpuDevice(), 1);
    const got = await train(plan, graph, gpu, 1);
    expect(want.size).toBeGreaterThan(4 * 28);
    for (const [name, w] of want) {
      const g = got.get(name)!;
      let scale = 0, diff = 0;
      for (let i = 0; i < w.length; i++) { scale = Math.max(scale, Math.abs(w[i]!)); diff = Math.max(diff, Math.abs(g[i]! - w[i]!)); }
      expect(scale, `${name} is all zero`).toBeGreaterThan(0);
      if (process.env.FD_DEBUG) console.log(name, diff / scale);
      if (!(diff <= 1e-4 * scale)) expect.fail(`${name}: max |webgpu - cpu| = ${diff}, scale ${scale}`);
    }
  }, 600_000);

  it('CPU training is bit-reproducible and moves the weights', async () => {
    const a = await train(plan, graph, new CpuDevice(), 2);
    const b = await train(plan, graph, new CpuDevice(), 2);
    const init = weights(graph, 7);
    let moved = 0;
    for (const [name, x] of a) {
      expect(Buffer.from(b.get(name)!.buffer).equals(Buffer.from(x.buffer)), name).toBe(true);
      const w0 = init.get(name);
      if (w0 && w0.some((v, i) => v !== x[i])) moved++;
    }
    // 14 adapted linears x (lora_A, lora_B) + the two latent heads in modules_to_save.
    expect(moved).toBe(14 * 2 + 2);
  }, 600_000);
});

describe('training', () => {
  it('fits one batch: 12 AdamW steps on WebGPU lower the loss by more than half', async () => {
    const { plan, graph } = tinyTrain({ dropout: 0, gradClip: 1 });
    const run = new PlanRunner(plan, graph, gpu);
    await run.load(weights(graph, 7));
    const f = feeds(plan, 3);
    const losses: number[] = [];
    for (let s = 1; s <= 12; s++) {
      await run.run(f, { adamStep: s, lr: 1e-2 }, [...PHASES]);
      losses.push((await run.read(plan.outputs.loss!))[0]!);
    }
    // The loss read after step s is the forward of step s (before its update).
    if (process.env.FD_DEBUG) console.log(losses);
    expect(losses.at(-1)!, losses.map((l) => l.toFixed(4)).join(' ')).toBeLessThan(0.5 * losses[0]!);
  }, 600_000);
});

describe('grad_clip in the plan', () => {
  it('scales the LoRA gradients to the max norm (global L2 over every trainable tensor)', async () => {
    const { plan, graph } = tinyTrain({ dropout: 0, gradClip: 1e-3 });
    const run = new PlanRunner(plan, graph, new CpuDevice());
    await run.load(weights(graph, 7));
    await run.run(feeds(plan, 1), { adamStep: 1, lr: 0 }, [...PHASES]);
    let sq = 0;
    for (const b of plan.buffers.filter((x) => x.kind === 'param_grad')) for (const v of await run.read(b.id)) sq += v * v;
    expect(Math.sqrt(sq)).toBeCloseTo(1e-3, 6);
  }, 600_000);
});
