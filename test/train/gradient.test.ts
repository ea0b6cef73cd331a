// The decisive check of the train plan's backward: on the CPU backend, LoRA parameter gradients of
// a whole ct_clip_tiny train step (forward, backward through every kernel, as lowered for devices)
// equal central finite differences of the loss computed by the forward alone.
//
// Finite differences: eps = 1e-2 on O(0.1) weights. Truncation error is O(eps²·L''') ~ 1e-4 of the
// gradient; the forward stores f32, so the loss (~0.3) carries noise of a few ulps (~1e-7) and the
// difference quotient an absolute noise of ~1e-7/(2·eps) = 5e-6. Tolerance: 2e-2·|g| (relative, f32
// through ~100 kernels plus truncation) + 2e-3·max|g| of the tensor (the absolute noise floor; the
// checked entries are the tensor's largest, so this is at most 2e-3 relative to them).
//
// vq_nearest's backward is straight-through (dx = dy): the gradient of L(x + sg(code - x)). Its
// finite differences therefore run the forward with the quantiser output replaced by x + delta,
// delta = code - x frozen at the unperturbed point (PlanRunner.straightThrough), which is exactly
// the function the straight-through estimator differentiates.
import { describe, it, expect } from 'vitest';
import { CpuDevice } from '../../runtime/device/cpu/device.js';
import { Rng } from '../../runtime/util/rng.js';
import { PlanRunner } from './harness.js';
import { tinyTrain, feeds, weights } from './setup.js';

const EPS = 1e-2;
const BASE = [
  'temperature',
  'text_transformer.embeddings.position_embeddings.weight',
  'text_transformer.embeddings.token_type_embeddings.weight',
  'text_transformer.embeddings.word_embeddings.weight',
  'text_transformer.encoder.layer.1.intermediate.dense.bias',
  'text_transformer.encoder.layer.0.output.LayerNorm.weight',
  'to_text_latent.weight',
  'visual_transformer.spatial_rel_pos_bias.net.0.0.weight',
  'visual_transformer.enc_spatial_transformer.layers.1.0.dsconv.weight',
  'visual_transformer.enc_temporal_transformer.layers.0.1.q_scale',
  'visual_transformer.to_patch_emb.1.bias',
];
const CHECKED = [
  'text_transformer.encoder.layer.1.attention.self.value.lora_A.weight',
  'text_transformer.encoder.layer.0.attention.self.value.lora_B.weight',
  'text_transformer.encoder.layer.1.attention.self.query.lora_B.weight',
  'visual_transformer.enc_spatial_transformer.layers.0.1.to_q.lora_A.weight',
  'visual_transformer.enc_temporal_transformer.layers.1.1.to_kv.lora_B.weight',
  'visual_transformer.enc_spatial_transformer.layers.1.1.to_kv.lora_A.weight',
];

/** Runs forward + backward once, then checks `picks` entries per tensor against central differences. */
async function checkTensors(opts: Parameters<typeof tinyTrain>[0], names: string[], picksPer: number): Promise<void> {
  const { plan, graph } = tinyTrain({ batch: 1, ...opts, gradClip: null });
  const run = new PlanRunner(plan, graph, new CpuDevice());
  const w = weights(graph, 7);
  await run.load(w);
  const f = feeds(plan, 1);
  const lossId = plan.outputs.loss!;
  await run.run(f, {}, ['forward', 'backward']);
  const loss0 = (await run.read(lossId))[0]!;
  const grads = new Map<string, Float32Array>();
  for (const name of names) grads.set(name, await run.read(run.bufferOf(`grad:${name}`)));
  // Freeze the quantiser's residual at the unperturbed point (see the header).
  const vq = plan.kernels.find((k) => k.kind === 'vq_nearest')!;
  const x0 = await run.read(vq.inputs[0]!), y0 = await run.read(vq.outputs[0]!);
  run.straightThrough = x0.map((x, i) => y0[i]! - x);
  const lossAt = async (): Promise<number> => { await run.run(f, {}, ['forward']); return (await run.read(lossId))[0]!; };
  expect(Math.abs(await lossAt() - loss0)).toBeLessThan(1e-6);

  const rng = new Rng(11, 'fd');
  for (const name of names) {
    const g = grads.get(name)!, param = w.get(name)!, id = run.bufferOf(name);
    const order = [...g.keys()].sort((a, b) => Math.abs(g[b]!) - Math.abs(g[a]!));
    const maxG = Math.abs(g[order[0]!]!);
    expect(maxG, `${name}: gradient is zero`).toBeGreaterThan(1e-6);
    const big = order.filter((i) => Math.abs(g[i]!) >= 0.2 * maxG);
    const picks = [order[0]!, big.length > 1 ? big[1 + rng.int(big.length - 1)]! : order[1]!].slice(0, picksPer);
    for (const i of picks) {
      const orig = param[i]!;
      param[i] = orig + EPS; await run.write(id, param); const lp = await lossAt();
      param[i] = orig - EPS; await run.write(id, param); const lm = await lossAt();
      param[i] = orig; await run.write(id, param);
      const fd = (lp - lm) / (2 * EPS);
      const tol = 2e-2 * Math.abs(g[i]!) + 2e-3 * maxG;
      if (process.env.FD_DEBUG) console.log(name, i, g[i], fd, Math.abs(fd - g[i]!) / Math.abs(g[i]!));
      if (!(Math.abs(fd - g[i]!) <= tol)) expect.fail(`${name}[${i}]: backward ${g[i]} vs finite difference ${fd} (tol ${tol})`);
    }
  }
}

describe('train step gradients (cpu) match finite differences of the forward', () => {
  it('LoRA A and B of text and image adapters (the quickstart plan)', () => checkTensors({}, CHECKED, 2), 600_000);
  // train.trainBase: every kernel kind's parameter gradient, one (the largest) entry per tensor.
  it('base parameters (train.trainBase)', () => checkTensors({ trainBase: true }, BASE, 1), 600_000);
  // The other losses (their backward re-runs the loss kernel for dlogits): one text and one image adapter each.
  for (const loss of ['pair_ce', 'clip'] as const) {
    it(`${loss} loss`, () => checkTensors({ loss, batch: 2 }, [CHECKED[1]!, CHECKED[4]!], 1), 600_000);
  }
});
