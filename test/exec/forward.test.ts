// The whole tiny CT-CLIP eval plan on the executor: WebGPU (Dawn/llvmpipe) matches the CPU
// backend; the CPU result matches test/train's independent plan runner (host-side LoRA merge and
// glue ops); and a hand check of the head: logits = e^temperature · <image_latent, text_latent>
// with unit-norm latents.
import { beforeAll, describe, expect, it } from 'vitest';
import { CpuDevice } from '../../runtime/device/cpu/device.js';
import type { Executor } from '../../runtime/exec/index.js';
import { PlanRunnerExecutor } from '../run/plan-runner-executor.js';
import { compileExample } from './plans.js';
import { execFor, feedsFor, maxAbsDiff, weightsWithLora, useWebGpu } from './fixtures.js';

const c = compileExample('examples/quickstart.medct');
const plan = c.plans.eval, graph = c.graphs.eval;
const weights = weightsWithLora(graph, 11);
const feeds = feedsFor(plan, graph, 5);
const OUTS = ['image_latent', 'text_latent', 'logits'];

async function forward(ex: { loadWeights: Executor['loadWeights']; prepare(): Promise<void>; run: Executor['run']; output: Executor['output'] }, w = weights) {
  await ex.loadWeights({ seed: 11, tensors: w });
  await ex.prepare();
  await ex.run(feeds);
  return Object.fromEntries(await Promise.all(OUTS.map(async (n) => [n, await ex.output(n)] as const)));
}

const webgpu = useWebGpu();

describe('executor: ct_clip_tiny eval forward', () => {
  let cpuOut: Record<string, Float32Array>;
  beforeAll(async () => {
    const ex = await execFor(plan, new CpuDevice());
    cpuOut = await forward(ex);
    ex.destroy();
  }, 120_000);

  it('cpu matches the independent plan runner (host LoRA merge and glue ops)', async () => {
    const ref = await forward(new PlanRunnerExecutor(plan, graph, new CpuDevice()));
    for (const n of OUTS) expect(maxAbsDiff(cpuOut[n]!, ref[n]!), n).toBeLessThanOrEqual(1e-5);
  }, 120_000);

  it('webgpu matches cpu (max abs err <= 1e-4)', async () => {
    const ex = await execFor(plan, webgpu());
    const got = await forward(ex);
    ex.destroy();
    for (const n of OUTS) expect(maxAbsDiff(got[n]!, cpuOut[n]!), n).toBeLessThanOrEqual(1e-4);
  }, 120_000);

  it('the LoRA merge matters: B = 0 changes the text and image latents', async () => {
    const zeroB = new Map([...weights].map(([k, v]) => [k, k.endsWith('lora_B.weight') ? new Float32Array(v.length) : v]));
    const ex = await execFor(plan, new CpuDevice());
    const base = await forward(ex, zeroB);
    ex.destroy();
    expect(maxAbsDiff(base.text_latent!, cpuOut.text_latent!)).toBeGreaterThan(1e-3);
    expect(maxAbsDiff(base.image_latent!, cpuOut.image_latent!)).toBeGreaterThan(1e-3);
  }, 120_000);

  it('head by hand: unit latents, logits = e^temperature · <image, text>', () => {
    const img = cpuOut.image_latent!, txt = cpuOut.text_latent!, logits = cpuOut.logits!;
    const d = img.length, t = txt.length / d;
    const norm = (v: Float32Array) => Math.sqrt(v.reduce((a, x) => a + x * x, 0));
    expect(norm(img)).toBeCloseTo(1, 5);
    const scale = Math.exp(weights.get('temperature')![0]!);
    for (let j = 0; j < t; j++) {
      const row = txt.subarray(j * d, (j + 1) * d);
      expect(norm(row)).toBeCloseTo(1, 5);
      let dot = 0;
      for (let i = 0; i < d; i++) dot += img[i]! * row[i]!;
      expect(logits[j]!).toBeCloseTo(scale * dot, 5);
    }
  });

  it('rejects bad feeds with a clear message', async () => {
    const ex = await execFor(plan, new CpuDevice());
    await ex.loadWeights({ seed: 1 });
    await expect(ex.run({ ...feeds, volume: new Float32Array(3) })).rejects.toThrow(/feed volume: 3 values/);
    await expect(ex.run({ ...feeds, extra: new Float32Array(1) })).rejects.toThrow(/unknown feed extra/);
    const { input_ids: _, ...noIds } = feeds;
    await expect(ex.run(noIds)).rejects.toThrow(/missing feed input_ids/);
    ex.destroy();
  }, 60_000);
});
