// KernelSpec: what one kernel computes, with every static parameter (shapes, flags) fixed.
// The plan names a KernelSpec per kernel; the code generators (compiler/codegen/{wgsl,cuda}) and
// the CPU reference (runtime/device/cpu) each turn it into something that runs. Parameter names
// follow the plan's lowering (compiler/plan/specs.ts): m,k,n for GEMMs, r and scaling for LoRA.
//
// Conventions shared by every target:
// - all tensors are f32 row-major, except token ids / labels (i32) and dropout seeds (u32);
// - weights are stored like PyTorch: a linear's W is [n, k] (y = x·Wᵀ), LoRA A is [r, k], B is [n, r];
// - runtime scalars that change step to step (dropout seed, AdamW step) travel in a small `u32`
//   params buffer, never baked into source, so one compiled program serves every step;
// - the buffer order of a kernel is `kernelBindings(spec)` (compiler/kernels/bindings.ts).
//
// Types are aliases (not interfaces) so each member is assignable to the plan's loose
// `{ kind: string; [param]: ... }` record.

export type Activation = 'none' | 'gelu';

/** C[m,n] = alpha·op(A)·op(B) (+ bias[n]) then activation, then (+ R[m,n]).
 *  op(A) is A[m,k] or, with transA, A stored [k,m]; op(B) is B[k,n] or, with transB, B stored [n,k].
 *  maskB > 0 applies the seeded dropout mask (drop probability maskB, keyed by B's flat storage index
 *  and the mask's `stream`, default 0) to B as it is loaded: LoRA's dA = dSᵀ·dropout(x) without
 *  materialising dropout(x). */
export type GemmSpec = {
  kind: 'gemm'; m: number; k: number; n: number;
  transA: boolean; transB: boolean; alpha: number;
  bias: boolean; activation: Activation; residual: boolean; maskB: number; stream?: number;
};

/** y = x·Wᵀ + bias, then activation, then + residual. x [m,k], W [n,k]. */
export type LinearSpec = {
  kind: 'linear'; m: number; k: number; n: number;
  bias: boolean; activation: Activation; residual: boolean;
};

/** Fused LoRA linear: y = x·Wᵀ + scaling·(dropout(x)·Aᵀ)·Bᵀ + bias, activation, + residual.
 *  Emitted as two launches (see compiler/codegen/kernels/gemm.ts for why): `lora_shrink`
 *  (s = scaling·dropout(x)·Aᵀ, [m,r]) then one GEMM over the concatenated K axis [x | s]·[W | B]ᵀ.
 *  dropout is the drop probability p; kept values are scaled by 1/(1-p) (PyTorch semantics).
 *  stream is the adapter's dropout stream (the graph's dropout op attrs.stream): the mask of element
 *  i is a function of (run seed, stream, i), so adapters draw independent masks in one step and an
 *  adapter's backward (same stream) recomputes its forward's mask. */
export type LoraLinearSpec = {
  kind: 'lora_linear'; m: number; k: number; n: number; r: number;
  scaling: number; dropout: number; stream: number;
  bias: boolean; activation: Activation; residual: boolean;
};

/** s[m,r] = scaling·dropout(x)·Aᵀ, the first half of lora_linear (and its saved activation). */
export type LoraShrinkSpec = { kind: 'lora_shrink'; m: number; k: number; r: number; scaling: number; dropout: number; stream: number };

/** The single GEMM of lora_linear: y = x·Wᵀ + s·Bᵀ + bias, act, + residual (s already scaled). */
export type LoraExpandSpec = {
  kind: 'lora_expand'; m: number; k: number; n: number; r: number;
  bias: boolean; activation: Activation; residual: boolean;
};

/** dX[m,k] = dY·W + mask⊙(dS·A)/(1-p), where dS = scaling·dY·B (given). The LoRA half of the
 *  backward input gradient shares dY·W's output tile; the dropout mask is recomputed from the seed. */
export type LoraBackwardInputSpec = { kind: 'lora_backward_input'; m: number; k: number; n: number; r: number; dropout: number; stream: number };

