// The backward/optimizer helper kernels (CPU reference) against independent expectations:
// central finite differences of the forward they differentiate (same objective and tolerance as
// gradcheck.test.ts: L = Σ dy ⊙ forward(x), step 1e-2, tol 2e-3·max|g| + 1e-3·|fd|), and the
// optimizer reference of runtime/train/optimizer-ref.ts for AdamW and gradient clipping.
import { describe, it, expect } from 'vitest';
import type { KernelSpec } from '../../compiler/kernels/spec.js';
import { kernelBindings } from '../../compiler/kernels/bindings.js';
import { runReference, type Buffers } from '../../runtime/device/cpu/reference.js';
import { adamwStep, clipGradNorm, newAdamWState } from '../../runtime/train/optimizer-ref.js';
import { Rng } from '../../runtime/util/rng.js';

const H = 1e-2;

function run(spec: KernelSpec, inputs: Buffers): Buffers {
  const b: Buffers = { ...inputs };
  for (const bd of kernelBindings(spec)) if (!b[bd.name]) b[bd.name] = bd.dtype === 'f32' ? new Float32Array(bd.size) : new Uint32Array(bd.size);
  runReference(spec, b);
  return b;
}
const normal = (seed: number, n: number): Float32Array => new Rng(seed, 'helpers').fillNormal(new Float32Array(n)) as Float32Array;

/** Checks `grad` against central differences of x -> Σ dy·fwd(x) at every index (inputs are small). */
function checkFd(label: string, fwd: (x: Float32Array) => ArrayLike<number>, x: Float32Array, dy: ArrayLike<number>, grad: ArrayLike<number>): void {
  const obj = (): number => { const y = fwd(x); let l = 0; for (let i = 0; i < dy.length; i++) l += dy[i]! * y[i]!; return l; };
  let maxG = 0; for (let i = 0; i < grad.length; i++) maxG = Math.max(maxG, Math.abs(grad[i]!));
  expect(maxG, `${label}: gradient all zero`).toBeGreaterThan(0);
  for (let i = 0; i < x.length; i++) {
    const o = x[i]!;
    x[i] = o + H; const lp = obj(); x[i] = o - H; const lm = obj(); x[i] = o;
    const fd = (lp - lm) / (2 * H);
    if (!(Math.abs(fd - grad[i]!) <= 2e-3 * maxG + 1e-3 * Math.abs(fd))) expect.fail(`${label}: [${i}] analytic ${grad[i]} vs finite difference ${fd}`);
  }
}

describe('backward helper kernels match finite differences', () => {
  it('l2norm_backward (forward: l2norm_scale with gamma = 1)', () => {
    const rows = 4, n = 9, x = normal(1, rows * n), dy = normal(2, rows * n);
    const fwd = (xx: Float32Array) => run({ kind: 'l2norm_scale', rows, n, eps: 1e-12 }, { x: xx, gamma: new Float32Array(n).fill(1) }).y!;
    checkFd('l2norm', fwd, x, dy, run({ kind: 'l2norm_backward', rows, n, eps: 1e-12 }, { x, dy }).dx!);
  });
  it('permute: the backward is the inverse permutation', () => {
    const inShape = [2, 3, 4, 5], perm = [0, 2, 3, 1];
    const x = normal(3, 120), dy = normal(4, 120);
    const inv = perm.map((_, i) => perm.indexOf(i));
    const fwd = (xx: Float32Array) => run({ kind: 'permute', inShape, perm }, { x: xx }).y!;
    // Hand value: y[0,1,2,0] (shape [2,4,5,3]) = x[0,0,1,2].
    expect(fwd(x)[((0 * 4 + 1) * 5 + 2) * 3 + 0]).toBe(x[((0 * 3 + 0) * 4 + 1) * 5 + 2]);
    checkFd('permute', fwd, x, dy, run({ kind: 'permute', inShape: perm.map((p) => inShape[p]!), perm: inv }, { x: dy }).y!);
  });
  it('slice_backward (write and accumulate)', () => {
    const outer = 3, len = 7, inner = 2, start = 2, end = 5, w = end - start;
    const x = normal(5, outer * len * inner), dy = normal(6, outer * w * inner);
    const fwd = (xx: Float32Array) => {
      const y = new Float32Array(outer * w * inner);
      for (let o = 0; o < outer; o++) for (let j = 0; j < w; j++) for (let i = 0; i < inner; i++) y[(o * w + j) * inner + i] = xx[(o * len + j + start) * inner + i]!;
      return y;
    };
    const dx = run({ kind: 'slice_backward', outer, len, inner, start, end, accumulate: false }, { dy, dx: normal(9, x.length) }).dx!;
    checkFd('slice', fwd, x, dy, dx);
    const base = normal(7, x.length);
    const acc = run({ kind: 'slice_backward', outer, len, inner, start, end, accumulate: true }, { dy, dx: base.slice() }).dx!;
    for (let i = 0; i < x.length; i++) expect(acc[i]).toBe(Math.fround(base[i]! + dx[i]!));
  });
  it('mul_grad with a broadcast operand, bias_grad, axpy', () => {
    const a = normal(8, 24), b = normal(9, 6), dy = normal(10, 24);
    checkFd('mul', (aa) => Array.from(aa, (v, i) => v * b[i % 6]!), a, dy, run({ kind: 'mul_grad', numel: 24, bNumel: 6 }, { dy, b }).dx!);
    const bias = normal(11, 6);
    checkFd('bias', (bb) => Array.from(a, (v, i) => v + bb[i % 6]!), bias, dy, run({ kind: 'bias_grad', rows: 4, n: 6 }, { dy }).db!);
    const y0 = normal(12, 24);
    const y = run({ kind: 'axpy', numel: 24, alpha: 0.5, accumulate: true }, { x: a, y: y0.slice() }).y!;
    for (let i = 0; i < 24; i++) expect(y[i]).toBe(Math.fround(y0[i]! + 0.5 * a[i]!));
  });
});

