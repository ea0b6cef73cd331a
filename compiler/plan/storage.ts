// The storage pass of `precision bf16|fp16` (mixed precision as PyTorch AMP does it): which plan
// buffers are stored in 16 bits. It runs on lowered steps, before lifetimes and placement, so the
// memory plan is the 16-bit one.
//
// A buffer is 16-bit when it is a frozen base weight matrix (a weight that is not trained, not
// LoRA's A/B, of two or more axes: biases, norm scales and scalars such as the logit temperature
// stay f32, as autocast keeps them), an eval-merged weight, or a forward activation that is not a
// plan feed or result, and every step that binds it allows 16 bits at that binding
// (compiler/kernels/storage.ts). Everything that accumulates stays f32: gradients, optimizer
// moments, trainable weights, LoRA's shrink result, norm statistics, attention's log-sum-exp,
// the latents, logits and loss inputs. Steps get fresh spec objects naming their 16-bit bindings,
// so their kernel names (and sources) differ from the f32 kernels'.
import { kernelBindings } from '../kernels/bindings.js';
import { kernelName, type HalfStorage } from '../kernels/spec.js';
import { halfBindings } from '../kernels/storage.js';
import type { PlanBuffer, PlanKernel } from './types.js';

export type Precision = 'fp32' | 'bf16' | 'fp16';

export const storageDtype = (p: Precision): HalfStorage['dtype'] | null => (p === 'bf16' ? 'bf16' : p === 'fp16' ? 'f16' : null);

const numel = (b: PlanBuffer): number => b.shape.reduce((a, c) => a * c, 1);

/** Kinds the head is followed back through: the similarity GEMM, the logit scale, the norms. */
const HEAD_OPS = new Set(['elementwise', 'gemm', 'l2norm', 'l2norm_scale']);

/** The head, kept f32: the feeds, results and loss inputs, and what they are computed from through
 *  element-wise ops, norms and the similarity GEMM, back to the projections' outputs (the latents,
 *  cosines, logit scale and logits; the projection linears themselves are not followed). */
function headBuffers(kernels: PlanKernel[], io: ReadonlySet<number>): Set<number> {
  const head = new Set(io);
  const fwd = kernels.filter((k) => k.phase === 'forward');
  for (const k of fwd) if (k.kind.endsWith('_loss')) k.inputs.forEach((b) => head.add(b));
  for (let i = fwd.length - 1; i >= 0; i--) {
    const k = fwd[i]!;
    if (HEAD_OPS.has(k.kind) && k.outputs.some((b) => head.has(b))) k.inputs.forEach((b) => head.add(b));
  }
  return head;
}

/**
 * Marks the 16-bit buffers of a lowered plan in place (dtype, bytes) and rewrites the steps that
 * bind them. `frozenMatrix(b)` answers whether weight buffer b is a frozen base weight of ≥ 2 axes;
 * `io` holds the feeds' and results' buffer ids. Returns the ids of the 16-bit buffers.
 */
export function assignStorage(buffers: PlanBuffer[], kernels: PlanKernel[], precision: Precision,
  frozenMatrix: (b: PlanBuffer) => boolean, io: ReadonlySet<number>): Set<number> {
  const dtype = storageDtype(precision);
  const half = new Set<number>();
  if (!dtype) return half;
  const head = headBuffers(kernels, io);
  for (const b of buffers) {
    if (b.dtype !== 'f32' || head.has(b.id)) continue;
    if (b.kind === 'activation' || b.kind === 'saved' || b.kind === 'merged_weight' || (b.kind === 'weight' && frozenMatrix(b))) half.add(b.id);
  }
  // Any step that cannot take a candidate at 16 bits keeps it f32 (for every reader and writer).
  for (const k of kernels) {
    for (const st of k.steps) {
      const allowed = halfBindings(st.spec);
      kernelBindings(st.spec).forEach((bind, i) => { if (!allowed.includes(bind.name)) half.delete(st.args[i]!); });
    }
  }
  for (const id of half) {
    const b = buffers[id]!;
    b.dtype = dtype;
    b.bytes = Math.max(1, numel(b)) * 2;
  }
  for (const k of kernels) {
    k.steps = k.steps.map((st) => {
      const names = kernelBindings(st.spec).filter((_, i) => half.has(st.args[i]!)).map((bind) => bind.name);
      if (!names.length) return st;
      // A binding bound twice in one step (in place) is one name.
      const spec = { ...st.spec, half: { dtype, bindings: [...new Set(names)] } };
      return { ...st, kernel: kernelName(spec), spec };
    });
  }
  return half;
}