/** Plain row-wise ops. */
export type LayerNormSpec = { kind: 'layer_norm'; rows: number; n: number; eps: number; bias: boolean };
/** dX, dGamma, dBeta (dBeta written even without bias: callers ignore it). Recomputes the row
 *  statistics (into the `stats` scratch) instead of saving them from the forward pass. */
export type LayerNormBackwardSpec = { kind: 'layer_norm_backward'; rows: number; n: number; eps: number; bias: boolean };
/** y = a + b, element-wise (the unfused LoRA path's final add; residual adds elsewhere are epilogues). */
export type AddSpec = { kind: 'add'; numel: number };
export type GeluSpec = { kind: 'gelu'; numel: number };
export type GeluBackwardSpec = { kind: 'gelu_backward'; numel: number };
/** x [rows, 2n] -> a·gelu(g) where a = x[:, :n], g = x[:, n:] (CT-CLIP's GEGLU order). */
export type GegluSpec = { kind: 'geglu'; rows: number; n: number };
export type GegluBackwardSpec = { kind: 'geglu_backward'; rows: number; n: number };
export type SoftmaxSpec = { kind: 'softmax'; rows: number; n: number };
/** dx = y ⊙ (dy − Σ_j dy⊙y) per row of [rows, n], from the forward's output y (no recompute). */
export type SoftmaxBackwardSpec = { kind: 'softmax_backward'; rows: number; n: number };
/** y = x / max(‖x‖, eps) · gamma[n] (CT-CLIP's q/k norm with learned scale). */
export type L2NormScaleSpec = { kind: 'l2norm_scale'; rows: number; n: number; eps: number };
export type L2NormScaleBackwardSpec = { kind: 'l2norm_scale_backward'; rows: number; n: number; eps: number };
/** Mean over the middle axis of [outer, axisLen, inner]. */
export type MeanPoolSpec = { kind: 'mean_pool'; outer: number; axisLen: number; inner: number };
export type MeanPoolBackwardSpec = { kind: 'mean_pool_backward'; outer: number; axisLen: number; inner: number };
/** out[t,:] = table[ids[t],:]. */
export type EmbeddingSpec = { kind: 'embedding'; tokens: number; dim: number; vocab: number };
/** dTable[v,:] = Σ_{t: ids[t]=v} dOut[t,:], one thread per (v, d): deterministic, no atomics. */
export type EmbeddingBackwardSpec = { kind: 'embedding_backward'; tokens: number; dim: number; vocab: number };
/** Depthwise 3x3x3 conv on channels-last [batch,t,h,w,c], weight [c,27] (PyTorch [c,1,3,3,3]
 *  flattened); causal in t (pad 2 before, 0 after), zero pad 1 in h, w. */
export type DwConv3dSpec = { kind: 'dwconv3d'; batch: number; t: number; h: number; w: number; c: number; bias: boolean };
/** dx (transposed conv), dweight [c,27] and dbias [c] (written even without bias). */
export type DwConv3dBackwardSpec = { kind: 'dwconv3d_backward'; batch: number; t: number; h: number; w: number; c: number; bias: boolean };
/** Attention with online softmax: q [b,nq,h,dh], k,v [b,nk,h,dh] -> o [b,nq,h,dh].
 *  logits = scale·q·kᵀ (+ bias[h,nq,nk]) with keys where mask[b,nk]==0 excluded.
 *  Also writes lse [b,h,nq] (log-sum-exp of the logits) for the backward pass. */
export type AttentionSpec = {
  kind: 'attention'; batch: number; heads: number; nq: number; nk: number; dh: number;
  scale: number; bias: boolean; mask: boolean;
};
export type AttentionBackwardSpec = Omit<AttentionSpec, 'kind'> & { kind: 'attention_backward' };
/** Cosine nearest code: idx[row] = argmax_j <x,c_j>/(‖x‖‖c_j‖); out = codebook[idx] (straight-through:
 *  the backward is identity onto x, so it needs no kernel). Ties go to the lower index. */
