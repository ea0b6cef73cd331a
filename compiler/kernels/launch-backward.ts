// Lowers the train plan's 'backward' and 'optimizer' kernels to device KernelSteps.
//
// A backward plan kernel reads [gradients of the forward outputs, saved activations, weights,
// extra saved (lora_s / attn_lse)] and writes gradients (compiler/plan/lower.ts). Which buffer
// plays which role is recovered from the forward kernel it differentiates: a saved activation or
// weight is the very buffer the forward read; the gradient of buffer X is named `grad:<X's name>`
// (lower.ts names both after the same graph tensor). A forward buffer the backward kernel does not
// list is never touched: its bytes may already belong to another buffer.
//
// Gradients listed in `backward.accumulate` were written by an earlier kernel: a step that cannot
// add into its output itself writes a scratch buffer, then `axpy {accumulate}` adds it in (binding
// the destination both read-only and writable in one dispatch is invalid on WebGPU).
import type { ForwardPlanSpec, PlanBuffer, PlanKernel } from '../plan/types.js';
import type { PlanDraft } from './launch.js';
import { sumsqParts, type GemmSpec, type KernelSpec, type LoraLinearSpec } from './spec.js';
import { loraBackwardSteps, type KernelStep } from './lora.js';

export interface LoweredSteps {
  steps: KernelStep[];
  /** Step arg name -> plan buffer id. */
  buffers: Record<string, number>;
  /** Arg names the executor allocates (contents undefined on entry). */
  scratch: Record<string, { elements: number; dtype: 'f32' | 'i32' | 'u32' }>;
}
export type BackwardLowering = LoweredSteps | { unsupported: string };

class Unsupported extends Error {}

const numel = (b: PlanBuffer): number => b.shape.reduce((a, c) => a * c, 1);
const gemm = (p: Omit<GemmSpec, 'kind' | 'bias' | 'activation' | 'residual' | 'maskB'>): GemmSpec =>
  ({ kind: 'gemm', bias: false, activation: 'none', residual: false, maskB: 0, ...p });

/** Builds one kernel's steps: named plan buffers, scratch, and the add-into tail for accumulated gradients. */
class Builder {
  readonly steps: KernelStep[] = [];
  readonly buffers: Record<string, number> = {};
  readonly scratch: LoweredSteps['scratch'] = {};
  private readonly tail: KernelStep[] = [];
  private readonly acc: Set<number>;
  constructor(readonly plan: PlanDraft, readonly k: PlanKernel) { this.acc = new Set(k.backward?.accumulate ?? []); }

  /** Arg name of a plan buffer. */
  buf(id: number): string {
    const name = `b${id}`;
    this.buffers[name] = id;
    return name;
  }
  tmp(label: string, elements: number, dtype: 'f32' | 'i32' | 'u32' = 'f32'): string {
    const name = `k${this.k.id}.${label}`;
    this.scratch[name] = { elements: Math.max(1, elements), dtype };
    return name;
  }
  /** Where a step writes gradient buffer `id` in full: the buffer itself, or a scratch added into it afterwards. */
  out(id: number, label: string): string {
    if (!this.acc.has(id)) return this.buf(id);
    const n = numel(this.plan.buffers[id]!);
    const t = this.tmp(`${label}.part`, n);
    this.tail.push({ spec: { kind: 'axpy', numel: n, alpha: 1, accumulate: true }, args: [t, this.buf(id)] });
    return t;
  }
  /** A gradient output if the kernel writes it, else a scratch of `elements` (a spec's unused output). */
  outOrTmp(id: number | undefined, label: string, elements: number): string {
    return id === undefined ? this.tmp(label, elements) : this.out(id, label);
  }
  /** y = x (or y += x for an accumulated gradient) without a scratch. */
  copyInto(id: number, from: string): void {
    const n = numel(this.plan.buffers[id]!);
    this.steps.push({ spec: { kind: 'axpy', numel: n, alpha: 1, accumulate: this.acc.has(id) }, args: [from, this.buf(id)] });
  }
  isAcc(id: number): boolean { return this.acc.has(id); }
  push(spec: KernelSpec, args: string[]): void { this.steps.push({ spec, args }); }
  done(): LoweredSteps { return { steps: [...this.steps, ...this.tail], buffers: this.buffers, scratch: this.scratch }; }
}

