// Acquisition augmentation (train.augment): the moved and cut volume against a naive per-voxel
// formula, the draws' ranges and determinism, the checker's field, and what the training loop feeds.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { checkFiles } from '../../compiler/check/index.js';
import { applyAugment, augmentVolume, drawAugment, type AugmentDraw } from '../../runtime/train/augment.js';
import { trainLoop } from '../../runtime/run/train.js';
import type { TrainSpec } from '../../compiler/ir/experiment.js';
import { planWithInputs, RecordingExecutor } from './helpers.js';

const PAD = -1;
const check = (files: Record<string, string>) => {
  const r = checkFiles('main.medct', { readFile: (p) => { const t = files[p]; if (t === undefined) throw new Error(`ENOENT ${p}`); return t; } });
  return { ...r, errors: r.diagnostics.filter((d) => d.severity === 'error') };
};
/** Voxel (z, h, w) of the augmented volume, from the definition: the source voxel (z - sz, h - sh,
 *  w - sw) if it exists and z is among the kept slices, else the pad value. */
function expected(v: Float32Array, [D, H, W]: number[], d: AugmentDraw, z: number, h: number, w: number): number {
  const [sz, sh, sw] = d.shift, fz = z - sz, fh = h - sh, fw = w - sw;
  if (z < d.keep[0] || z >= d.keep[1]) return PAD;
  if (fz < 0 || fz >= D! || fh < 0 || fh >= H! || fw < 0 || fw >= W!) return PAD;
  return v[(fz * H! + fh) * W! + fw]!;
}

describe('applyAugment', () => {
  it('equals the per-voxel definition for any shift and kept range, and leaves its input alone', () => {
    fc.assert(fc.property(
      fc.tuple(fc.integer({ min: 1, max: 6 }), fc.integer({ min: 1, max: 5 }), fc.integer({ min: 1, max: 5 })),
      fc.tuple(fc.integer({ min: -7, max: 7 }), fc.integer({ min: -6, max: 6 }), fc.integer({ min: -6, max: 6 })),
      fc.nat(), fc.nat(),
      (size, shift, a, b) => {
        const [D, H, W] = size;
        const k0 = a % D, k1 = k0 + 1 + (b % (D - k0));
        const v = Float32Array.from({ length: D * H * W }, (_, i) => i + 0.5);
        const before = v.slice();
        const d: AugmentDraw = { shift, keep: [k0, k1] };
        const out = applyAugment(v, size, PAD, d);
        expect(v).toEqual(before);
        for (let z = 0; z < D; z++) for (let h = 0; h < H; h++) for (let w = 0; w < W; w++) {
          expect(out[(z * H + h) * W + w]).toBe(expected(v, size, d, z, h, w));
        }
      }), { numRuns: 200 });
  });

  it('no shift and every slice kept is the identity, on a new array', () => {
    const v = Float32Array.from({ length: 24 }, (_, i) => i);
    const out = applyAugment(v, [2, 3, 4], PAD, { shift: [0, 0, 0], keep: [0, 2] });
    expect(out).toEqual(v);
    expect(out).not.toBe(v);
  });

  it('refuses a volume of the wrong size (a bug, not user data)', () => {
    expect(() => applyAugment(new Float32Array(7), [2, 2, 2], PAD, { shift: [0, 0, 0], keep: [0, 2] })).toThrow(/internal: augment/);
  });
});

describe('drawAugment', () => {
  it('shifts cover [-N, N] on every axis; kept runs are contiguous, ceil(F x D) to D slices, anywhere', () => {
    const seen = [new Set<number>(), new Set<number>(), new Set<number>()], lengths = new Set<number>(), starts = new Set<number>();
    for (let row = 0; row < 400; row++) {
      const d = drawAugment({ shiftVoxels: 2, zCoverage: 0.7 }, 10, 3, 1, row);
      d.shift.forEach((s, k) => seen[k]!.add(s));
      const len = d.keep[1] - d.keep[0];
      expect(len).toBeGreaterThanOrEqual(7);
      expect(d.keep[0]).toBeGreaterThanOrEqual(0);
      expect(d.keep[1]).toBeLessThanOrEqual(10);
      lengths.add(len); starts.add(d.keep[0]);
    }
    for (const s of seen) expect([...s].sort((a, b) => a - b)).toEqual([-2, -1, 0, 1, 2]);
    expect([...lengths].sort((a, b) => a - b)).toEqual([7, 8, 9, 10]);
    expect([...starts].sort((a, b) => a - b)).toEqual([0, 1, 2, 3]);
  });

  it('depends only on (seed, step, row); zero settings draw nothing', () => {
    const a = { shiftVoxels: 3, zCoverage: 0.5 };
    expect(drawAugment(a, 32, 11, 7, 4)).toEqual(drawAugment(a, 32, 11, 7, 4));
    const rows = Array.from({ length: 20 }, (_, r) => JSON.stringify(drawAugment(a, 32, 11, 7, r)));
    expect(new Set(rows).size).toBeGreaterThan(15);
    expect(JSON.stringify(drawAugment(a, 32, 12, 7, 4))).not.toBe(JSON.stringify(drawAugment(a, 32, 11, 7, 4)));
    expect(drawAugment({ shiftVoxels: 0, zCoverage: 1 }, 32, 11, 7, 4)).toEqual({ shift: [0, 0, 0], keep: [0, 32] });
  });
});