describe('optimizer kernels match runtime/train/optimizer-ref.ts', () => {
  it('grad_clip (sumsq per tensor + grad_clip_scale) equals clipGradNorm', () => {
    const grads = [normal(20, 50), normal(21, 7), normal(22, 130)];
    for (const maxNorm of [0.5, 1e3]) {
      const want = grads.map((g) => g.slice());
      const total = clipGradNorm(want, maxNorm);
      const norms = new Float32Array(3);
      grads.forEach((g, i) => run({ kind: 'sumsq', numel: g.length, tensors: 3, index: i }, { x: g, norms, partial: new Float32Array(1) }));
      expect(Math.sqrt(norms.reduce((a, b) => a + b, 0))).toBeCloseTo(total, 4);
      grads.forEach((g, i) => {
        const got = run({ kind: 'grad_clip_scale', numel: g.length, tensors: 3, maxNorm }, { norms, g: g.slice() }).g!;
        for (let j = 0; j < g.length; j++) expect(Math.abs(got[j]! - want[i]![j]!)).toBeLessThanOrEqual(1e-6 * Math.abs(want[i]![j]!) + 1e-9);
      });
    }
  });
  it('adamw reads step and the scheduled lr from params and matches adamwStep over 3 steps', () => {
    const cfg = { lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.01 };
    const p0 = normal(30, 40);
    const want = p0.slice(), st = newAdamWState(40);
    const got = p0.slice(), m = new Float32Array(40), v = new Float32Array(40);
    for (let step = 1; step <= 3; step++) {
      const g = normal(31 + step, 40), lr = cfg.lr * step / 3;
      adamwStep(want, g, st, cfg, lr);
      const params = Uint32Array.from([0, step, new Uint32Array(Float32Array.of(lr).buffer)[0]!, 0]);
      run({ kind: 'adamw', numel: 40, beta1: cfg.beta1, beta2: cfg.beta2, eps: cfg.eps, weightDecay: cfg.weightDecay }, { grad: g, params, param: got, m, v });
    }
    // f64 math in the kernel reference vs PyTorch's f32 op order: a few ulps of the update per step.
    for (let i = 0; i < 40; i++) expect(Math.abs(got[i]! - want[i]!)).toBeLessThanOrEqual(1e-6 * Math.abs(want[i]!) + 1e-7);
    expect(Math.abs(got[0]! - p0[0]!)).toBeGreaterThan(1e-4);
  });
});

describe('trainable-base helper kernels match finite differences', () => {
  it('unary_grad (exp, leaky_relu)', () => {
    const x = normal(40, 30), dy = normal(41, 30);
    checkFd('exp', (xx) => Array.from(xx, Math.exp), x, dy, run({ kind: 'unary_grad', numel: 30, op: 'exp', slope: 0 }, { x, dy }).dx!);
    // Keep every point 2·eps away from the kink at 0, where the difference quotient straddles it.
    for (let i = 0; i < x.length; i++) x[i] = x[i]! + Math.sign(x[i]!) * 2 * H;
    checkFd('leaky_relu', (xx) => Array.from(xx, (v) => (v >= 0 ? v : 0.1 * v)), x, dy, run({ kind: 'unary_grad', numel: 30, op: 'leaky_relu', slope: 0.1 }, { x, dy }).dx!);
  });
  it('broadcast_grad (a scalar and a row, add and mul)', () => {
    const a = normal(42, 24), dy = normal(43, 24);
    for (const bn of [1, 6]) {
      const bb = normal(44 + bn, bn);
      checkFd(`mul b[${bn}]`, (v) => Array.from(a, (x, i) => x * v[i % bn]!), bb, dy, run({ kind: 'broadcast_grad', numel: 24, bNumel: bn, mul: true }, { dy, a }).db!);
      checkFd(`add b[${bn}]`, (v) => Array.from(a, (x, i) => x + v[i % bn]!), bb, dy, run({ kind: 'broadcast_grad', numel: 24, bNumel: bn, mul: false }, { dy }).db!);
    }
  });
  it('attention_bias_grad (with key mask)', () => {
    const fwd: KernelSpec = { kind: 'attention', batch: 2, heads: 2, nq: 4, nk: 5, dh: 3, scale: 0.7, bias: true, mask: true };
    const n = 2 * 4 * 2 * 3, nkv = 2 * 5 * 2 * 3;
    const q = normal(50, n), k = normal(51, nkv), v = normal(52, nkv), bias = normal(53, 2 * 4 * 5), dout = normal(54, n);
    const mask = Int32Array.from([1, 1, 0, 1, 1, 1, 1, 1, 1, 0]);
    const f0 = run(fwd, { q, k, v, bias, mask });
    const g = run({ kind: 'attention_bias_grad', batch: 2, heads: 2, nq: 4, nk: 5, dh: 3, scale: 0.7, mask: true }, { q, k, v, bias, mask, o: f0.o!, lse: f0.lse!, dout }).dbias!;
    checkFd('attention bias', (bb) => run(fwd, { q, k, v, bias: bb, mask }).o!, bias, dout, g);
  });
});
