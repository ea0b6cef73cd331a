// The CPU reference: the living definition of every kernel, written as plain loops (f64 math,
// f32 storage) so it can be trusted by reading. Every backend is tested against it.
import type { KernelSpec, Activation } from '../../../compiler/kernels/spec.js';
import { dropoutKeep, streamSeed } from './rng.js';
import { gelu, geluGrad } from './math.js';
import { runBackwardReference } from './reference-backward.js';
import { runGlueReference } from './reference-glue.js';

export type HostArray = Float32Array | Int32Array | Uint32Array | Uint16Array;
export type Buffers = Record<string, HostArray>;

const f = (b: Buffers, name: string): Float32Array => b[name] as Float32Array;
const i32 = (b: Buffers, name: string): Int32Array => b[name] as Int32Array;
const seedOf = (b: Buffers): number => (b.params ? b.params[0]! : 0);

/** C = alpha·op(A)·op(B) + bias, act, + residual, with op/flags as in GemmSpec. */
function gemm(o: {
  m: number; k: number; n: number; a: (i: number, kk: number) => number; b: (kk: number, j: number) => number;
  alpha: number; bias?: Float32Array; activation: Activation; residual?: Float32Array; out: Float32Array;
  extra?: (i: number, j: number) => number;
}): void {
  for (let i = 0; i < o.m; i++) {
    for (let j = 0; j < o.n; j++) {
      let acc = 0;
      for (let kk = 0; kk < o.k; kk++) acc += o.a(i, kk) * o.b(kk, j);
      let v = o.alpha * acc + (o.extra ? o.extra(i, j) : 0) + (o.bias ? o.bias[j]! : 0);
      if (o.activation === 'gelu') v = gelu(v);
      if (o.residual) v += o.residual[i * o.n + j]!;
      o.out[i * o.n + j] = v;
    }
  }
}

function shrink(b: Buffers, m: number, k: number, r: number, scaling: number, p: number, stream: number): void {
  const x = f(b, 'x'), A = f(b, 'lora_a'), seed = streamSeed(seedOf(b), stream);
  gemm({ m, k, n: r, a: (i, kk) => x[i * k + kk]! * dropoutKeep(p, seed, i * k + kk), b: (kk, j) => A[j * k + kk]!, alpha: scaling, activation: 'none', out: f(b, 's') });
}

function expand(b: Buffers, s: { m: number; k: number; n: number; r: number; bias: boolean; activation: Activation; residual: boolean }): void {
  const x = f(b, 'x'), W = f(b, 'w'), S = f(b, 's'), B = f(b, 'lora_b');
  const { k, r } = s;
  gemm({
    m: s.m, k, n: s.n, a: (i, kk) => x[i * k + kk]!, b: (kk, j) => W[j * k + kk]!, alpha: 1, activation: s.activation, out: f(b, 'y'),
    extra: (i, j) => { let t = 0; for (let q = 0; q < r; q++) t += S[i * r + q]! * B[j * r + q]!; return t; },
    bias: s.bias ? f(b, 'bias') : undefined, residual: s.residual ? f(b, 'residual') : undefined,
  });
}

function rows(n: number, count: number, fn: (o: number, row: number) => void): void {
  for (let row = 0; row < count; row++) fn(row * n, row);
}

