// Tiled GEMM core and every kernel built from it: gemm, linear, and the fused LoRA linear.
//
// LoRA design (LoRAFusion, arXiv 2510.00206), chosen over computing x·Aᵀ inside the base GEMM's K
// loop: with output tiles of width TN, an in-loop x·Aᵀ is recomputed by every one of the N/TN
// column tiles, i.e. (N/TN)·r/N extra work relative to the base GEMM (r=64, N=512, TN=64: +100%).
// Instead `lora_shrink` computes s = scaling·dropout(x)·Aᵀ once (m·k·r MACs, the minimum; the
// dropout mask comes from a counter hash, so it is never stored), then ONE GEMM runs over the
// concatenated reduction axis [x | s]·[W | B]ᵀ: the LoRA term costs r extra K-steps in the same
// accumulator, with the bias, activation and residual applied in its epilogue. No m×n
// intermediate is ever written; the unfused path writes and re-reads two.
//
// Tiling heuristic: 16×16 threads, each owning RM×RN outputs (tile 16RM × 16RN, K step 16), chosen
// per dimension from its size: 1 for ≤ 16 (rank-r outputs: a 64×16 tile wastes no threads),
// 8 along m for a thin (≤ 16) output with m ≥ 1024 (measured on llvmpipe: shrink 31 -> ~27 ms at
// 1024×512×16, within noise but not worse), 2 for ≤ 32, else 4 (64 wide: 8 KiB of workgroup memory, within compat-mode limits);
// CUDA takes 8 (128 wide) where both dimensions are ≥ 256.
import type { Target } from '../target.js';
import type { GemmSpec, LinearSpec, LoraLinearSpec, LoraShrinkSpec, LoraExpandSpec, LoraBackwardInputSpec, Activation } from '../../kernels/spec.js';
import { dropoutThreshold, dropoutStreamKey, geluExpr, type KernelProgram, type Stage, type Helper } from './program.js';

const BK = 16;

export interface Operand {
  buf: string;
  /** A: stored [K,M] instead of [M,K]. B: stored [N,K] instead of [K,N]. */
  trans: boolean;
  /** Dropout applied to the loaded value (kept values scaled by 1/(1-p)). */
  dropout?: Dropout;
}
/** Drop probability p and the mask's stream (dropoutStreamKey). */
export interface Dropout { p: number; stream: number }
export interface Segment { a: Operand; b: Operand; k: number; /** Accumulate separately and apply dropout keyed by the output index. */ outDropout?: Dropout }
export interface GemmStage {
  entry: string; m: number; n: number; segments: Segment[]; alpha: number;
  bias?: string; activation: Activation; residual?: string; out: string;
}

/** Outputs per thread along one dimension: the tile is 16·R wide there. */
function factor(target: Target['name'], size: number, other: number): number {
  if (size <= 16) return 1;
  // A thin output (rank-r shrink) does few MACs per loaded value: give each workgroup more rows.
  if (other <= 16 && size >= 1024) return 8;
  if (size <= 32) return 2;
  if (target === 'cuda' && size >= 256 && other >= 256) return 8;
  return 4;
}
/** [rows, cols] outputs per thread for an m×n output. */
export function tileFactor(target: Target['name'], m: number, n: number): [number, number] {
  return [factor(target, m, n), factor(target, n, m)];
}

function keepFactor(T: Target, d: Dropout, idx: string): string {
  const key = `(params[0] ^ 0x${dropoutStreamKey(d.stream).toString(16)}u)`;
  return T.sel(`dropout_bits(${key}, ${T.cast('u32', idx)}) >= ${dropoutThreshold(d.p)}u`, T.f(1 / (1 - d.p)), T.f(0));
}
export const drop = (p: number, stream: number): Dropout | undefined => (p > 0 ? { p, stream } : undefined);

