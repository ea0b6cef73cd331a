// Backward kernels (CPU reference) against central finite differences of their forward kernels.
// The objective is L = Σ dy ⊙ forward(inputs) in f64 over f32 storage; step 1e-2 (relative to
// O(1) inputs) keeps f32 rounding (~1e-7·|L|/h) and truncation (~h²) both near 1e-4 of the
// gradient's scale; tolerance 2e-3·max|grad| + 1e-3·|grad|.
import { describe, it, expect } from 'vitest';
import type { KernelSpec, LoraLinearSpec } from '../../compiler/kernels/spec.js';
import { kernelBindings } from '../../compiler/kernels/bindings.js';
import { loraBackwardSteps } from '../../compiler/kernels/lora.js';
import { runReference, pairLoss, clipLoss, type Buffers } from '../../runtime/device/cpu/reference.js';
import { Rng } from '../../runtime/util/rng.js';
import { randomInputs, cloneBuffers } from './inputs.js';

const H = 1e-2;

/** Σ dy·out of the forward kernel, all outputs named in `outs` paired with their cotangents. */
function objective(spec: KernelSpec, inputs: Buffers, cot: Record<string, Float32Array>): number {
  const b = cloneBuffers(inputs);
  for (const bd of kernelBindings(spec)) if (bd.access === 'read_write' && !b[bd.name]) b[bd.name] = new Float32Array(bd.size);
  runReference(spec, b);
  let l = 0;
  for (const [name, c] of Object.entries(cot)) { const o = b[name]!; for (let i = 0; i < c.length; i++) l += c[i]! * o[i]!; }
  return l;
}

function checkGrad(label: string, fwd: KernelSpec, inputs: Buffers, cot: Record<string, Float32Array>, wrt: string, grad: ArrayLike<number>, samples = 10): void {
  const rng = new Rng(7, label, wrt);
  const x = inputs[wrt] as Float32Array;
  let maxG = 0; for (let i = 0; i < grad.length; i++) maxG = Math.max(maxG, Math.abs(grad[i]!));
  expect(maxG, `${label}: d${wrt} is all zero`).toBeGreaterThan(0);
  const idx = x.length <= samples ? [...x.keys()] : Array.from({ length: samples }, () => rng.int(x.length));
  for (const i of idx) {
    const orig = x[i]!;
    x[i] = orig + H; const lp = objective(fwd, inputs, cot);
    x[i] = orig - H; const lm = objective(fwd, inputs, cot);
    x[i] = orig;
    const fd = (lp - lm) / (2 * H);
    const tol = 2e-3 * maxG + 1e-3 * Math.abs(fd);
    if (!(Math.abs(fd - grad[i]!) <= tol)) expect.fail(`${label}: d${wrt}[${i}] analytic ${grad[i]} vs finite difference ${fd}`);
  }
}

function backward(spec: KernelSpec, inputs: Buffers): Buffers {
  const b = cloneBuffers(inputs);
  for (const bd of kernelBindings(spec)) if (bd.access === 'read_write') b[bd.name] = new Float32Array(bd.size);
  runReference(spec, b);
  return b;
}