export type VqNearestSpec = { kind: 'vq_nearest'; rows: number; dim: number; codebook: number };
/** Pair losses over `batch` pairs of logits [batch, 2] with targets [batch] (f32, 1 = the first of
 *  the pair is true): p = softmax over the pair, t = [target, 1 - target]. MSE: mean over all
 *  2·batch elements of (p - t)² (CT-CLIP VocabFine); CE: mean over pairs of -Σ t·log p.
 *  Writes loss[1] and dLogits[batch,2] (gradient of the loss). */
export type PairLossSpec = { kind: 'pair_mse_loss' | 'pair_ce_loss'; batch: number };
/** Symmetric CLIP InfoNCE over logits [batch, batch] (diagonal = positives); loss[1], dLogits. */
export type ClipLossSpec = { kind: 'clip_loss'; batch: number };
/** AdamW (decoupled weight decay, PyTorch semantics) on one tensor. The learning rate is scheduled,
 *  so it is a runtime scalar like the step: params = [dropout seed, 1-based step, lr as f32 bits, 0]. */
export type AdamWSpec = { kind: 'adamw'; numel: number; beta1: number; beta2: number; eps: number; weightDecay: number };

// Backward-pass and optimizer helpers (compiler/kernels/launch-backward.ts composes them).
/** y = (accumulate ? y : 0) + alpha·x: gradient copies (identity backward) and adding into a gradient
 *  another kernel already wrote (a separate in-place kernel because WebGPU forbids binding one buffer
 *  both read-only and writable in a dispatch). */
export type AxpySpec = { kind: 'axpy'; numel: number; alpha: number; accumulate: boolean };
/** y = x.permute(perm) (PyTorch semantics; y's shape is inShape[perm]). */
export type PermuteSpec = { kind: 'permute'; inShape: number[]; perm: number[] };
/** Backward of x[:, start:end, :] over x viewed [outer, len, inner]: dx = dy inside the slice, 0
 *  outside (accumulate: dx += dy inside, outside untouched). */
export type SliceBackwardSpec = { kind: 'slice_backward'; outer: number; len: number; inner: number; start: number; end: number; accumulate: boolean };
/** dx[i] = dy[i]·b[i mod bNumel]: d(a·b)/da with b broadcast along leading axes (a scalar, a row). */
export type MulGradSpec = { kind: 'mul_grad'; numel: number; bNumel: number };
/** dx = dy·f'(x) for a unary elementwise op: exp (f' = eˣ) or leaky_relu (f' = x ≥ 0 ? 1 : slope). */
export type UnaryGradSpec = { kind: 'unary_grad'; numel: number; op: 'exp' | 'leaky_relu'; slope: number };
/** Gradient of an operand b broadcast along leading axes (y = a + b or a·b, b read as b[i mod bNumel]):
 *  db[j] = Σ_o dy[o·bNumel + j] (·a[o·bNumel + j] when mul), one thread per j, o in order. */
export type BroadcastGradSpec = { kind: 'broadcast_grad'; numel: number; bNumel: number; mul: boolean };
/** d bias[h,nq,nk] of attention (a trainable position bias): Σ_b p·(dp - dout·o), recomputing p from
 *  q, k, bias, lse and dp = dout·v per (b, h, i, j); one thread per (h, i, j), batches in order. */
export type AttentionBiasGradSpec = Omit<AttentionSpec, 'kind' | 'bias'> & { kind: 'attention_bias_grad' };
/** Backward of y = x / max(‖x‖, eps) over rows. */
export type L2NormBackwardSpec = { kind: 'l2norm_backward'; rows: number; n: number; eps: number };
/** db[j] = Σ_i dy[i, j]: a bias gradient, one thread per column (fixed order, no atomics). */
export type BiasGradSpec = { kind: 'bias_grad'; rows: number; n: number };
/** norms[index] = Σ x² (f32, fixed reduction order): one tensor's share of grad_clip's global norm.
 *  Two stages: sumsqParts(numel) workgroups each reduce a contiguous chunk into `partial`, then one
 *  workgroup reduces the partials (a 150M-element full fine-tuning weight is not one workgroup's loop). */
export type SumSqSpec = { kind: 'sumsq'; numel: number; tensors: number; index: number };
/** torch clip_grad_norm_: total = sqrt(Σ norms) summed in index order; g *= min(1, maxNorm/(total+1e-6)). */
export type GradClipScaleSpec = { kind: 'grad_clip_scale'; numel: number; tensors: number; maxNorm: number };