function gemmStage(T: Target, g: GemmStage): Stage {
  const [RM, RN] = tileFactor(T.name, g.m, g.n);
  const TM = 16 * RM, TN = 16 * RN;
  const { m: M, n: N } = g;
  const body: string[] = [
    T.let('i32', 'lin', 'ty * 16 + tx'),
    T.let('i32', 'row0', `by * ${TM}`),
    T.let('i32', 'col0', `bx * ${TN}`),
    T.arr('f32', 'acc', RM * RN),
    T.arr('f32', 'ra', RM),
    T.arr('f32', 'rb', RN),
  ];
  const separate = g.segments.some((s) => s.outDropout !== undefined);
  if (separate) body.push(T.arr('f32', 'acc2', RM * RN));
  g.segments.forEach((seg, si) => {
    const K = seg.k;
    const accName = seg.outDropout !== undefined ? 'acc2' : 'acc';
    body.push(`// segment ${si}: ${seg.a.buf}${seg.a.trans ? 'ᵀ' : ''} · ${seg.b.buf}${seg.b.trans ? 'ᵀ' : ''} over K = ${K}`);
    body.push(T.for(`k0_${si}`, '0', String(K), BK));
    const load = (op: Operand, tile: string, outer: number, outerDim: number, isA: boolean): void => {
      // Contiguous-in-K storage (A plain, B transposed) loads along K; otherwise along the outer dim.
      const kContig = isA ? !op.trans : op.trans;
      const count = (BK * outer) / 256;
      for (let i = 0; i < count; i++) {
        const e = `(lin + ${i * 256})`;
        const kk = kContig ? `(${e} % ${BK})` : `(${e} / ${outer})`;
        const oo = kContig ? `(${e} / ${BK})` : `(${e} % ${outer})`;
        const base = isA ? 'row0' : 'col0';
        body.push('{');
        body.push(`  ${T.let('i32', 'kk', kk)} ${T.let('i32', 'oo', oo)}`);
        body.push(`  ${T.let('i32', 'gk', `k0_${si} + kk`)} ${T.let('i32', 'go', `${base} + oo`)}`);
        body.push(`  ${T.var('f32', 'v', T.f(0))}`);
        const idx = kContig ? `go * ${K} + gk` : `gk * ${outerDim} + go`;
        body.push(`  if (gk < ${K} && go < ${outerDim}) {`);
        body.push(`    ${T.let('i32', 'src', idx)}`);
        body.push(`    v = ${op.buf}[src]${op.dropout ? ` * ${keepFactor(T, op.dropout, 'src')}` : ''};`);
        body.push('  }');
        body.push(`  ${tile}[kk * ${outer} + oo] = v;`);
        body.push('}');
      }
    };
    load(seg.a, 'As', TM, M, true);
    load(seg.b, 'Bs', TN, N, false);
    body.push(`  ${T.barrier}`);
    body.push(`  ${T.for('kk', '0', String(BK))}`);
    for (let i = 0; i < RM; i++) body.push(`    ra[${i}] = As[kk * ${TM} + ty + ${16 * i}];`);
    for (let j = 0; j < RN; j++) body.push(`    rb[${j}] = Bs[kk * ${TN} + tx + ${16 * j}];`);
    for (let i = 0; i < RM; i++) {
      body.push('    ' + Array.from({ length: RN }, (_, j) => `${accName}[${i * RN + j}] += ra[${i}] * rb[${j}];`).join(' '));
    }
    body.push('  }');
    body.push(`  ${T.barrier}`);
    body.push('}');
  });
  const dropSeg = g.segments.find((s) => s.outDropout !== undefined);
  body.push('// epilogue');
  for (let i = 0; i < RM; i++) {
    for (let j = 0; j < RN; j++) {
      body.push('{');
      body.push(`  ${T.let('i32', 'row', `row0 + ty + ${16 * i}`)} ${T.let('i32', 'col', `col0 + tx + ${16 * j}`)}`);
      body.push(`  if (row < ${M} && col < ${N}) {`);
      body.push(`    ${T.var('f32', 'v', g.alpha === 1 ? `acc[${i * RN + j}]` : `${T.f(g.alpha)} * acc[${i * RN + j}]`)}`);
      if (dropSeg) body.push(`    v += acc2[${i * RN + j}] * ${keepFactor(T, dropSeg.outDropout!, `row * ${N} + col`)};`);
      if (g.bias) body.push(`    v += ${g.bias}[col];`);
      if (g.activation === 'gelu') body.push(`    v = ${geluExpr(T, 'v')};`);
      if (g.residual) body.push(`    v += ${g.residual}[row * ${N} + col];`);
      body.push(`    ${g.out}[row * ${N} + col] = v;`);
      body.push('  }');
      body.push('}');
    }
  }
  return {
    entry: g.entry, workgroup: [16, 16, 1], grid: [Math.ceil(N / TN), Math.ceil(M / TM), 1],
    shared: [['As', BK * TM], ['Bs', BK * TN]], body,
  };
}

export function helpersFor(stages: GemmStage[]): Helper[] {
  const h: Helper[] = [];
  if (stages.some((s) => s.activation === 'gelu')) h.push('erf');
  if (stages.some((s) => s.segments.some((g) => g.outDropout !== undefined || g.a.dropout || g.b.dropout))) h.push('dropout');
  return h;
}

function program(T: Target, summary: string[], stages: GemmStage[]): KernelProgram {
  return { summary, helpers: helpersFor(stages), stages: stages.map((s) => gemmStage(T, s)) };
}

const epi = (s: { bias: boolean; activation: Activation; residual: boolean }): string =>
  `${s.bias ? ' + bias' : ''}${s.activation !== 'none' ? `, ${s.activation}` : ''}${s.residual ? ', + residual' : ''}`;