/** Roles of a backward kernel's buffers, by the forward kernel's input / output positions. */
function roles(plan: PlanDraft, k: PlanKernel) {
  const bw = k.backward!;
  const fwd = plan.kernels[bw.forward]!;
  return {
    fwd,
    /** Gradient of forward output i (an input of k), if any. */
    dOut: (i: number) => bw.dOutputs[i] ?? undefined,
    /** Forward input i as read by k (saved activation, weight), if k reads it. */
    saved: (i: number) => (k.inputs.includes(fwd.inputs[i]!) ? fwd.inputs[i]! : undefined),
    /** Forward output i as read by k (attention's o, the extra lse / lora_s). */
    savedOut: (i: number) => (k.inputs.includes(fwd.outputs[i]!) ? fwd.outputs[i]! : undefined),
    /** The gradient k writes for forward input i, if any. */
    dIn: (i: number) => bw.dInputs[i] ?? undefined,
  };
}

/** Throws unless `shape` broadcasts against `out` as a trailing block (leading size-1 axes dropped):
 *  then element i of the output reads element i mod numel(shape). */
function suffixBroadcast(shape: number[], out: number[]): void {
  const first = shape.findIndex((x) => x !== 1);
  const trimmed = first < 0 ? [] : shape.slice(first);
  if (trimmed.join() !== out.slice(out.length - trimmed.length).join()) throw new Unsupported(`operand [${shape}] does not broadcast as a suffix of [${out}]`);
}

function need<T>(v: T | undefined, what: string): T {
  if (v === undefined) throw new Unsupported(`${what} is not among the kernel's buffers`);
  return v;
}

export function lowerBackwardKernel(plan: PlanDraft, k: PlanKernel): BackwardLowering {
  try {
    const b = new Builder(plan, k);
    if (k.phase === 'optimizer') lowerOptimizer(b);
    else lowerBackward(b);
    return b.done();
  } catch (e) {
    if (e instanceof Unsupported) return { unsupported: `${k.kind} (kernel ${k.id}${k.module ? `, ${k.module}` : ''}): ${e.message}` };
    throw e;
  }
}

function lowerOptimizer(b: Builder): void {
  const { plan, k } = b;
  const s = k.spec;
  if (s.kind === 'grad_clip') {
    const grads = k.inputs;
    const tensors = grads.length;
    const norms = b.tmp('norms', tensors);
    grads.forEach((g, index) => {
      const n = numel(plan.buffers[g]!);
      b.push({ kind: 'sumsq', numel: n, tensors, index }, [b.buf(g), norms, b.tmp(`partial${index}`, sumsqParts(n))]);
    });
    grads.forEach((g) => b.push({ kind: 'grad_clip_scale', numel: numel(plan.buffers[g]!), tensors, maxNorm: s.maxNorm }, [norms, b.buf(g)]));
    return;
  }
  if (s.kind === 'adamw') {
    // Inputs: params, grads, then (m, v) per param (lower.ts).
    const n = k.inputs.length / 4;
    if (!Number.isInteger(n)) throw new Unsupported(`${k.inputs.length} inputs are not params, grads, (m, v)`);
    for (let i = 0; i < n; i++) {
      const p = k.inputs[i]!, g = k.inputs[n + i]!, m = k.inputs[2 * n + 2 * i]!, v = k.inputs[2 * n + 2 * i + 1]!;
      b.push({ kind: 'adamw', numel: numel(plan.buffers[p]!), beta1: s.beta1, beta2: s.beta2, eps: s.eps, weightDecay: s.weightDecay },
        [b.buf(g), 'params', b.buf(p), b.buf(m), b.buf(v)]);
    }
    return;
  }
  throw new Unsupported('no optimizer lowering for this kind');
}

