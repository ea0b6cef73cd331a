// LoRA scaling and merging, as PEFT defines them: the reference the fused kernels and the
// merged-weights export are checked against.
import type { AdaptedModule } from './types.js';

/** PEFT's scaling: alpha / r, or alpha / sqrt(r) with use_rslora. */
export function loraScaling(alpha: number, rank: number, rslora: boolean): number {
  return rslora ? alpha / Math.sqrt(rank) : alpha / rank;
}

/**
 * W += scaling * (B @ A) in place, for a row-major base weight W of [outFeatures, inFeatures]
 * (PyTorch nn.Linear layout). Accumulates each element of B @ A in float64 before the single
 * float32 rounding, so merging is as exact as float32 storage allows.
 */
export function mergeInto(weight: Float32Array, m: AdaptedModule, rslora: boolean): Float32Array {
  const { rank: r, inFeatures: K, outFeatures: N, A, B } = m;
  if (weight.length !== N * K) throw new Error(`mergeInto: ${m.path} weight has ${weight.length} values, expected ${N}x${K}`);
  const s = loraScaling(m.alpha, r, rslora);
  for (let o = 0; o < N; o++) {
    for (let i = 0; i < K; i++) {
      let acc = 0;
      for (let k = 0; k < r; k++) acc += B[o * r + k]! * A[k * K + i]!;
      weight[o * K + i] = weight[o * K + i]! + s * acc;
    }
  }
  return weight;
}
