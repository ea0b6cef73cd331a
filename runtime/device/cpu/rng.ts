// The dropout mask every target shares: keep element idx iff dropoutBits(seed, idx) >= p·2^24.
// Counter-based (no state), so the backward pass recomputes the forward mask from the same seed
// (per stream: streamSeed).
// Mirrors helperSource('dropout') in compiler/codegen/kernels/program.ts operation for operation.
import { dropoutThreshold, dropoutStreamKey } from '../../../compiler/codegen/kernels/program.js';

/** The hash key of one dropout stream in a run: the run seed xor the stream's key (the generated
 *  kernels compute `params[0] ^ key` the same way). */
export function streamSeed(seed: number, stream: number): number {
  return (seed ^ dropoutStreamKey(stream)) >>> 0;
}

export function dropoutBits(seed: number, idx: number): number {
  let h = (Math.imul(idx >>> 0, 0x9e3779b9) ^ seed) >>> 0;
  h = (h ^ (h >>> 16)) >>> 0;
  h = Math.imul(h, 0x7feb352d) >>> 0;
  h = (h ^ (h >>> 15)) >>> 0;
  h = Math.imul(h, 0x846ca68b) >>> 0;
  h = (h ^ (h >>> 16)) >>> 0;
  return h >>> 8;
}

/** The multiplier dropout applies to element idx: 0 or 1/(1-p). */
export function dropoutKeep(p: number, seed: number, idx: number): number {
  if (p <= 0) return 1;
  return dropoutBits(seed, idx) >= dropoutThreshold(p) ? 1 / (1 - p) : 0;
}
