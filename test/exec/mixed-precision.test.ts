// precision bf16 / fp16 end to end on the quickstart's tiny CT-CLIP: the plans store the frozen
// base weights and the activations in 16 bits (memory plan), the reference and the native C
// backend agree on a train step and an eval forward, and both stay within the documented
// tolerance of the fp32 plans (spec/compiler.md "Mixed precision").
import { beforeAll, describe, expect, it } from 'vitest';
import { compileExperiment } from '../../compiler/build.js';
import { checkFiles } from '../../compiler/check/index.js';
import type { Plan } from '../../compiler/plan/types.js';
import { CpuDevice } from '../../runtime/device/cpu/device.js';
import { openNative } from '../../runtime/device/native/device.js';
import type { Device } from '../../runtime/device/types.js';
import { execFor, feedsFor, maxAbsDiff, weightsWithLora } from './fixtures.js';
import { roundHalf } from '../../runtime/util/half.js';

function compileWith(precision: 'fp32' | 'bf16' | 'fp16') {
  const { experiments, diagnostics } = checkFiles('examples/quickstart.medct');
  if (diagnostics.some((d) => d.severity === 'error')) throw new Error('quickstart does not check');
  const exp = experiments[0]!;
  return compileExperiment({ ...exp, train: { ...exp.train!, precision } });
}

const fp32 = compileWith('fp32');
const bf16 = compileWith('bf16');
const fp16 = compileWith('fp16');
const graph = fp32.graphs.train!;
const weights = weightsWithLora(graph, 21);
const trainFeeds = feedsFor(fp32.plans.train!, graph, 4);
const evalFeeds = feedsFor(fp32.plans.eval, fp32.graphs.eval, 5);
const scalars = { dropoutSeed: 99, adamStep: 1, lr: 1e-3 };
const probe = graph.tensors.find((t) => t.name.endsWith('attention.self.query.lora_A.weight'))!.name;

async function trainStep(plan: Plan, device: Device) {
  const ex = await execFor(plan, device);
  await ex.loadWeights({ seed: 21, tensors: weights });
  await ex.run(trainFeeds, scalars);
  const grads = plan.buffers.filter((b) => b.kind === 'param_grad').map((b) => b.name).sort();
  const g: number[] = [];
  for (const n of grads) g.push(...await ex.readTensor(n));
  const out = { loss: await ex.output('loss'), a: await ex.readTensor(probe), grads: Float32Array.from(g) };
  ex.destroy();
  return out;
}

/** ‖a − b‖ / ‖b‖. */
const relL2 = (a: Float32Array, b: Float32Array): number => {
  let d = 0, n = 0;
  for (let i = 0; i < b.length; i++) { d += (a[i]! - b[i]!) ** 2; n += b[i]! ** 2; }
  return Math.sqrt(d / n);
};

async function evalForward(plan: Plan, device: Device) {
  const ex = await execFor(plan, device);
  await ex.loadWeights({ seed: 21, tensors: weights });
  await ex.prepare();
  await ex.run(evalFeeds);
  const out = { image: await ex.output('image_latent'), text: await ex.output('text_latent'), logits: await ex.output('logits') };
  ex.destroy();
  return out;
}

const bytesOf = (p: Plan, pred: (b: Plan['buffers'][number]) => boolean) => p.buffers.filter(pred).reduce((a, b) => a + b.bytes, 0);

describe('mixed precision: the memory plan', () => {
  it('frozen base weight matrices, merged weights and activations are 16-bit; what accumulates is f32', () => {
    for (const [c, dt] of [[bf16, 'bf16'], [fp16, 'f16']] as const) {
      for (const p of [c.plans.train!, c.plans.eval]) {
        const half = p.buffers.filter((b) => b.dtype === dt);
        expect(half.length).toBeGreaterThan(0);
        for (const b of half) {
          expect(['weight', 'merged_weight', 'activation', 'saved']).toContain(b.kind);
          expect(b.bytes).toBe(Math.max(1, b.shape.reduce((x, y) => x * y, 1)) * 2);
        }
        for (const b of p.buffers) {
          if (['gradient', 'param_grad', 'optimizer', 'input', 'params'].includes(b.kind)) expect(b.dtype).not.toBe(dt);
          if (/lora_[AB]\.weight$|:lora_s$|:attn_lse$|temperature$|LayerNorm\.(weight|bias)$/.test(b.name)) expect(b.dtype, b.name).not.toBe(dt);
        }
        for (const id of Object.values(p.outputs)) expect(p.buffers[id]!.dtype).toBe('f32');
      }
      // The head: latents, cosines and logits stay f32 in the eval plan.
      for (const n of [':image_latent', ':text_latent', ':cosine', ':logits']) {
        const b = c.plans.eval.buffers.find((x) => x.name === n);
        if (b) expect(b.dtype, n).toBe('f32');
      }
    }
    // Frozen matrices: all 16-bit but the depthwise conv kernels and the VQ codebook (their kernels keep f32).
    const frozen = (p: Plan) => bytesOf(p, (b) => b.kind === 'weight' && b.shape.length >= 2 && !/lora_/.test(b.name));
    expect(frozen(bf16.plans.eval)).toBeLessThan(frozen(fp32.plans.eval) * 0.6);
    expect(bf16.plans.train!.memory.workPeakBytes).toBeLessThan(fp32.plans.train!.memory.workPeakBytes * 0.7);
    expect(bf16.plans.eval.memory.weightsBytes).toBeLessThan(fp32.plans.eval.memory.weightsBytes * 0.6);
    expect(bf16.diagnostics.map((d) => d.code)).not.toContain('W3023');
  });

  it('16-bit steps name their 16-bit bindings; the f32 plans have none', () => {
    for (const k of fp32.plans.train!.kernels) for (const st of k.steps) expect(st.spec.half).toBeUndefined();
    const steps = bf16.plans.train!.kernels.flatMap((k) => k.steps);
    const halfSteps = steps.filter((st) => st.spec.half);
    expect(halfSteps.length).toBeGreaterThan(steps.length / 3);
    for (const st of halfSteps) {
      expect(st.kernel).toContain('bf16');
      const names = st.spec.half!.bindings;
      expect(names.length).toBeGreaterThan(0);
    }
  });
});

