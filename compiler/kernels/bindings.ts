// The buffers a kernel takes, in binding order (WGSL @binding(i), CUDA argument i). The executor
// passes buffers in exactly this order; the CPU reference reads them by name.
import { sumsqParts, type KernelSpec } from './spec.js';

export interface Binding {
  name: string;
  /** bf16/f16: an f32 binding stored in 16 bits (KernelSpec.half). */
  dtype: 'f32' | 'i32' | 'u32' | 'bf16' | 'f16';
  /** Elements. */
  size: number;
  access: 'read' | 'read_write';
}

const r = (name: string, size: number, dtype: Binding['dtype'] = 'f32'): Binding => ({ name, dtype, size, access: 'read' });
const w = (name: string, size: number, dtype: Binding['dtype'] = 'f32'): Binding => ({ name, dtype, size, access: 'read_write' });
/** Runtime scalars: [dropout seed, AdamW step, lr as f32 bits, 0]. Always 4 u32 so every backend can bind it the same way. */
const params = (): Binding => r('params', 4, 'u32');

const epilogue = (s: { bias: boolean; residual: boolean; n: number; m: number }): Binding[] => [
  ...(s.bias ? [r('bias', s.n)] : []),
  ...(s.residual ? [r('residual', s.m * s.n)] : []),
];

/** Bytes per element of a binding or plan buffer dtype. */
export const dtypeBytes = (dtype: Binding['dtype']): number => (dtype === 'bf16' || dtype === 'f16' ? 2 : 4);

/** The buffers of `spec` in binding order, with its 16-bit bindings (spec.half) typed so. */
export function kernelBindings(spec: KernelSpec): Binding[] {
  const all = f32Bindings(spec);
  const half = spec.half;
  if (!half) return all;
  for (const name of half.bindings) {
    const b = all.find((x) => x.name === name);
    if (!b || b.dtype !== 'f32') throw new Error(`internal: ${spec.kind} has no f32 binding ${name} to store in ${half.dtype}`);
  }
  return all.map((b) => (half.bindings.includes(b.name) ? { ...b, dtype: half.dtype } : b));
}