export function runReference(spec: KernelSpec, b: Buffers): void {
  if (runBackwardReference(spec, b) || runGlueReference(spec, b)) return;
  switch (spec.kind) {
    case 'gemm': {
      const { m, k, n, transA, transB } = spec;
      const A = f(b, 'a'), B = f(b, 'b'), seed = streamSeed(seedOf(b), spec.stream ?? 0);
      gemm({
        m, k, n, alpha: spec.alpha, activation: spec.activation, out: f(b, 'c'),
        a: (i, kk) => (transA ? A[kk * m + i]! : A[i * k + kk]!),
        b: (kk, j) => { const idx = transB ? j * k + kk : kk * n + j; return B[idx]! * dropoutKeep(spec.maskB, seed, idx); },
        bias: spec.bias ? f(b, 'bias') : undefined, residual: spec.residual ? f(b, 'residual') : undefined,
      });
      return;
    }
    case 'linear': {
      const { m, k, n } = spec;
      const x = f(b, 'x'), W = f(b, 'w');
      gemm({ m, k, n, a: (i, kk) => x[i * k + kk]!, b: (kk, j) => W[j * k + kk]!, alpha: 1, activation: spec.activation, out: f(b, 'y'),
        bias: spec.bias ? f(b, 'bias') : undefined, residual: spec.residual ? f(b, 'residual') : undefined });
      return;
    }
    case 'lora_linear':
      shrink(b, spec.m, spec.k, spec.r, spec.scaling, spec.dropout, spec.stream);
      expand(b, spec);
      return;
    case 'lora_shrink':
      shrink(b, spec.m, spec.k, spec.r, spec.scaling, spec.dropout, spec.stream);
      return;
    case 'lora_expand':
      expand(b, spec);
      return;
    case 'lora_backward_input': {
      const { m, k, n, r, dropout } = spec;
      const dy = f(b, 'dy'), W = f(b, 'w'), dS = f(b, 'ds'), A = f(b, 'lora_a'), dx = f(b, 'dx'), seed = streamSeed(seedOf(b), spec.stream);
      for (let i = 0; i < m; i++) for (let j = 0; j < k; j++) {
        let base = 0, low = 0;
        for (let q = 0; q < n; q++) base += dy[i * n + q]! * W[q * k + j]!;
        for (let q = 0; q < r; q++) low += dS[i * r + q]! * A[q * k + j]!;
        dx[i * k + j] = base + low * dropoutKeep(dropout, seed, i * k + j);
      }
      return;
    }
    case 'layer_norm': {
      const { n, eps } = spec;
      const x = f(b, 'x'), g = f(b, 'gamma'), beta = spec.bias ? f(b, 'beta') : null, y = f(b, 'y');
      rows(n, spec.rows, (o) => {
        let mean = 0; for (let j = 0; j < n; j++) mean += x[o + j]!; mean /= n;
        let v = 0; for (let j = 0; j < n; j++) v += (x[o + j]! - mean) ** 2; v /= n;
        const rstd = 1 / Math.sqrt(v + eps);
        for (let j = 0; j < n; j++) y[o + j] = (x[o + j]! - mean) * rstd * g[j]! + (beta ? beta[j]! : 0);
      });
      return;
    }
    case 'layer_norm_backward': {
      const { n, eps } = spec;
      const x = f(b, 'x'), g = f(b, 'gamma'), dy = f(b, 'dy'), dx = f(b, 'dx'), dg = f(b, 'dgamma'), db = f(b, 'dbeta');
      const dgAcc = new Float64Array(n), dbAcc = new Float64Array(n);
      rows(n, spec.rows, (o, row) => {
        let mean = 0; for (let j = 0; j < n; j++) mean += x[o + j]!; mean /= n;
        let v = 0; for (let j = 0; j < n; j++) v += (x[o + j]! - mean) ** 2; v /= n;
        const rstd = 1 / Math.sqrt(v + eps);
        f(b, 'stats')[2 * row] = mean; f(b, 'stats')[2 * row + 1] = rstd;
        let g1 = 0, g2 = 0;
        for (let j = 0; j < n; j++) { const xh = (x[o + j]! - mean) * rstd; g1 += dy[o + j]! * g[j]!; g2 += dy[o + j]! * g[j]! * xh; dgAcc[j] += dy[o + j]! * xh; dbAcc[j] += dy[o + j]!; }
        for (let j = 0; j < n; j++) dx[o + j] = rstd * (dy[o + j]! * g[j]! - g1 / n - (x[o + j]! - mean) * rstd * g2 / n);
      });
      dg.set(dgAcc); db.set(dbAcc);
      return;
    }
    case 'add': { const a = f(b, 'a'), c = f(b, 'b'), y = f(b, 'y'); for (let i = 0; i < spec.numel; i++) y[i] = a[i]! + c[i]!; return; }
    case 'gelu': { const x = f(b, 'x'), y = f(b, 'y'); for (let i = 0; i < spec.numel; i++) y[i] = gelu(x[i]!); return; }
    case 'gelu_backward': { const x = f(b, 'x'), dy = f(b, 'dy'), dx = f(b, 'dx'); for (let i = 0; i < spec.numel; i++) dx[i] = dy[i]! * geluGrad(x[i]!); return; }
    case 'geglu': case 'geglu_backward': {
      const { n } = spec;
      const x = f(b, 'x');
      for (let r = 0; r < spec.rows; r++) for (let c = 0; c < n; c++) {
        const a = x[r * 2 * n + c]!, g = x[r * 2 * n + n + c]!;
        if (spec.kind === 'geglu') { f(b, 'y')[r * n + c] = a * gelu(g); continue; }
        const dy = f(b, 'dy')[r * n + c]!;
        f(b, 'dx')[r * 2 * n + c] = dy * gelu(g);
        f(b, 'dx')[r * 2 * n + n + c] = dy * a * geluGrad(g);
      }
      return;
    }
    case 'softmax': {
      const { n } = spec; const x = f(b, 'x'), y = f(b, 'y');
      rows(n, spec.rows, (o) => {
        let mx = -Infinity; for (let j = 0; j < n; j++) mx = Math.max(mx, x[o + j]!);
        let s = 0; for (let j = 0; j < n; j++) s += Math.exp(x[o + j]! - mx);
        for (let j = 0; j < n; j++) y[o + j] = Math.exp(x[o + j]! - mx) / s;
      });
      return;
    }
    case 'softmax_backward': {
      const { n } = spec; const y = f(b, 'y'), dy = f(b, 'dy'), dx = f(b, 'dx');
      rows(n, spec.rows, (o) => {
        let g = 0; for (let j = 0; j < n; j++) g += dy[o + j]! * y[o + j]!;
        for (let j = 0; j < n; j++) dx[o + j] = y[o + j]! * (dy[o + j]! - g);
      });
      return;
    }
    case 'l2norm_scale': case 'l2norm_scale_backward': {
      const { n, eps } = spec; const x = f(b, 'x'), g = f(b, 'gamma');
      const dgAcc = new Float64Array(n);
      rows(n, spec.rows, (o, row) => {
        let q = 0; for (let j = 0; j < n; j++) q += x[o + j]! ** 2;
        const nrm = Math.sqrt(q), d = Math.max(nrm, eps);
        if (spec.kind === 'l2norm_scale') { for (let j = 0; j < n; j++) f(b, 'y')[o + j] = x[o + j]! / d * g[j]!; return; }
        const dy = f(b, 'dy');
        f(b, 'stats')[row] = d;
        let ud = 0; for (let j = 0; j < n; j++) ud += x[o + j]! / d * dy[o + j]! * g[j]!;
        const proj = nrm > eps ? ud : 0;
        for (let j = 0; j < n; j++) { f(b, 'dx')[o + j] = (dy[o + j]! * g[j]! - x[o + j]! / d * proj) / d; dgAcc[j] += dy[o + j]! * x[o + j]! / d; }
      });
      if (spec.kind === 'l2norm_scale_backward') f(b, 'dgamma').set(dgAcc);
      return;
    }
    case 'mean_pool': {
      const { outer, axisLen, inner } = spec; const x = f(b, 'x'), y = f(b, 'y');
      for (let a = 0; a < outer; a++) for (let c = 0; c < inner; c++) {
        let s = 0; for (let j = 0; j < axisLen; j++) s += x[(a * axisLen + j) * inner + c]!;
        y[a * inner + c] = s / axisLen;
      }
      return;
    }
    case 'mean_pool_backward': {
      const { outer, axisLen, inner } = spec; const dy = f(b, 'dy'), dx = f(b, 'dx');
      for (let a = 0; a < outer; a++) for (let j = 0; j < axisLen; j++) for (let c = 0; c < inner; c++) dx[(a * axisLen + j) * inner + c] = dy[a * inner + c]! / axisLen;
      return;
    }
    case 'dwconv3d_backward': {
      const { batch, t, h, w, c } = spec; const x = f(b, 'x'), wt = f(b, 'weight'), dy = f(b, 'dy');
      const dx = new Float64Array(x.length), dw = new Float64Array(c * 27), db = new Float64Array(c);
      const at = (bi: number, ti: number, hi: number, wi: number, ch: number): number => (((bi * t + ti) * h + hi) * w + wi) * c + ch;
      for (let bi = 0; bi < batch; bi++) for (let ti = 0; ti < t; ti++) for (let hi = 0; hi < h; hi++) for (let wi = 0; wi < w; wi++) for (let ch = 0; ch < c; ch++) {
        const g = dy[at(bi, ti, hi, wi, ch)]!;
        db[ch] += g;
        for (let dt = 0; dt < 3; dt++) for (let dh = 0; dh < 3; dh++) for (let dd = 0; dd < 3; dd++) {
          const tt = ti - 2 + dt, hh = hi - 1 + dh, ww = wi - 1 + dd;
          if (tt < 0 || hh < 0 || hh >= h || ww < 0 || ww >= w) continue;
          const tap = dt * 9 + dh * 3 + dd;
          dx[at(bi, tt, hh, ww, ch)] += g * wt[ch * 27 + tap]!;
          dw[ch * 27 + tap] += g * x[at(bi, tt, hh, ww, ch)]!;
        }
      }
      f(b, 'dx').set(dx); f(b, 'dweight').set(dw); f(b, 'dbias').set(db);
      return;
    }
    case 'embedding': {
      const { tokens, dim } = spec; const ids = i32(b, 'ids'), t = f(b, 'table'), y = f(b, 'y');
      for (let i = 0; i < tokens; i++) for (let d = 0; d < dim; d++) y[i * dim + d] = t[ids[i]! * dim + d]!;
      return;
    }
    case 'embedding_backward': {
      const { tokens, dim } = spec; const ids = i32(b, 'ids'), dy = f(b, 'dy'), dt = f(b, 'dtable');
      dt.fill(0);
      for (let i = 0; i < tokens; i++) for (let d = 0; d < dim; d++) dt[ids[i]! * dim + d] += dy[i * dim + d]!;
      return;
    }
    case 'dwconv3d': {
      const { batch, t, h, w, c } = spec; const x = f(b, 'x'), wt = f(b, 'weight'), y = f(b, 'y'), bias = spec.bias ? f(b, 'bias') : null;
      for (let bi = 0; bi < batch; bi++) for (let ti = 0; ti < t; ti++) for (let hi = 0; hi < h; hi++) for (let wi = 0; wi < w; wi++) for (let ch = 0; ch < c; ch++) {
        let s = bias ? bias[ch]! : 0;
        for (let dt = 0; dt < 3; dt++) for (let dh = 0; dh < 3; dh++) for (let dw = 0; dw < 3; dw++) {
          const tt = ti - 2 + dt, hh = hi - 1 + dh, ww = wi - 1 + dw;
          if (tt < 0 || hh < 0 || hh >= h || ww < 0 || ww >= w) continue;
          s += x[(((bi * t + tt) * h + hh) * w + ww) * c + ch]! * wt[ch * 27 + dt * 9 + dh * 3 + dw]!;
        }
        y[(((bi * t + ti) * h + hi) * w + wi) * c + ch] = s;
      }
      return;
    }
    case 'attention': case 'attention_backward':
      attention(spec, b);
      return;
    case 'vq_nearest': {
      const { dim } = spec; const x = f(b, 'x'), cb = f(b, 'codebook');
      for (let r = 0; r < spec.rows; r++) {
        let best = 0, bestCos = -Infinity;
        let xn = 0; for (let j = 0; j < dim; j++) xn += x[r * dim + j]! ** 2;
        for (let c = 0; c < spec.codebook; c++) {
          let dp = 0, nn = 0;
          for (let j = 0; j < dim; j++) { dp += x[r * dim + j]! * cb[c * dim + j]!; nn += cb[c * dim + j]! ** 2; }
          const cos = dp / (Math.max(Math.sqrt(xn), 1e-12) * Math.max(Math.sqrt(nn), 1e-12));
          if (cos > bestCos) { bestCos = cos; best = c; }
        }
        i32(b, 'idx')[r] = best;
        for (let j = 0; j < dim; j++) f(b, 'y')[r * dim + j] = cb[best * dim + j]!;
      }
      return;
    }
    case 'pair_mse_loss': case 'pair_ce_loss': {
      const { loss, grad } = pairLoss(spec.kind, f(b, 'logits'), f(b, 'targets'));
      f(b, 'loss')[0] = loss; f(b, 'dlogits').set(grad);
      return;
    }
    case 'clip_loss': {
      const { loss, grad } = clipLoss(f(b, 'logits'), spec.batch);
      f(b, 'loss')[0] = loss; f(b, 'dlogits').set(grad);
      return;
    }
    case 'adamw': {
      const { beta1, beta2, eps, weightDecay } = spec;
      const step = b.params![1]!, lr = new Float32Array(b.params!.buffer, b.params!.byteOffset + 8, 1)[0]!, g = f(b, 'grad'), p = f(b, 'param'), m = f(b, 'm'), v = f(b, 'v');
      for (let i = 0; i < spec.numel; i++) {
        m[i] = beta1 * m[i]! + (1 - beta1) * g[i]!;
        v[i] = beta2 * v[i]! + (1 - beta2) * g[i]! ** 2;
        const mh = m[i]! / (1 - beta1 ** step), vh = v[i]! / (1 - beta2 ** step);
        p[i] = p[i]! * (1 - lr * weightDecay) - lr * mh / (Math.sqrt(vh) + eps);
      }
      return;
    }
  }
}

