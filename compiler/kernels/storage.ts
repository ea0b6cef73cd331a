// Which bindings of a kernel may be stored in 16 bits (bf16 or f16) under `precision bf16|fp16`:
// the contract between the storage pass (compiler/plan/storage.ts), which picks 16-bit buffers,
// and the code generators and the reference, which load such a binding by widening it exactly
// to f32 and store it by rounding to nearest even. It follows PyTorch autocast: operands and
// results of the forward ops (the frozen weights a GEMM multiplies by, activations) may be 16-bit;
// what accumulates or must keep f32's range does not: gradients, LoRA's A, B and shrink result
// s, optimizer state, norm statistics, attention's log-sum-exp, loss inputs, sums of squares.
// Every target must honour every name listed here (test/compiler/half-storage.test.ts emits each
// kind with all of them 16-bit for WGSL, CUDA and C).
import type { KernelSpec } from './spec.js';

const gemmLike = ['x', 'w', 'residual', 'y'];

/** The bindings of `spec` that may be 16-bit (a subset of its f32 bindings). */
export function halfBindings(spec: KernelSpec): readonly string[] {
  switch (spec.kind) {
    // lora_merge lowers to a gemm: a = B, b = A (f32 adapters), residual = W, c = W'.
    case 'gemm': return ['a', 'b', 'residual', 'c'];
    case 'linear': case 'lora_expand': return gemmLike;
    case 'lora_linear': return gemmLike;
    case 'lora_shrink': return ['x'];
    case 'lora_backward_input': return ['w'];
    case 'layer_norm': return ['x', 'y'];
    case 'layer_norm_backward': return ['x'];
    case 'add': return ['a', 'b', 'y'];
    case 'gelu': case 'softmax': case 'l2norm': case 'l2norm_scale': case 'geglu': return ['x', 'y'];
    case 'gelu_backward': case 'geglu_backward': case 'l2norm_scale_backward': case 'l2norm_backward': case 'unary_grad': return ['x'];
    case 'softmax_backward': return ['y'];
    case 'mean_pool': return ['x', 'y'];
    case 'dwconv3d': return ['x', 'y'];
    case 'dwconv3d_backward': return ['x'];
    case 'embedding': return ['table', 'y'];
    case 'attention': return ['q', 'k', 'v', 'bias', 'o'];
    // Not o: the backward takes rowsum(dout·o) from it, a difference of near-equal terms that a
    // 16-bit o would blur by ~2^-8 of its size (so a trained attention's output stays f32).
    case 'attention_backward': case 'attention_bias_grad': return ['q', 'k', 'v', 'bias'];
    case 'permute': case 'slice': return ['x', 'y'];
    case 'elementwise': return ['a', 'b', 'y'];
    case 'mul_grad': return ['b'];
    case 'broadcast_grad': return ['a'];
    case 'rel_pos_grid': return ['y'];
    default: return [];
  }
}