describe('backward kernels match finite differences of the forward kernels', () => {
  it('layer_norm', () => {
    const fwd: KernelSpec = { kind: 'layer_norm', rows: 5, n: 11, eps: 1e-5, bias: true };
    const inp = randomInputs(fwd, 1);
    const dy = new Rng(2).fillNormal(new Float32Array(55)) as Float32Array;
    const g = backward({ kind: 'layer_norm_backward', rows: 5, n: 11, eps: 1e-5, bias: true }, { ...inp, dy });
    for (const [w, gn] of [['x', 'dx'], ['gamma', 'dgamma'], ['beta', 'dbeta']] as const) checkGrad('layer_norm', fwd, inp, { y: dy }, w, g[gn]!);
  });
  it('softmax (softmax_backward from the forward output y)', () => {
    const fwd: KernelSpec = { kind: 'softmax', rows: 7, n: 13 };
    const inp = randomInputs(fwd, 21);
    const fo = cloneBuffers(inp); fo.y = new Float32Array(91); runReference(fwd, fo);
    const dy = new Rng(22).fillNormal(new Float32Array(91)) as Float32Array;
    const g = backward({ kind: 'softmax_backward', rows: 7, n: 13 }, { y: fo.y, dy });
    checkGrad('softmax', fwd, inp, { y: dy }, 'x', g.dx!, 91);
    // Softmax is shift-invariant per row, so each row of dx sums to 0.
    const dx = g.dx as Float32Array;
    for (let r = 0; r < 7; r++) expect(Math.abs(dx.subarray(r * 13, r * 13 + 13).reduce((a, v) => a + v, 0))).toBeLessThan(1e-6);
  });
  it('gelu, geglu', () => {
    const fwd: KernelSpec = { kind: 'gelu', numel: 40 };
    const inp = randomInputs(fwd, 3);
    const dy = new Rng(4).fillNormal(new Float32Array(40)) as Float32Array;
    checkGrad('gelu', fwd, inp, { y: dy }, 'x', backward({ kind: 'gelu_backward', numel: 40 }, { ...inp, dy }).dx!);
    const gf: KernelSpec = { kind: 'geglu', rows: 3, n: 7 };
    const gi = randomInputs(gf, 5);
    const gdy = new Rng(6).fillNormal(new Float32Array(21)) as Float32Array;
    checkGrad('geglu', gf, gi, { y: gdy }, 'x', backward({ kind: 'geglu_backward', rows: 3, n: 7 }, { ...gi, dy: gdy }).dx!, 42);
  });
  it('l2norm_scale', () => {
    const fwd: KernelSpec = { kind: 'l2norm_scale', rows: 4, n: 9, eps: 1e-12 };
    const inp = randomInputs(fwd, 8);
    const dy = new Rng(9).fillNormal(new Float32Array(36)) as Float32Array;
    const g = backward({ kind: 'l2norm_scale_backward', rows: 4, n: 9, eps: 1e-12 }, { ...inp, dy });
    checkGrad('l2norm_scale', fwd, inp, { y: dy }, 'x', g.dx!);
    checkGrad('l2norm_scale', fwd, inp, { y: dy }, 'gamma', g.dgamma!);
  });
  it('attention with bias and key mask', () => {
    const fwd: KernelSpec = { kind: 'attention', batch: 2, heads: 2, nq: 5, nk: 6, dh: 4, scale: 0.5, bias: true, mask: true };
    const inp = randomInputs(fwd, 10);
    const dout = new Rng(11).fillNormal(new Float32Array(inp.o!.length)) as Float32Array;
    const fo = cloneBuffers(inp); runReference(fwd, fo);
    const g = backward({ ...fwd, kind: 'attention_backward' }, { ...inp, o: fo.o!, lse: fo.lse!, dout });
    for (const w of ['q', 'k', 'v'] as const) checkGrad('attention', fwd, inp, { o: dout }, w, g[`d${w}`]!, 16);
  });
  it('depthwise conv3d (causal time padding) and mean pool', () => {
    const fwd: KernelSpec = { kind: 'dwconv3d', batch: 1, t: 3, h: 3, w: 4, c: 2, bias: true };
    const inp = randomInputs(fwd, 17);
    const dy = new Rng(18).fillNormal(new Float32Array(72)) as Float32Array;
    const g = backward({ ...fwd, kind: 'dwconv3d_backward' }, { ...inp, dy });
    for (const [w, gn] of [['x', 'dx'], ['weight', 'dweight'], ['bias', 'dbias']] as const) checkGrad('dwconv3d', fwd, inp, { y: dy }, w, g[gn]!, 14);
    const mp: KernelSpec = { kind: 'mean_pool', outer: 2, axisLen: 5, inner: 3 };
    const mi = randomInputs(mp, 19);
    const mdy = new Rng(20).fillNormal(new Float32Array(6)) as Float32Array;
    checkGrad('mean_pool', mp, mi, { y: mdy }, 'x', backward({ ...mp, kind: 'mean_pool_backward' }, { dy: mdy }).dx!);
  });
  it('embedding', () => {
    const fwd: KernelSpec = { kind: 'embedding', tokens: 9, dim: 3, vocab: 4 };
    const inp = randomInputs(fwd, 12);
    const dy = new Rng(13).fillNormal(new Float32Array(27)) as Float32Array;
    checkGrad('embedding', fwd, inp, { y: dy }, 'table', backward({ kind: 'embedding_backward', tokens: 9, dim: 3, vocab: 4 }, { ...inp, dy }).dtable!, 12);
  });
  it('losses: pair MSE, pair CE, CLIP InfoNCE', () => {
    const rng = new Rng(14);
    const logits = rng.fillNormal(new Float32Array(10)) as Float32Array;
    const targets = Float32Array.from([1, 0, 1, 1, 0]);
    for (const kind of ['pair_mse_loss', 'pair_ce_loss'] as const) {
      const { grad } = pairLoss(kind, logits, targets);
      for (let i = 0; i < 10; i++) {
        const p = logits.slice(); p[i] += H; const m = logits.slice(); m[i] -= H;
        const fd = (pairLoss(kind, p, targets).loss - pairLoss(kind, m, targets).loss) / (2 * H);
        expect(Math.abs(fd - grad[i]!)).toBeLessThan(1e-4);
      }
    }
    const cl = rng.fillNormal(new Float32Array(16)) as Float32Array;
    const { grad } = clipLoss(cl, 4);
    for (let i = 0; i < 16; i++) {
      const p = cl.slice(); p[i] += H; const m = cl.slice(); m[i] -= H;
      expect(Math.abs((clipLoss(p, 4).loss - clipLoss(m, 4).loss) / (2 * H) - grad[i]!)).toBeLessThan(1e-4);
    }
    // A hand value: two pairs with equal logits give p = 1/2; MSE = mean((1/2 - t)²) = 1/4.
    expect(pairLoss('pair_mse_loss', [0, 0, 3, 3], [1, 0]).loss).toBeCloseTo(0.25, 12);
  });
  it('LoRA linear: the fused backward sequence (ds, dB, dA with the dropout mask, dx) and dW', () => {
    const fwd: LoraLinearSpec = { kind: 'lora_linear', m: 6, k: 5, n: 7, r: 3, scaling: 1.5, dropout: 0.3, stream: 4, bias: true, activation: 'none', residual: false };
    const inp = randomInputs(fwd, 15);
    const fo = cloneBuffers(inp); runReference(fwd, fo);
    const dy = new Rng(16).fillNormal(new Float32Array(42)) as Float32Array;
    const bufs: Buffers = { ...cloneBuffers(inp), s: fo.s!, dy };
    for (const step of loraBackwardSteps(fwd, true)) {
      const named: Buffers = {};
      kernelBindings(step.spec).forEach((b, i) => {
        const arg = step.args[i]!;
        bufs[arg] ??= new Float32Array(b.size);
        named[b.name] = bufs[arg]!;
      });
      runReference(step.spec, named);
    }
    for (const [w, g] of [['x', 'dx'], ['lora_a', 'dlora_a'], ['lora_b', 'dlora_b'], ['w', 'dw']] as const) checkGrad('lora_linear', fwd, inp, { y: dy }, w, bufs[g]!, 15);
  });
});