describe('mixed precision: reference and native C', () => {
  let native: Device;
  let ref32: Awaited<ReturnType<typeof trainStep>>, refBf: Awaited<ReturnType<typeof trainStep>>;
  beforeAll(async () => {
    const d = await openNative({ threads: 1 });
    if ('reason' in d) throw new Error(`the native backend is required: ${d.reason}`);
    native = d;
    ref32 = await trainStep(fp32.plans.train!, new CpuDevice());
    refBf = await trainStep(bf16.plans.train!, new CpuDevice());
  }, 600_000);

  it('train step: loss and gradients within tolerance of fp32, the error shrinking with the format\'s width; native matches the reference', async () => {
    // A stored value keeps 8 (bf16) or 11 (fp16) significant bits. Measured on this step: LoRA
    // gradients 4.9% (bf16) / 0.6% (fp16) from fp32 in relative L2, native vs reference at bf16
    // 2.8% (both round, at different points: f32 vs f64 arithmetic). (The updated weights are not
    // compared: AdamW's first step moves each by ±lr whatever the gradient's size.)
    expect(Math.abs(refBf.loss[0]! - ref32.loss[0]!)).toBeLessThan(2 ** -7 * Math.abs(ref32.loss[0]!));
    expect(maxAbsDiff(refBf.loss, ref32.loss)).toBeGreaterThan(0); // it did run in 16 bits
    const bfErr = relL2(refBf.grads, ref32.grads);
    expect(bfErr).toBeLessThan(0.08);
    const ref16 = await trainStep(fp16.plans.train!, new CpuDevice());
    const f16Err = relL2(ref16.grads, ref32.grads);
    expect(f16Err).toBeLessThan(0.015);
    expect(f16Err).toBeLessThan(bfErr / 4); // 3 more bits: ~8x smaller
    const nat = await trainStep(bf16.plans.train!, native);
    expect(Math.abs(nat.loss[0]! - refBf.loss[0]!)).toBeLessThan(2 ** -7 * Math.abs(refBf.loss[0]!));
    expect(relL2(nat.grads, refBf.grads)).toBeLessThan(0.05);
    expect(relL2(nat.grads, ref32.grads)).toBeLessThan(0.08);
  }, 600_000);

  it('bf16 and fp16 eval forward: latents and logits within tolerance of fp32 on both backends', async () => {
    // Latents are unit vectors. The image tower ends in CTViT's vector quantizer, a nearest-code
    // choice: a 16-bit rounding can flip a near tie between two of its 512 codes for one of the
    // 512 rows (seen at bf16: one row), which moves the image latent by a few 1e-2; the text
    // tower is continuous.
    const r32 = await evalForward(fp32.plans.eval, native);
    for (const [c, tol, vq] of [[bf16, 5e-3, 0.1], [fp16, 6e-4, 0.1]] as const) {
      const ref = await evalForward(c.plans.eval, new CpuDevice());
      const nat = await evalForward(c.plans.eval, native);
      expect(maxAbsDiff(ref.text, r32.text)).toBeLessThan(tol);
      expect(maxAbsDiff(ref.text, r32.text)).toBeGreaterThan(0);
      expect(maxAbsDiff(nat.text, ref.text)).toBeLessThan(tol / 4);
      expect(maxAbsDiff(ref.image, r32.image)).toBeLessThan(vq);
      expect(maxAbsDiff(nat.image, ref.image)).toBeLessThan(vq);
      expect(maxAbsDiff(nat.logits, r32.logits)).toBeLessThan(vq * 20);
    }
  }, 600_000);

  it('weights round-trip through 16-bit storage: readTensor answers the rounded values', async () => {
    const ex = await execFor(bf16.plans.eval, native);
    await ex.loadWeights({ seed: 21, tensors: weights });
    const name = bf16.plans.eval.buffers.find((b) => b.kind === 'weight' && b.dtype === 'bf16')!.name;
    const got = await ex.readTensor(name);
    expect(Array.from(got)).toEqual(Array.from(roundHalf(weights.get(name)!, 'bf16')));
    ex.destroy();
  }, 120_000);
});
