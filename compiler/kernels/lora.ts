// The kernel sequences around a LoRA linear: its fused backward, and the unfused forward and
// backward (what PEFT runs, as separate launches) the benchmark compares against.
// Each step names its buffers in kernelBindings order; names are the caller's buffers:
//   x, w, bias, lora_a, lora_b, params (dropout seed), s (saved scaling·dropout(x)·Aᵀ), y,
//   dy, ds, dx, dlora_a, dlora_b, dw, and scratch y0, t, u, dx0, dx1 for the unfused paths.
import type { KernelSpec, LoraLinearSpec, GemmSpec } from './spec.js';

export interface KernelStep { spec: KernelSpec; args: string[] }

const gemm = (p: Omit<GemmSpec, 'kind' | 'bias' | 'activation' | 'residual' | 'maskB'> & Partial<GemmSpec>): GemmSpec =>
  ({ kind: 'gemm', bias: false, activation: 'none', residual: false, maskB: 0, ...p });

/** Fused backward of lora_linear (base frozen unless trainBase): 4 launches (5 with dW).
 *  ds = scaling·dy·B, dB = dyᵀ·s, dA = dsᵀ·dropout(x) (mask recomputed from the seed and the forward's stream),
 *  dx = dy·W + mask⊙(ds·A) in one kernel. Needs the forward's saved s. */
export function loraBackwardSteps(s: LoraLinearSpec, trainBase = false): KernelStep[] {
  const { m, k, n, r, scaling, dropout, stream } = s;
  const steps: KernelStep[] = [
    { spec: gemm({ m, k: n, n: r, transA: false, transB: false, alpha: scaling }), args: ['dy', 'lora_b', 'ds'] },
    { spec: gemm({ m: n, k: m, n: r, transA: true, transB: false, alpha: 1 }), args: ['dy', 's', 'dlora_b'] },
    { spec: gemm({ m: r, k: m, n: k, transA: true, transB: false, alpha: 1, maskB: dropout, ...(dropout > 0 ? { stream } : {}) }), args: dropout > 0 ? ['ds', 'x', 'params', 'dlora_a'] : ['ds', 'x', 'dlora_a'] },
    { spec: { kind: 'lora_backward_input', m, k, n, r, dropout, stream }, args: ['dy', 'w', 'ds', 'lora_a', 'params', 'dx'] },
  ];
  if (trainBase) steps.push({ spec: gemm({ m: n, k: m, n: k, transA: true, transB: false, alpha: 1 }), args: ['dy', 'x', 'dw'] });
  return steps;
}

/** PEFT's forward as four launches: y0 = x·Wᵀ + bias, t = dropout(x)·Aᵀ, u = scaling·t·Bᵀ, y = y0 + u. */
export function loraUnfusedForwardSteps(s: LoraLinearSpec): KernelStep[] {
  const { m, k, n, r } = s;
  return [
    { spec: { kind: 'linear', m, k, n, bias: s.bias, activation: 'none', residual: false }, args: s.bias ? ['x', 'w', 'bias', 'y0'] : ['x', 'w', 'y0'] },
    { spec: { kind: 'lora_shrink', m, k, r, scaling: 1, dropout: s.dropout, stream: s.stream }, args: ['x', 'lora_a', 'params', 't'] },
    { spec: gemm({ m, k: r, n, transA: false, transB: true, alpha: s.scaling }), args: ['t', 'lora_b', 'u'] },
    { spec: { kind: 'add', numel: m * n }, args: ['y0', 'u', 'y'] },
  ];
}

/** PEFT's backward as separate launches: dx0 = dy·W, ds, dB, dA, dx1 = ds·A, dx = dx0 + dx1
 *  (the dropout mask multiply on dx1 is left out, which only flatters the unfused path). */
export function loraUnfusedBackwardSteps(s: LoraLinearSpec): KernelStep[] {
  const { m, k, n, r } = s;
  const fused = loraBackwardSteps(s);
  return [
    { spec: gemm({ m, k: n, n: k, transA: false, transB: false, alpha: 1 }), args: ['dy', 'w', 'dx0'] },
    fused[0]!, fused[1]!, fused[2]!,
    { spec: gemm({ m, k: r, n: k, transA: false, transB: false, alpha: 1 }), args: ['ds', 'lora_a', 'dx1'] },
    { spec: { kind: 'add', numel: m * k }, args: ['dx0', 'dx1', 'dx'] },
  ];
}

/** The base layer alone: forward y = x·Wᵀ + bias; backward dx = dy·W (frozen base). */
export function baseForwardSteps(s: LoraLinearSpec): KernelStep[] {
  return [loraUnfusedForwardSteps(s)[0]!];
}
export function baseBackwardSteps(s: LoraLinearSpec): KernelStep[] {
  return [loraUnfusedBackwardSteps(s)[0]!];
}