const shrinkStage = (s: { m: number; k: number; r: number; scaling: number; dropout: number; stream: number }): GemmStage => ({
  entry: 'lora_shrink', m: s.m, n: s.r, alpha: s.scaling, activation: 'none', out: 's',
  segments: [{ a: { buf: 'x', trans: false, dropout: drop(s.dropout, s.stream) }, b: { buf: 'lora_a', trans: true }, k: s.k }],
});
const expandStage = (s: LoraExpandSpec | LoraLinearSpec): GemmStage => ({
  entry: 'lora_expand', m: s.m, n: s.n, alpha: 1, activation: s.activation, out: 'y',
  bias: s.bias ? 'bias' : undefined, residual: s.residual ? 'residual' : undefined,
  segments: [
    { a: { buf: 'x', trans: false }, b: { buf: 'w', trans: true }, k: s.k },
    { a: { buf: 's', trans: false }, b: { buf: 'lora_b', trans: true }, k: s.r },
  ],
});

export type GemmKind = GemmSpec | LinearSpec | LoraLinearSpec | LoraShrinkSpec | LoraExpandSpec | LoraBackwardInputSpec;

/** What a GEMM-type kernel computes, as stages of segment lists: the GPU tiles below and the CPU
 *  micro-kernels (compiler/codegen/c/gemm.ts) are both rendered from this one description. */
export function gemmStages(s: GemmKind): { summary: string[]; stages: GemmStage[] } {
  switch (s.kind) {
    case 'gemm':
      return { summary: [`c[${s.m},${s.n}] = ${s.alpha}·a${s.transA ? 'ᵀ' : ''}·${s.maskB ? `dropout(b, p=${s.maskB}, stream ${s.stream ?? 0})` : 'b'}${s.transB ? 'ᵀ' : ''}${epi(s)}`], stages: [{
        entry: 'gemm', m: s.m, n: s.n, alpha: s.alpha, activation: s.activation, out: 'c',
        bias: s.bias ? 'bias' : undefined, residual: s.residual ? 'residual' : undefined,
        segments: [{ a: { buf: 'a', trans: s.transA }, b: { buf: 'b', trans: s.transB, dropout: drop(s.maskB, s.stream ?? 0) }, k: s.k }],
      }] };
    case 'linear':
      return { summary: [`y[${s.m},${s.n}] = x[${s.m},${s.k}]·Wᵀ${epi(s)}`], stages: [{
        entry: 'linear', m: s.m, n: s.n, alpha: 1, activation: s.activation, out: 'y',
        bias: s.bias ? 'bias' : undefined, residual: s.residual ? 'residual' : undefined,
        segments: [{ a: { buf: 'x', trans: false }, b: { buf: 'w', trans: true }, k: s.k }],
      }] };
    case 'lora_shrink':
      return { summary: [`s[${s.m},${s.r}] = ${s.scaling}·dropout(x, p=${s.dropout}, stream ${s.stream})·Aᵀ`], stages: [shrinkStage(s)] };
    case 'lora_expand':
      return { summary: [`y[${s.m},${s.n}] = [x | s]·[W | B]ᵀ${epi(s)}`], stages: [expandStage(s)] };
    case 'lora_linear':
      return { summary: [
        `stage 1 lora_shrink: s[${s.m},${s.r}] = ${s.scaling}·dropout(x[${s.m},${s.k}], p=${s.dropout}, stream ${s.stream})·Aᵀ`,
        `stage 2 lora_expand: y[${s.m},${s.n}] = x·Wᵀ + s·Bᵀ${epi(s)} (one GEMM over K = ${s.k} + ${s.r})`,
      ], stages: [shrinkStage(s), expandStage(s)] };
    case 'lora_backward_input':
      return { summary: [`dx[${s.m},${s.k}] = dy·W + dropout_mask(p=${s.dropout}, stream ${s.stream})⊙(ds·A)`], stages: [{
        entry: 'lora_backward_input', m: s.m, n: s.k, alpha: 1, activation: 'none', out: 'dx',
        segments: [
          { a: { buf: 'dy', trans: false }, b: { buf: 'w', trans: false }, k: s.n },
          { a: { buf: 'ds', trans: false }, b: { buf: 'lora_a', trans: false }, k: s.r, ...(s.dropout > 0 ? { outDropout: { p: s.dropout, stream: s.stream } } : {}) },
        ],
      }] };
  }
}

const gpuProgram = (T: Target, s: GemmKind): KernelProgram => { const g = gemmStages(s); return program(T, g.summary, g.stages); };
export const gemmProgram = (T: Target, s: GemmSpec): KernelProgram => gpuProgram(T, s);
export const linearProgram = (T: Target, s: LinearSpec): KernelProgram => gpuProgram(T, s);
export const loraShrinkProgram = (T: Target, s: LoraShrinkSpec): KernelProgram => gpuProgram(T, s);
export const loraExpandProgram = (T: Target, s: LoraExpandSpec): KernelProgram => gpuProgram(T, s);
export const loraLinearProgram = (T: Target, s: LoraLinearSpec): KernelProgram => gpuProgram(T, s);
export const loraBackwardInputProgram = (T: Target, s: LoraBackwardInputSpec): KernelProgram => gpuProgram(T, s);