function f32Bindings(spec: KernelSpec): Binding[] {
  switch (spec.kind) {
    case 'gemm': {
      const { m, k, n } = spec;
      return [r('a', m * k), r('b', k * n), ...epilogue(spec), ...(spec.maskB > 0 ? [params()] : []), w('c', m * n)];
    }
    case 'linear':
      return [r('x', spec.m * spec.k), r('w', spec.n * spec.k), ...epilogue(spec), w('y', spec.m * spec.n)];
    case 'lora_linear':
      return [r('x', spec.m * spec.k), r('w', spec.n * spec.k), r('lora_a', spec.r * spec.k), r('lora_b', spec.n * spec.r),
        ...epilogue(spec), params(), w('y', spec.m * spec.n), w('s', spec.m * spec.r)];
    case 'lora_shrink':
      return [r('x', spec.m * spec.k), r('lora_a', spec.r * spec.k), params(), w('s', spec.m * spec.r)];
    case 'lora_expand':
      return [r('x', spec.m * spec.k), r('w', spec.n * spec.k), r('s', spec.m * spec.r), r('lora_b', spec.n * spec.r),
        ...epilogue(spec), w('y', spec.m * spec.n)];
    case 'lora_backward_input':
      return [r('dy', spec.m * spec.n), r('w', spec.n * spec.k), r('ds', spec.m * spec.r), r('lora_a', spec.r * spec.k),
        params(), w('dx', spec.m * spec.k)];
    case 'layer_norm':
      return [r('x', spec.rows * spec.n), r('gamma', spec.n), ...(spec.bias ? [r('beta', spec.n)] : []), w('y', spec.rows * spec.n)];
    case 'layer_norm_backward':
      return [r('x', spec.rows * spec.n), r('gamma', spec.n), r('dy', spec.rows * spec.n),
        w('dx', spec.rows * spec.n), w('dgamma', spec.n), w('dbeta', spec.n), w('stats', spec.rows * 2)];
    case 'add':
      return [r('a', spec.numel), r('b', spec.numel), w('y', spec.numel)];
    case 'gelu':
      return [r('x', spec.numel), w('y', spec.numel)];
    case 'gelu_backward':
      return [r('x', spec.numel), r('dy', spec.numel), w('dx', spec.numel)];
    case 'geglu':
      return [r('x', spec.rows * 2 * spec.n), w('y', spec.rows * spec.n)];
    case 'geglu_backward':
      return [r('x', spec.rows * 2 * spec.n), r('dy', spec.rows * spec.n), w('dx', spec.rows * 2 * spec.n)];
    case 'softmax':
      return [r('x', spec.rows * spec.n), w('y', spec.rows * spec.n)];
    case 'softmax_backward':
      return [r('y', spec.rows * spec.n), r('dy', spec.rows * spec.n), w('dx', spec.rows * spec.n)];
    case 'l2norm_scale':
      return [r('x', spec.rows * spec.n), r('gamma', spec.n), w('y', spec.rows * spec.n)];
    case 'l2norm_scale_backward':
      return [r('x', spec.rows * spec.n), r('gamma', spec.n), r('dy', spec.rows * spec.n), w('dx', spec.rows * spec.n), w('dgamma', spec.n), w('stats', spec.rows)];
    case 'mean_pool':
      return [r('x', spec.outer * spec.axisLen * spec.inner), w('y', spec.outer * spec.inner)];
    case 'mean_pool_backward':
      return [r('dy', spec.outer * spec.inner), w('dx', spec.outer * spec.axisLen * spec.inner)];
    case 'dwconv3d_backward': {
      const numel = spec.batch * spec.t * spec.h * spec.w * spec.c;
      return [r('x', numel), r('weight', spec.c * 27), r('dy', numel), w('dx', numel), w('dweight', spec.c * 27), w('dbias', spec.c)];
    }
    case 'embedding':
      return [r('ids', spec.tokens, 'i32'), r('table', spec.vocab * spec.dim), w('y', spec.tokens * spec.dim)];
    case 'embedding_backward':
      return [r('ids', spec.tokens, 'i32'), r('dy', spec.tokens * spec.dim), w('dtable', spec.vocab * spec.dim)];
    case 'dwconv3d': {
      const numel = spec.batch * spec.t * spec.h * spec.w * spec.c;
      return [r('x', numel), r('weight', spec.c * 27), ...(spec.bias ? [r('bias', spec.c)] : []), w('y', numel)];
    }
    case 'attention': {
      const { batch: b, heads: h, nq, nk, dh } = spec;
      return [r('q', b * nq * h * dh), r('k', b * nk * h * dh), r('v', b * nk * h * dh),
        ...(spec.bias ? [r('bias', h * nq * nk)] : []), ...(spec.mask ? [r('mask', b * nk, 'i32')] : []),
        w('o', b * nq * h * dh), w('lse', b * h * nq)];
    }
    case 'attention_backward': {
      const { batch: b, heads: h, nq, nk, dh } = spec;
      return [r('q', b * nq * h * dh), r('k', b * nk * h * dh), r('v', b * nk * h * dh),
        ...(spec.bias ? [r('bias', h * nq * nk)] : []), ...(spec.mask ? [r('mask', b * nk, 'i32')] : []),
        r('o', b * nq * h * dh), r('lse', b * h * nq), r('dout', b * nq * h * dh),
        w('dq', b * nq * h * dh), w('dk', b * nk * h * dh), w('dv', b * nk * h * dh)];
    }
    case 'vq_nearest':
      return [r('x', spec.rows * spec.dim), r('codebook', spec.codebook * spec.dim), w('y', spec.rows * spec.dim), w('idx', spec.rows, 'i32')];
    case 'pair_mse_loss': case 'pair_ce_loss':
      return [r('logits', spec.batch * 2), r('targets', spec.batch), w('loss', 1), w('dlogits', spec.batch * 2)];
    case 'clip_loss':
      return [r('logits', spec.batch * spec.batch), w('loss', 1), w('dlogits', spec.batch * spec.batch)];
    case 'adamw':
      return [r('grad', spec.numel), params(), w('param', spec.numel), w('m', spec.numel), w('v', spec.numel)];
    case 'axpy':
      return [r('x', spec.numel), w('y', spec.numel)];
    case 'permute': {
      const numel = spec.inShape.reduce((a, b) => a * b, 1);
      return [r('x', numel), w('y', numel)];
    }
    case 'slice_backward':
      return [r('dy', spec.outer * (spec.end - spec.start) * spec.inner), w('dx', spec.outer * spec.len * spec.inner)];
    case 'mul_grad':
      return [r('dy', spec.numel), r('b', spec.bNumel), w('dx', spec.numel)];
    case 'unary_grad':
      return [r('x', spec.numel), r('dy', spec.numel), w('dx', spec.numel)];
    case 'broadcast_grad':
      return [r('dy', spec.numel), ...(spec.mul ? [r('a', spec.numel)] : []), w('db', spec.bNumel)];
    case 'attention_bias_grad': {
      const { batch: b, heads: h, nq, nk, dh } = spec;
      return [r('q', b * nq * h * dh), r('k', b * nk * h * dh), r('v', b * nk * h * dh), r('bias', h * nq * nk),
        ...(spec.mask ? [r('mask', b * nk, 'i32')] : []), r('o', b * nq * h * dh), r('lse', b * h * nq), r('dout', b * nq * h * dh),
        w('dbias', h * nq * nk)];
    }
    case 'l2norm_backward':
      return [r('x', spec.rows * spec.n), r('dy', spec.rows * spec.n), w('dx', spec.rows * spec.n)];
    case 'bias_grad':
      return [r('dy', spec.rows * spec.n), w('db', spec.n)];
    case 'sumsq':
      return [r('x', spec.numel), w('norms', spec.tensors), w('partial', sumsqParts(spec.numel))];
    case 'slice':
      return [r('x', spec.outer * spec.len * spec.inner), w('y', spec.outer * (spec.end - spec.start) * spec.inner)];
    case 'l2norm':
      return [r('x', spec.rows * spec.n), w('y', spec.rows * spec.n)];
    case 'rel_pos_grid':
      return [w('y', (spec.h * spec.w) ** 2 * 2)];
    case 'elementwise':
      return [r('a', spec.aNumel), ...(spec.bNumel > 0 ? [r('b', spec.bNumel)] : []), w('y', spec.numel)];
    case 'grad_clip_scale':
      return [r('norms', spec.tensors), w('g', spec.numel)];
  }
}