/** Loss and its gradient in f64 (also used by finite-difference checks). */
export function pairLoss(kind: 'pair_mse_loss' | 'pair_ce_loss', logits: ArrayLike<number>, targets: ArrayLike<number>): { loss: number; grad: Float64Array } {
  const B = targets.length; const grad = new Float64Array(2 * B); let total = 0;
  for (let i = 0; i < B; i++) {
    const l0 = logits[2 * i]!, l1 = logits[2 * i + 1]!, t = targets[i]!;
    const mx = Math.max(l0, l1), e0 = Math.exp(l0 - mx), e1 = Math.exp(l1 - mx), p0 = e0 / (e0 + e1);
    let g: number;
    if (kind === 'pair_mse_loss') { total += (p0 - t) ** 2; g = 2 * (p0 - t) * p0 * (1 - p0) / B; }
    else { const lse = mx + Math.log(e0 + e1); total += t * (lse - l0) + (1 - t) * (lse - l1); g = (p0 - t) / B; }
    grad[2 * i] = g; grad[2 * i + 1] = -g;
  }
  return { loss: total / B, grad };
}

export function clipLoss(logits: ArrayLike<number>, B: number): { loss: number; grad: Float64Array } {
  const grad = new Float64Array(B * B); let total = 0;
  for (let axis = 0; axis < 2; axis++) {
    for (let a = 0; a < B; a++) {
      const at = (j: number): number => (axis === 0 ? a * B + j : j * B + a);
      let mx = -Infinity; for (let j = 0; j < B; j++) mx = Math.max(mx, logits[at(j)]!);
      let s = 0; for (let j = 0; j < B; j++) s += Math.exp(logits[at(j)]! - mx);
      const lse = mx + Math.log(s);
      total += lse - logits[a * B + a]!;
      for (let j = 0; j < B; j++) grad[at(j)] += Math.exp(logits[at(j)]! - lse) / (2 * B);
      grad[a * B + a] -= 1 / (2 * B);
    }
  }
  return { loss: total / (2 * B), grad };
}

