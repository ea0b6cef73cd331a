// The CT-CLIP shapes bench/lora-linear measures, compiled by the nvcc test so the benchmark's
// kernels (large tiles, CUDA R = 8) are known to build before a GPU machine runs them.
import type { KernelSpec } from '../../compiler/kernels/spec.js';

export const BENCH_SHAPES = [
  { name: 'image 512->256', m: 13824, k: 512, n: 256 },
  { name: 'image 512->512', m: 13824, k: 512, n: 512 },
  { name: 'text 768->768', m: 512, k: 768, n: 768 },
] as const;
export const BENCH_RANKS = [8, 16, 24, 64] as const;

export const BENCH_SPECS: KernelSpec[] = BENCH_SHAPES.flatMap(({ m, k, n }) => [
  { kind: 'linear', m, k, n, bias: true, activation: 'none', residual: false } as const,
  ...BENCH_RANKS.map((r) => ({ kind: 'lora_linear', m, k, n, r, scaling: 2, dropout: 0.1, stream: 0, bias: true, activation: 'none', residual: false } as const)),
]);