function lowerBackward(b: Builder): void {
  const { plan, k } = b;
  const r = roles(plan, k);
  const s = k.spec as ForwardPlanSpec;
  const sz = (id: number) => numel(plan.buffers[id]!);
  switch (s.kind) {
    case 'pair_mse_loss': case 'pair_ce_loss': case 'clip_loss': {
      // The loss is the graph's output: its gradient is 1, so dlogits is the loss kernel's own
      // gradient output; re-running it (B·P pairs: trivial) keeps the forward free of backward work.
      const logits = need(r.saved(0), 'logits');
      const d = need(r.dIn(0), 'dlogits');
      const loss = b.tmp('loss', 1);
      if (s.kind === 'clip_loss') b.push({ kind: 'clip_loss', batch: s.batch }, [b.buf(logits), loss, b.out(d, 'dlogits')]);
      else b.push({ kind: s.kind, batch: s.batch }, [b.buf(logits), b.buf(need(r.saved(1), 'targets')), loss, b.out(d, 'dlogits')]);
      return;
    }
    case 'elementwise': case 'add': {
      const ops = s.kind === 'add' ? ['add'] : s.ops;
      const dy = b.buf(need(r.dOut(0), 'output gradient'));
      const n = sz(r.fwd.outputs[0]!);
      const op = ops[0]!;
      if (ops.length !== 1 || !['add', 'mul', 'gelu', 'exp', 'leaky_relu'].includes(op)) throw new Unsupported(`elementwise chain [${ops.join(', ')}]`);
      for (let i = 0; i < r.fwd.inputs.length; i++) {
        const d = r.dIn(i);
        if (d === undefined) continue;
        if (op === 'gelu') { b.push({ kind: 'gelu_backward', numel: n }, [b.buf(need(r.saved(0), 'x')), dy, b.out(d, 'dx')]); continue; }
        if (op === 'exp' || op === 'leaky_relu') {
          b.push({ kind: 'unary_grad', numel: n, op, slope: op === 'leaky_relu' && s.kind === 'elementwise' ? s.slope : 0 }, [b.buf(need(r.saved(0), 'x')), dy, b.out(d, 'dx')]);
          continue;
        }
        // add / mul with NumPy broadcasting: an operand of the output's size gets dy (·other), one
        // broadcast along leading axes (a scalar, a row) gets dy (·other) summed over them.
        const other = op === 'mul' ? b.buf(need(r.saved(1 - i), 'the other mul operand')) : null;
        if (sz(d) === n) {
          if (other === null) b.copyInto(d, dy);
          else {
            const ob = plan.buffers[r.fwd.inputs[1 - i]!]!;
            suffixBroadcast(ob.shape, plan.buffers[r.fwd.outputs[0]!]!.shape);
            b.push({ kind: 'mul_grad', numel: n, bNumel: numel(ob) }, [dy, other, b.out(d, 'dx')]);
          }
          continue;
        }
        suffixBroadcast(plan.buffers[d]!.shape, plan.buffers[r.fwd.outputs[0]!]!.shape);
        if (other !== null && sz(r.fwd.inputs[1 - i]!) !== n) throw new Unsupported('mul of two broadcast operands');
        b.push({ kind: 'broadcast_grad', numel: n, bNumel: sz(d), mul: other !== null }, [dy, ...(other !== null ? [other] : []), b.out(d, 'db')]);
      }
      return;
    }
    case 'gelu': {
      const d = need(r.dIn(0), 'dx');
      b.push({ kind: 'gelu_backward', numel: s.numel }, [b.buf(need(r.saved(0), 'x')), b.buf(need(r.dOut(0), 'dy')), b.out(d, 'dx')]);
      return;
    }
    case 'gemm': {
      if (s.transA || s.bias || s.residual || s.activation !== 'none' || s.maskB > 0) throw new Unsupported('gemm backward with transA / bias / epilogue / mask');
      const { m, k: kk, n, alpha, transB } = s;
      const dC = b.buf(need(r.dOut(0), 'dC'));
      const dA = r.dIn(0), dB = r.dIn(1);
      if (dA !== undefined) b.push(gemm({ m, k: n, n: kk, transA: false, transB: !transB, alpha }), [dC, b.buf(need(r.saved(1), 'B')), b.out(dA, 'da')]);
      if (dB !== undefined) {
        const A = b.buf(need(r.saved(0), 'A'));
        // transB: B [n,k], dB = dCᵀ·A; else B [k,n], dB = Aᵀ·dC.
        if (transB) b.push(gemm({ m: n, k: m, n: kk, transA: true, transB: false, alpha }), [dC, A, b.out(dB, 'db')]);
        else b.push(gemm({ m: kk, k: m, n, transA: true, transB: false, alpha }), [A, dC, b.out(dB, 'db')]);
      }
      return;
    }
    case 'linear': case 'lora_linear': {
      if (s.activation !== 'none') throw new Unsupported('linear backward through a fused activation (fusion keeps activations out of GEMMs that need a gradient)');
      const { m, k: kk, n } = s;
      const lora = s.kind === 'lora_linear';
      const hasBias = s.bias, hasRes = s.residual;
      const base = lora ? 4 : 2;
      const biasAt = hasBias ? base : -1, resAt = hasRes ? base + (hasBias ? 1 : 0) : -1;
      if (r.fwd.inputs.length !== base + (hasBias ? 1 : 0) + (hasRes ? 1 : 0)) throw new Unsupported('forward inputs do not match [x, W, (A, B), (bias), (residual)]');
      const dy = b.buf(need(r.dOut(0), 'dy'));
      const dx = r.dIn(0), dW = r.dIn(1);
      if (s.kind === 'lora_linear') {
        // The forward's dropout stream: the backward must redraw the same mask.
        const spec: LoraLinearSpec = { ...s, stream: s.dropout > 0 ? s.stream : 0, activation: 'none' };
        const dA = r.dIn(2), dB = r.dIn(3);
        const names: Record<string, string | undefined> = {
          dy, x: b.buf(need(r.saved(0), 'x')), w: b.buf(need(r.saved(1), 'W')), lora_a: b.buf(need(r.saved(2), 'lora_A')), lora_b: b.buf(need(r.saved(3), 'lora_B')),
          s: b.buf(need(r.savedOut(1), 'lora_s')), params: 'params', ds: b.tmp('ds', m * spec.r),
          dlora_a: dA === undefined ? undefined : b.out(dA, 'dlora_a'), dlora_b: dB === undefined ? undefined : b.out(dB, 'dlora_b'),
          dx: dx === undefined ? undefined : b.out(dx, 'dx'), dw: dW === undefined ? undefined : b.out(dW, 'dw'),
        };
        // ds (step 0) feeds dA and dx; a step whose output nobody needs is skipped.
        for (const st of loraBackwardSteps(spec, dW !== undefined)) {
          const args = st.args.map((a) => names[a]);
          if (args.some((a) => a === undefined)) continue;
          b.push(st.spec, args as string[]);
        }
      } else {
        if (dx !== undefined) b.push(gemm({ m, k: n, n: kk, transA: false, transB: false, alpha: 1 }), [dy, b.buf(need(r.saved(1), 'W')), b.out(dx, 'dx')]);
        if (dW !== undefined) b.push(gemm({ m: n, k: m, n: kk, transA: true, transB: false, alpha: 1 }), [dy, b.buf(need(r.saved(0), 'x (saved for dW)')), b.out(dW, 'dw')]);
      }
      const dBias = biasAt >= 0 ? r.dIn(biasAt) : undefined;
      if (dBias !== undefined) b.push({ kind: 'bias_grad', rows: m, n }, [dy, b.out(dBias, 'dbias')]);
      const dRes = resAt >= 0 ? r.dIn(resAt) : undefined;
      if (dRes !== undefined) b.copyInto(dRes, dy);
      return;
    }
    case 'l2norm': {
      const d = need(r.dIn(0), 'dx');
      b.push({ kind: 'l2norm_backward', rows: s.rows, n: s.n, eps: s.eps }, [b.buf(need(r.saved(0), 'x')), b.buf(need(r.dOut(0), 'dy')), b.out(d, 'dx')]);
      return;
    }
    case 'l2norm_scale': {
      const { rows, n } = s;
      b.push({ kind: 'l2norm_scale_backward', rows, n, eps: s.eps }, [b.buf(need(r.saved(0), 'x')), b.buf(need(r.saved(1), 'gamma')), b.buf(need(r.dOut(0), 'dy')),
        b.outOrTmp(r.dIn(0), 'dx', rows * n), b.outOrTmp(r.dIn(1), 'dgamma', n), b.tmp('stats', rows)]);
      return;
    }
    case 'layer_norm': {
      const { rows, n } = s;
      b.push({ kind: 'layer_norm_backward', rows, n, eps: s.eps, bias: s.bias }, [b.buf(need(r.saved(0), 'x')), b.buf(need(r.saved(1), 'gamma')), b.buf(need(r.dOut(0), 'dy')),
        b.outOrTmp(r.dIn(0), 'dx', rows * n), b.outOrTmp(r.dIn(1), 'dgamma', n), b.outOrTmp(s.bias ? r.dIn(2) : undefined, 'dbeta', n), b.tmp('stats', rows * 2)]);
      return;
    }
    case 'geglu': {
      b.push({ kind: 'geglu_backward', rows: s.rows, n: s.n }, [b.buf(need(r.saved(0), 'x')), b.buf(need(r.dOut(0), 'dy')), b.out(need(r.dIn(0), 'dx'), 'dx')]);
      return;
    }
    case 'attention': {
      const hasBias = s.bias, hasMask = s.mask;
      const { batch, heads, nq, nk, dh } = s;
      const dBias = hasBias ? r.dIn(3) : undefined;
      const args = [0, 1, 2].map((i) => b.buf(need(r.saved(i), ['q', 'k', 'v'][i]!)));
      if (hasBias) args.push(b.buf(need(r.saved(3), 'bias')));
      if (hasMask) args.push(b.buf(need(r.saved(hasBias ? 4 : 3), 'mask')));
      args.push(b.buf(need(r.savedOut(0), 'o')), b.buf(need(r.savedOut(1), 'lse')), b.buf(need(r.dOut(0), 'dout')));
      args.push(b.outOrTmp(r.dIn(0), 'dq', batch * nq * heads * dh), b.outOrTmp(r.dIn(1), 'dk', batch * nk * heads * dh), b.outOrTmp(r.dIn(2), 'dv', batch * nk * heads * dh));
      b.push({ kind: 'attention_backward', batch, heads, nq, nk, dh, scale: s.scale, bias: hasBias, mask: hasMask }, args);
      // A trainable position bias: its own kernel (one thread per bias entry, batches summed in order).
      if (dBias !== undefined) b.push({ kind: 'attention_bias_grad', batch, heads, nq, nk, dh, scale: s.scale, mask: hasMask }, [...args.slice(0, 3 + 1 + (hasMask ? 1 : 0) + 3), b.out(dBias, 'dbias')]);
      return;
    }
    case 'mean_pool': {
      const { outer, axisLen, inner } = s;
      b.push({ kind: 'mean_pool_backward', outer, axisLen, inner }, [b.buf(need(r.dOut(0), 'dy')), b.out(need(r.dIn(0), 'dx'), 'dx')]);
      return;
    }
    case 'vq_nearest': {
      // Straight-through: dx = dy.
      b.copyInto(need(r.dIn(0), 'dx'), b.buf(need(r.dOut(0), 'dy')));
      return;
    }
    case 'copy': {
      const inShape = s.inShape;
      const d = need(r.dIn(0), 'dx');
      const dy = b.buf(need(r.dOut(0), 'dy'));
      if (s.op === 'permute') {
        const perm = s.perm;
        const inv = perm.map((_, i) => perm.indexOf(i));
        b.push({ kind: 'permute', inShape: perm.map((p) => inShape[p]!), perm: inv }, [dy, b.out(d, 'dx')]);
        return;
      }
      if (s.op === 'slice') {
        const axis = s.axis;
        const outer = inShape.slice(0, axis).reduce((a, c) => a * c, 1), inner = inShape.slice(axis + 1).reduce((a, c) => a * c, 1);
        b.push({ kind: 'slice_backward', outer, len: inShape[axis]!, inner, start: s.start, end: s.end, accumulate: b.isAcc(d) }, [dy, b.buf(d)]);
        return;
      }
      break;
    }
    case 'dwconv3d': {
      const { batch, t, h, w, c } = s;
      const dy = b.buf(need(r.dOut(0), 'dy'));
      const dW = r.dIn(1), dBias = r.dIn(2);
      // x is saved only when the conv's params train; otherwise dweight goes to a scratch and x is
      // never read for dx. It still needs a buffer of its own: binding dy twice in one dispatch
      // is writable aliasing, which WebGPU rejects (the whole command buffer, silently).
      const x = r.saved(0) !== undefined ? b.buf(r.saved(0)!) : b.outOrTmp(undefined, 'x.unused', batch * t * h * w * c);
      if (dW !== undefined && r.saved(0) === undefined) throw new Unsupported('dweight without the saved input');
      const n = batch * t * h * w * c;
      b.push({ kind: 'dwconv3d_backward', batch, t, h, w, c, bias: s.bias }, [x, b.buf(need(r.saved(1), 'weight')), dy,
        b.outOrTmp(r.dIn(0), 'dx', n), b.outOrTmp(dW, 'dweight', c * 27), b.outOrTmp(dBias, 'dbias', c)]);
      return;
    }
    case 'embedding': {
      const d = need(r.dIn(1), 'dtable');
      b.push({ kind: 'embedding_backward', tokens: s.tokens, dim: s.dim, vocab: s.vocab }, [b.buf(need(r.saved(0), 'ids')), b.buf(need(r.dOut(0), 'dy')), b.out(d, 'dtable')]);
      return;
    }
  }
  throw new Unsupported('no backward lowering for this kind');
}