function attention(spec: Extract<KernelSpec, { kind: 'attention' | 'attention_backward' }>, b: Buffers): void {
  const { batch: B, heads: H, nq, nk, dh, scale } = spec;
  const q = f(b, 'q'), k = f(b, 'k'), v = f(b, 'v');
  const bias = spec.bias ? f(b, 'bias') : null, mask = spec.mask ? i32(b, 'mask') : null;
  const qo = (bb: number, i: number, hh: number): number => ((bb * nq + i) * H + hh) * dh;
  const ko = (bb: number, j: number, hh: number): number => ((bb * nk + j) * H + hh) * dh;
  const bwd = spec.kind === 'attention_backward';
  if (bwd) { f(b, 'dq').fill(0); f(b, 'dk').fill(0); f(b, 'dv').fill(0); }
  for (let bb = 0; bb < B; bb++) for (let hh = 0; hh < H; hh++) for (let i = 0; i < nq; i++) {
    const logits = new Float64Array(nk).fill(-Infinity);
    for (let j = 0; j < nk; j++) {
      if (mask && mask[bb * nk + j] === 0) continue;
      let s = 0; for (let d = 0; d < dh; d++) s += q[qo(bb, i, hh) + d]! * k[ko(bb, j, hh) + d]!;
      logits[j] = s * scale + (bias ? bias[(hh * nq + i) * nk + j]! : 0);
    }
    const mx = Math.max(...logits);
    const live = mx > -Infinity;
    let sum = 0; for (let j = 0; j < nk; j++) sum += live ? Math.exp(logits[j]! - mx) : 0;
    const p = Array.from(logits, (l) => (live ? Math.exp(l - mx) / sum : 0));
    if (!bwd) {
      for (let d = 0; d < dh; d++) { let acc = 0; for (let j = 0; j < nk; j++) acc += p[j]! * v[ko(bb, j, hh) + d]!; f(b, 'o')[qo(bb, i, hh) + d] = acc; }
      f(b, 'lse')[(bb * H + hh) * nq + i] = live ? mx + Math.log(sum) : 0;
      continue;
    }
    const dout = f(b, 'dout');
    const dp = new Float64Array(nk);
    for (let j = 0; j < nk; j++) { let t = 0; for (let d = 0; d < dh; d++) t += dout[qo(bb, i, hh) + d]! * v[ko(bb, j, hh) + d]!; dp[j] = t; }
    let di = 0; for (let j = 0; j < nk; j++) di += p[j]! * dp[j]!;
    for (let j = 0; j < nk; j++) {
      const ds = p[j]! * (dp[j]! - di) * scale;
      for (let d = 0; d < dh; d++) {
        f(b, 'dq')[qo(bb, i, hh) + d] += ds * k[ko(bb, j, hh) + d]!;
        f(b, 'dk')[ko(bb, j, hh) + d] += ds * q[qo(bb, i, hh) + d]!;
        f(b, 'dv')[ko(bb, j, hh) + d] += p[j]! * dout[qo(bb, i, hh) + d]!;
      }
    }
  }
}
