// CT-CLIP's VectorQuantize stays in eval behaviour while training: its codebook never changes, neither under LoRA training nor when the whole
// base trains (they are buffers, not parameters: no gradient, no AdamW, no EMA update), while the
// straight-through gradient still reaches the encoder below it (the base weights under the VQ move).
import { describe, expect, it } from 'vitest';
import { CpuDevice } from '../../runtime/device/cpu/device.js';
import { feeds, tinyTrain } from '../train/setup.js';
import { execFor, weightsWithLora } from './fixtures.js';

async function trainAndRead(trainBase: boolean) {
  const { plan, graph } = tinyTrain({ trainBase, dropout: 0.05, batch: 2 });
  const weights = weightsWithLora(graph, 3);
  // Only the buffers the forward reads are in the plan (embed); the EMA statistics are not even
  // allocated, which is itself the point: nothing in the plan could update them.
  const inPlan = new Set(plan.buffers.map((b) => b.name));
  const codebook = graph.tensors.filter((t) => t.name.includes('._codebook.') && inPlan.has(t.name)).map((t) => t.name);
  // The last linear of the spatial encoder sits under the VQ: with trainBase it must move.
  const encoder = graph.tensors.find((t) => t.role === 'param' && t.name.startsWith('visual_transformer.enc_spatial_transformer.') && t.name.endsWith('.weight'))!.name;
  const ex = await execFor(plan, new CpuDevice());
  await ex.loadWeights({ seed: 3, tensors: weights });
  for (let s = 1; s <= 2; s++) await ex.run(feeds(plan, s), { dropoutSeed: 10 + s, adamStep: s, lr: 1e-2 });
  const after = new Map<string, Float32Array>();
  for (const n of [...codebook, encoder]) after.set(n, await ex.readTensor(n));
  const loss = (await ex.output('loss'))[0]!;
  ex.destroy();
  return { codebook, encoder, weights, after, loss };
}

describe('VQ codebook in training', () => {
  for (const trainBase of [false, true]) {
    it(`keeps every codebook buffer bit-identical over 2 steps (${trainBase ? 'base trains' : 'LoRA'})`, async () => {
      const r = await trainAndRead(trainBase);
      expect(Number.isFinite(r.loss)).toBe(true);
      expect(r.codebook.map((n) => n.split('._codebook.')[1])).toContain('embed');
      for (const n of r.codebook) {
        const before = r.weights.get(n)!;
        expect(Buffer.from(r.after.get(n)!.buffer).equals(Buffer.from(before.buffer.slice(before.byteOffset, before.byteOffset + before.byteLength))), n).toBe(true);
      }
      const w0 = r.weights.get(r.encoder)!, w1 = r.after.get(r.encoder)!;
      const moved = w1.some((v, i) => v !== w0[i]);
      expect(moved, `${r.encoder} ${trainBase ? 'should move when the base trains' : 'is frozen under LoRA'}`).toBe(trainBase);
    }, 300_000);
  }
});
