// CPU reference of the backward-pass and optimizer helper kernels (compiler/kernels/spec.ts,
// "Backward-pass and optimizer helpers"): plain loops, f64 accumulation over f32 storage.
import { sumsqParts, type KernelSpec } from '../../../compiler/kernels/spec.js';
import type { Buffers } from './reference.js';

const f = (b: Buffers, name: string): Float32Array => b[name] as Float32Array;

/** Runs `spec` if it is one of the helper kinds; false otherwise. */
export function runBackwardReference(spec: KernelSpec, b: Buffers): boolean {
  switch (spec.kind) {
    case 'axpy': {
      const x = f(b, 'x'), y = f(b, 'y');
      for (let i = 0; i < spec.numel; i++) y[i] = (spec.accumulate ? y[i]! : 0) + spec.alpha * x[i]!;
      return true;
    }
    case 'permute': {
      const { inShape, perm } = spec;
      const x = f(b, 'x'), y = f(b, 'y');
      const outShape = perm.map((p) => inShape[p]!);
      const inStride = inShape.map((_, i) => inShape.slice(i + 1).reduce((a, c) => a * c, 1));
      const idx = new Array<number>(outShape.length).fill(0);
      for (let o = 0; o < y.length; o++) {
        let src = 0;
        for (let d = 0; d < perm.length; d++) src += idx[d]! * inStride[perm[d]!]!;
        y[o] = x[src]!;
        for (let d = outShape.length - 1; d >= 0; d--) { if (++idx[d]! < outShape[d]!) break; idx[d] = 0; }
      }
      return true;
    }
    case 'slice_backward': {
      const { outer, len, inner, start, end } = spec;
      const dy = f(b, 'dy'), dx = f(b, 'dx'), w = end - start;
      for (let o = 0; o < outer; o++) for (let j = 0; j < len; j++) for (let i = 0; i < inner; i++) {
        const at = (o * len + j) * inner + i;
        const inside = j >= start && j < end;
        if (spec.accumulate) { if (inside) dx[at] = dx[at]! + dy[(o * w + j - start) * inner + i]!; }
        else dx[at] = inside ? dy[(o * w + j - start) * inner + i]! : 0;
      }
      return true;
    }
    case 'mul_grad': {
      const dy = f(b, 'dy'), bb = f(b, 'b'), dx = f(b, 'dx');
      for (let i = 0; i < spec.numel; i++) dx[i] = dy[i]! * bb[i % spec.bNumel]!;
      return true;
    }
    case 'unary_grad': {
      const x = f(b, 'x'), dy = f(b, 'dy'), dx = f(b, 'dx');
      for (let i = 0; i < spec.numel; i++) dx[i] = dy[i]! * (spec.op === 'exp' ? Math.exp(x[i]!) : x[i]! >= 0 ? 1 : spec.slope);
      return true;
    }
    case 'broadcast_grad': {
      const dy = f(b, 'dy'), a = spec.mul ? f(b, 'a') : null, db = f(b, 'db');
      for (let j = 0; j < spec.bNumel; j++) {
        let s = 0;
        for (let i = j; i < spec.numel; i += spec.bNumel) s += dy[i]! * (a ? a[i]! : 1);
        db[j] = s;
      }
      return true;
    }
    case 'attention_bias_grad': {
      const { batch: B, heads: H, nq, nk, dh, scale } = spec;
      const q = f(b, 'q'), k = f(b, 'k'), v = f(b, 'v'), bias = f(b, 'bias'), o = f(b, 'o'), lse = f(b, 'lse'), dout = f(b, 'dout');
      const mask = spec.mask ? (b.mask as Int32Array) : null;
      const qo = (bb: number, i: number, hh: number) => ((bb * nq + i) * H + hh) * dh;
      const ko = (bb: number, j: number, hh: number) => ((bb * nk + j) * H + hh) * dh;
      for (let hh = 0; hh < H; hh++) for (let i = 0; i < nq; i++) for (let j = 0; j < nk; j++) {
        let acc = 0;
        for (let bb = 0; bb < B; bb++) {
          if (mask && mask[bb * nk + j] === 0) continue;
          let s = 0, dp = 0, di = 0;
          for (let d = 0; d < dh; d++) {
            s += q[qo(bb, i, hh) + d]! * k[ko(bb, j, hh) + d]!;
            dp += dout[qo(bb, i, hh) + d]! * v[ko(bb, j, hh) + d]!;
            di += dout[qo(bb, i, hh) + d]! * o[qo(bb, i, hh) + d]!;
          }
          const p = Math.exp(s * scale + bias[(hh * nq + i) * nk + j]! - lse[(bb * H + hh) * nq + i]!);
          acc += p * (dp - di);
        }
        f(b, 'dbias')[(hh * nq + i) * nk + j] = acc;
      }
      return true;
    }
    case 'l2norm_backward': {
      const { rows, n, eps } = spec;
      const x = f(b, 'x'), dy = f(b, 'dy'), dx = f(b, 'dx');
      for (let r = 0; r < rows; r++) {
        const o = r * n;
        let q = 0; for (let j = 0; j < n; j++) q += x[o + j]! ** 2;
        const nrm = Math.sqrt(q), d = Math.max(nrm, eps);
        // Past eps, d = ‖x‖ contributes the projection term; below it d is a constant.
        let ud = 0; for (let j = 0; j < n; j++) ud += x[o + j]! / d * dy[o + j]!;
        const proj = nrm > eps ? ud : 0;
        for (let j = 0; j < n; j++) dx[o + j] = (dy[o + j]! - x[o + j]! / d * proj) / d;
      }
      return true;
    }
    case 'bias_grad': {
      const dy = f(b, 'dy'), db = f(b, 'db');
      for (let j = 0; j < spec.n; j++) { let s = 0; for (let i = 0; i < spec.rows; i++) s += dy[i * spec.n + j]!; db[j] = s; }
      return true;
    }
    case 'sumsq': {
      const x = f(b, 'x'), partial = f(b, 'partial');
      const parts = sumsqParts(spec.numel), chunk = Math.ceil(spec.numel / parts);
      let total = 0;
      for (let p = 0; p < parts; p++) {
        let s = 0; for (let i = p * chunk; i < Math.min(spec.numel, (p + 1) * chunk); i++) s += x[i]! * x[i]!;
        partial[p] = s;
        total += s;
      }
      f(b, 'norms')[spec.index] = total;
      return true;
    }
    case 'grad_clip_scale': {
      const norms = f(b, 'norms'), g = f(b, 'g');
      let sq = 0; for (let i = 0; i < spec.tensors; i++) sq += norms[i]!;
      const total = Math.sqrt(sq);
      // A non-finite norm leaves the gradients alone (runtime/train/optimizer-ref.ts clipGradNorm).
      if (!Number.isFinite(total)) return true;
      const coef = Math.fround(Math.min(1, spec.maxNorm / (total + 1e-6)));
      if (coef < 1) for (let i = 0; i < spec.numel; i++) g[i] = g[i]! * coef;
      return true;
    }
    default:
      return false;
  }
}