describe('train.augment in the checker', () => {
  const spec = (aug: string) => `experiment "e" {\n  model ct_clip_tiny\n  data synthetic { root "x" }\n  train { loss clip; train_base true; epochs 1; batch 2; ${aug} }\n}\n`;

  it('resolves into the IR; absent = null', () => {
    const r = check({ 'main.medct': spec('augment { shift 2 voxels; z_coverage 0.7 }') });
    expect(r.errors).toEqual([]);
    expect(r.experiments[0]!.train!.augment).toEqual({ shiftVoxels: 2, zCoverage: 0.7 });
    expect(check({ 'main.medct': spec('augment { shift 1 voxels }') }).experiments[0]!.train!.augment).toEqual({ shiftVoxels: 1, zCoverage: 1 });
    expect(check({ 'main.medct': spec('') }).experiments[0]!.train!.augment).toBeNull();
  });

  it('bad values are diagnostics at the value', () => {
    const codes = (aug: string) => check({ 'main.medct': spec(aug) }).errors.map((d) => d.code);
    expect(codes('augment { z_coverage 0 }')).toEqual(['E2006']);
    expect(codes('augment { z_coverage 1.5 }')).toEqual(['E2006']);
    expect(codes('augment { shift 1.5 voxels }')).toEqual(['E2006']);
    expect(codes('augment { shift 2 }')).toEqual(['E2007']);
    expect(codes('augment { flip true }')).toEqual(['E2001']);
    expect(codes('augment 2')).toEqual(['E2004']);
  });
});

describe('trainLoop with train.augment', () => {
  it('feeds each row as augmentVolume draws it for (seed, step, row), from unchanged cached volumes', async () => {
    const size: [number, number, number] = [4, 2, 2], VOX = 16;
    const cached = Array.from({ length: 6 }, (_, i) => Float32Array.from({ length: VOX }, (_, k) => i + k / 100));
    const items = cached.map((v, i) => ({ volumeName: `v${i}.nii.gz`, path: '', labels: Uint8Array.of(0), reportText: `r${i}`, load: async () => v }));
    const copies = cached.map((v) => v.slice());
    const plan = planWithInputs('train', { volume: { shape: [2, 1, ...size], dtype: 'f32' }, input_ids: { shape: [2, 4], dtype: 'i32' }, attention_mask: { shape: [2, 4], dtype: 'f32' } });
    const text = { input_ids: new Int32Array(8), attention_mask: new Float32Array(8).fill(1) };
    const aug = { shiftVoxels: 1, zCoverage: 0.5 };
    const train: TrainSpec = {
      loss: 'clip', optimizer: { kind: 'adamw', lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0 },
      schedule: { kind: 'constant', warmupSteps: 0 }, epochs: 2, batchSize: 2, gradClip: null, precision: 'fp32', trainBase: true, augment: aug,
    };
    const exec = new RecordingExecutor(plan, () => Float32Array.of(1));
    const names: string[][] = [];
    await trainLoop({ exec, items, text: () => text, train, seed: 4, source: 's', preprocess: { size, padValue: PAD }, onStep: (r) => names.push(r.volumes) });
    expect(exec.runs).toHaveLength(6);
    let changed = 0;
    exec.runs.forEach((r, i) => {
      const fed = r.feeds.volume as Float32Array;
      names[i]!.forEach((n, row) => {
        const src = cached[Number(n.slice(1, -7))]!;
        const want = augmentVolume(src, aug, { size, padValue: PAD }, 4, i + 1, row);
        expect(fed.subarray(row * VOX, (row + 1) * VOX)).toEqual(want);
        if (want.some((x, k) => x !== src[k])) changed++;
      });
    });
    expect(changed).toBeGreaterThan(6);
    cached.forEach((v, i) => expect(v).toEqual(copies[i]));
    // Without the preprocessing it acts on, the loop refuses (a caller's bug).
    await expect(trainLoop({ exec, items, text: () => text, train, seed: 4, source: 's' })).rejects.toThrow(/internal: train.augment/);
  });
});