// Forward glue kernels (compiler/kernels/launch.ts lowers the plan's copy / elementwise / l2norm /
// rel_pos_grid kinds to them).
/** y = x[:, start:end, :] over x viewed [outer, len, inner]. */
export type SliceSpec = { kind: 'slice'; outer: number; len: number; inner: number; start: number; end: number };
/** y = x / max(‖x‖₂, eps) over the last axis of [rows, n] (F.normalize). */
export type L2NormSpec = { kind: 'l2norm'; rows: number; n: number; eps: number };
/** y[hw, hw, 2]: grid[i] = (i div w, i mod w), d = grid[i] - grid[j], y = sign(d)·ln(|d| + 1). No inputs. */
export type RelPosGridSpec = { kind: 'rel_pos_grid'; h: number; w: number };
/** One element-wise op over `numel` outputs. Binary ops (add, mul) read a[i mod aNumel] and b[i mod bNumel]:
 *  operands broadcast along leading axes (a scalar, a row, a trailing block). Unary ops read a[i] (aNumel = numel,
 *  bNumel = 0, no `b` binding): scale (·factor), exp, leaky_relu (slope), gelu (exact erf). */
export type ElementwiseSpec = {
  kind: 'elementwise'; numel: number; op: 'add' | 'mul' | 'scale' | 'exp' | 'leaky_relu' | 'gelu';
  aNumel: number; bNumel: number; slope: number; factor: number;
};

/** 16-bit storage of some of a kernel's f32 bindings (precision bf16|fp16, compiler/plan/storage.ts):
 *  the kernel widens them exactly to f32 on load and rounds to nearest even on store; arithmetic
 *  and accumulation stay f32. Only bindings compiler/kernels/storage.ts allows may be named. */
export type HalfStorage = { dtype: 'bf16' | 'f16'; bindings: string[] };

export type KernelSpec = (
  | GemmSpec | LinearSpec | LoraLinearSpec | LoraShrinkSpec | LoraExpandSpec | LoraBackwardInputSpec
  | AddSpec | LayerNormSpec | LayerNormBackwardSpec | GeluSpec | GeluBackwardSpec | GegluSpec | GegluBackwardSpec
  | SoftmaxSpec | SoftmaxBackwardSpec | L2NormScaleSpec | L2NormScaleBackwardSpec | MeanPoolSpec | MeanPoolBackwardSpec | DwConv3dBackwardSpec | EmbeddingSpec | EmbeddingBackwardSpec
  | DwConv3dSpec | AttentionSpec | AttentionBackwardSpec | VqNearestSpec | PairLossSpec | ClipLossSpec | AdamWSpec
  | AxpySpec | PermuteSpec | SliceBackwardSpec | MulGradSpec | L2NormBackwardSpec | BiasGradSpec | SumSqSpec | GradClipScaleSpec
  | UnaryGradSpec | BroadcastGradSpec | AttentionBiasGradSpec
  | SliceSpec | L2NormSpec | RelPosGridSpec | ElementwiseSpec) & { half?: HalfStorage };

export type KernelKind = KernelSpec['kind'];

/** A stable, human-readable name for a spec: the kernel's file name and cache key. */
export function kernelName(spec: KernelSpec): string {
  const parts: string[] = [spec.kind];
  for (const [key, value] of Object.entries(spec).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    if (key === 'kind' || value === undefined) continue;
    if (key === 'half') { const h = value as HalfStorage; parts.push(`${h.dtype}${h.bindings.map((b) => `p${b}`).join('')}`); continue; }
    if (typeof value === 'boolean') { if (value) parts.push(key); continue; }
    if (value === 'none') continue;
    parts.push(`${key}${String(value).replace(/[^0-9A-Za-z]+/g, 'p')}`);
  }
  return parts.join('_');
}

/** Workgroups of sumsq's first stage: one per 16Ki elements, at most 256 (the second stage's width). */
export function sumsqParts(numel: number): number {
  return Math.max(1, Math.min(256, Math.ceil(numel / 16384)));
}
