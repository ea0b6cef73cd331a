// Acquisition augmentation of training volumes (`train { augment { shift 2 voxels  z_coverage 0.7 } }`).
// A base pretrained on one site met the target site's geometry (a wider field of view, a table
// 20 mm lower, 235-275 mm of z coverage instead of 290-340) and lost 3-4 points of zero-shot AUROC
// there, while the target's noise, contrast and HU offset cost nothing (bench/RESULTS.md, issue
// 11). Scanners differ in where the patient lies and how much of the chest a scan covers, so the
// training volumes are moved and cut as another scanner would have framed them:
// - shift: the volume moves by a whole number of voxels along each axis, drawn uniformly in
//   [-N, N]; what moves in is the pad value, as preprocessing pads a small scan;
// - z_coverage F: a contiguous run of the slices, F to 100% of them (uniform length, uniform
//   position), is kept and the rest become the pad value, as a scan that stopped short would.
// Both act on the preprocessed volume (D, H, W: z first, as the model reads it), so the cached
// preprocessing stays valid. Each row's draw depends only on (seed, step, row), like the report
// sentences, so a resumed run draws exactly what an uninterrupted one would.
import type { Preprocess, TrainSpec } from '../../compiler/ir/experiment.js';
import { Rng } from '../util/rng.js';

export type Augment = NonNullable<TrainSpec['augment']>;

/** What one row's draw chose: the shift per axis (D, H, W; voxels, + = towards higher indices) and
 *  the kept slice range [z0, z1). */
export interface AugmentDraw { shift: [number, number, number]; keep: [number, number] }

export function drawAugment(a: Augment, depth: number, seed: number, step: number, row: number): AugmentDraw {
  const rng = new Rng(seed, 'augment', step, row);
  const n = a.shiftVoxels;
  const shift: [number, number, number] = [0, 0, 0];
  for (let k = 0; k < 3; k++) shift[k] = n > 0 ? rng.int(2 * n + 1) - n : 0;
  let keep: [number, number] = [0, depth];
  if (a.zCoverage < 1) {
    const min = Math.max(1, Math.ceil(a.zCoverage * depth));
    const len = min + rng.int(depth - min + 1);
    const z0 = rng.int(depth - len + 1);
    keep = [z0, z0 + len];
  }
  return { shift, keep };
}

/** A new volume (the input, often a shared cached array, is not touched): `v` of shape `size`
 *  (D, H, W) with the draw applied. */
export function applyAugment(v: Float32Array, size: readonly [number, number, number], pad: number, d: AugmentDraw): Float32Array {
  const [D, X, Y] = size;
  if (v.length !== D * X * Y) throw new Error(`internal: augment: volume of ${v.length} voxels, shape ${size.join('x')}`);
  const out = new Float32Array(v.length).fill(pad);
  const [sz, sx, sy] = d.shift, [k0, k1] = d.keep;
  for (let z = 0; z < D; z++) {
    const fz = z - sz;
    if (fz < 0 || fz >= D || z < k0 || z >= k1) continue;
    for (let x = 0; x < X; x++) {
      const fx = x - sx;
      if (fx < 0 || fx >= X) continue;
      const o = (z * X + x) * Y, i = (fz * X + fx) * Y;
      for (let y = 0; y < Y; y++) {
        const fy = y - sy;
        if (fy >= 0 && fy < Y) out[o + y] = v[i + fy]!;
      }
    }
  }
  return out;
}

/** The training volume row `row` of step `step` trains on. */
export function augmentVolume(v: Float32Array, a: Augment, pp: Pick<Preprocess, 'size' | 'padValue'>, seed: number, step: number, row: number): Float32Array {
  return applyAugment(v, pp.size, pp.padValue, drawAugment(a, pp.size[0], seed, step, row));
}
