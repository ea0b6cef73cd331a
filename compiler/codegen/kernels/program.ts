// What a kernel body generator returns: one or more stages (entry points run in order, all
// binding the kernel's full buffer list) plus the helper functions they call.
import type { Target } from '../target.js';

export interface Stage {
  entry: string;
  workgroup: [number, number, number];
  grid: [number, number, number];
  shared: [name: string, size: number][];
  body: string[];
  /** C only: `body` is the whole stage as CPU code (it partitions its work over threads itself)
   *  instead of one invocation's body. */
  raw?: boolean;
}

export interface KernelProgram {
  /** One line per fused op, for the header comment. */
  summary: string[];
  helpers: Helper[];
  stages: Stage[];
  /** C only: file-scope functions the stages call (micro-kernels, packing). */
  decls?: string[];
  /** The program loads and stores its 16-bit bindings itself (KernelSpec.half); otherwise
   *  emitKernel rewrites the stages' accesses (../half.ts). */
  halfAware?: boolean;
}

export type Helper = 'erf' | 'dropout';

/** Max workgroups along x before folding into y (WebGPU guarantees 65535 per dimension). */
const MAX_X = 32768;

/** A 1-D launch of `total` threads in workgroups of `wg`; index expression `flatIndex(wg)`. */
export function grid1d(total: number, wg: number): [number, number, number] {
  const blocks = Math.max(1, Math.ceil(total / wg));
  return [Math.min(blocks, MAX_X), Math.ceil(blocks / MAX_X), 1];
}
export const flatIndex = (wg: number): string => `((by * gx + bx) * ${wg} + tx)`;

/** Dropout keeps element `idx` iff the 24-bit counter hash of (seed, idx) is >= p·2^24: the same
 *  integer test on every target (runtime/device/cpu/rng.ts is the reference), so masks match bit for bit. */
export function dropoutThreshold(p: number): number {
  return Math.min(2 ** 24, Math.round(p * 2 ** 24));
}

/** The key a dropout stream xors into the run's seed, so each LoRA adapter (each `dropout` op's
 *  stream, compiler/passes/lora.ts) draws its own mask, as PEFT's per-module nn.Dropout does, while
 *  the forward and the backward of one adapter (same stream) recompute the same one. A constant of
 *  the spec, folded into the source: lowbias32 of (stream + 1)·φ, so nearby streams get unrelated keys. */
export function dropoutStreamKey(stream: number): number {
  let h = Math.imul((stream + 1) >>> 0, 0x9e3779b9) >>> 0;
  h = (h ^ (h >>> 16)) >>> 0;
  h = Math.imul(h, 0x7feb352d) >>> 0;
  h = (h ^ (h >>> 15)) >>> 0;
  h = Math.imul(h, 0x846ca68b) >>> 0;
  return (h ^ (h >>> 16)) >>> 0;
}

export function helperSource(T: Target, h: Helper): string[] {
  switch (h) {
    case 'dropout':
      // lowbias32 (Wellons) over idx·φ ^ seed: cheap, counter-based, good avalanche.
      return T.fn('u32', 'dropout_bits', [['u32', 'seed'], ['u32', 'idx']], [
        T.var('u32', 'h', '((idx * 0x9E3779B9u) ^ seed)'),
        'h = h ^ (h >> 16u);', 'h = h * 0x7feb352du;', 'h = h ^ (h >> 15u);', 'h = h * 0x846ca68bu;', 'h = h ^ (h >> 16u);',
        'return h >> 8u;',
      ]);
    case 'erf': {
      // Numerical Recipes erfc Chebyshev fit: fractional error < 1.2e-7 everywhere; the CPU reference uses the same formula.
      const c = [-1.26551223, 1.00002368, 0.37409196, 0.09678418, -0.18628806, 0.27886807, -1.13520398, 1.48851587, -0.82215223, 0.17087277];
      let poly = T.f(c[9]!);
      for (let i = 8; i >= 1; i--) poly = `${T.f(c[i]!)} + t * (${poly})`;
      return T.fn('f32', 'erf_f', [['f32', 'x']], [
        T.let('f32', 'z', T.call('abs', 'x')),
        T.let('f32', 't', `${T.f(1)} / (${T.f(1)} + ${T.f(0.5)} * z)`),
        T.let('f32', 'r', `t * ${T.call('exp', `-z * z + ${T.f(c[0]!)} + t * (${poly})`)}`),
        `return ${T.sel(`x >= ${T.f(0)}`, `${T.f(1)} - r`, `r - ${T.f(1)}`)};`,
      ]);
    }
  }
}

/** gelu(v) as an expression (needs the erf helper). */
export const geluExpr = (T: Target, v: string): string => `${T.f(0.5)} * ${v} * (${T.f(1)} + erf_f(${v} * ${T.f(Math.SQRT1_2)}))`;
/** d gelu / dv. */
export const geluGradExpr = (T: Target, v: string): string =>
  `(${T.f(0.5)} * (${T.f(1)} + erf_f(${v} * ${T.f(Math.SQRT1_2)})) + ${v} * ${T.call('exp', `${T.f(-0.5)} * ${v} * ${v}`)} * ${T.f(1 / Math.sqrt(2 * Math.PI))})`;
