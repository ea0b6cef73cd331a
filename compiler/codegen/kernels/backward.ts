// Generators for the backward-pass and optimizer helper kernels (compiler/kernels/spec.ts,
// "Backward-pass and optimizer helpers"). Like pointwise.ts: one thread per element, per row or
// per column, so every reduction runs in a fixed order (deterministic, no atomics); the one
// global reduction (sumsq, for gradient clipping) is chunked into fixed trees.
import type { Target } from '../target.js';
import { sumsqParts, type KernelSpec } from '../../kernels/spec.js';
import { grid1d, flatIndex, type KernelProgram, type Stage } from './program.js';

const WG = 256;
const ROW_WG = 64;

function flat(T: Target, entry: string, total: number, wg: number, inner: string[]): Stage {
  return {
    entry, workgroup: [wg, 1, 1], grid: grid1d(total, wg), shared: [],
    body: [T.let('i32', 'i', flatIndex(wg)), `if (i < ${total}) {`, ...inner.map((l) => `  ${l}`), '}'],
  };
}

export function backwardProgram(T: Target, spec: KernelSpec): KernelProgram | null {
  const f = T.f;
  switch (spec.kind) {
    case 'axpy':
      return { summary: [`y ${spec.accumulate ? '+=' : '='} ${spec.alpha}·x, ${spec.numel} elements`], helpers: [], stages: [flat(T, 'axpy', spec.numel, WG, [
        `y[i] = ${spec.accumulate ? 'y[i] + ' : ''}${spec.alpha === 1 ? '' : `${f(spec.alpha)} * `}x[i];`])] };
    case 'permute': {
      const { inShape, perm } = spec;
      const outShape = perm.map((p) => inShape[p]!);
      const numel = outShape.reduce((a, b) => a * b, 1);
      const inStride = inShape.map((_, i) => inShape.slice(i + 1).reduce((a, c) => a * c, 1));
      const outStride = outShape.map((_, i) => outShape.slice(i + 1).reduce((a, c) => a * c, 1));
      // Output coordinate d is (i / outStride[d]) % outShape[d]; it steps the input by inStride[perm[d]].
      const terms = outShape.map((n, d) => (n === 1 ? null : `((i / ${outStride[d]}) % ${n}) * ${inStride[perm[d]!]}`)).filter((t) => t !== null);
      return { summary: [`y = x.permute(${perm.join(', ')}), x [${inShape.join(', ')}]`], helpers: [], stages: [flat(T, 'permute', numel, WG, [
        `y[i] = x[${terms.length ? terms.join(' + ') : '0'}];`])] };
    }
    case 'slice_backward': {
      const { outer, len, inner, start, end } = spec;
      const w = end - start;
      if (spec.accumulate) {
        return { summary: [`dx[:, ${start}:${end}, :] += dy over [${outer},${len},${inner}]`], helpers: [], stages: [flat(T, 'slice_backward_add', outer * w * inner, WG, [
          T.let('i32', 'o', `i / ${w * inner}`), T.let('i32', 'r', `i % ${w * inner}`),
          T.let('i32', 'at', `o * ${len * inner} + ${start * inner} + r`), 'dx[at] = dx[at] + dy[i];'])] };
      }
      return { summary: [`dx = dy inside [:, ${start}:${end}, :] of [${outer},${len},${inner}], 0 elsewhere`], helpers: [], stages: [flat(T, 'slice_backward', outer * len * inner, WG, [
        T.let('i32', 'o', `i / ${len * inner}`), T.let('i32', 'j', `(i / ${inner}) % ${len}`), T.let('i32', 'c', `i % ${inner}`),
        `if (j >= ${start} && j < ${end}) { dx[i] = dy[(o * ${w} + j - ${start}) * ${inner} + c]; } else { dx[i] = ${f(0)}; }`])] };
    }
    case 'mul_grad':
      return { summary: [`dx = dy·b (b broadcast, ${spec.bNumel} values), ${spec.numel} elements`], helpers: [], stages: [flat(T, 'mul_grad', spec.numel, WG, [
        `dx[i] = dy[i] * b[i % ${spec.bNumel}];`])] };
    case 'unary_grad': {
      const d = spec.op === 'exp' ? T.call('exp', 'x[i]') : T.sel(`x[i] >= ${f(0)}`, f(1), f(spec.slope));
      return { summary: [`dx = dy·${spec.op}'(x), ${spec.numel} elements`], helpers: [], stages: [flat(T, 'unary_grad', spec.numel, WG, [`dx[i] = dy[i] * ${d};`])] };
    }
    case 'broadcast_grad': {
      const { numel, bNumel, mul } = spec;
      return { summary: [`db[${bNumel}] = Σ over leading axes of dy${mul ? '·a' : ''} (${numel} elements)`], helpers: [], stages: [flat(T, 'broadcast_grad', bNumel, WG, [
        T.var('f32', 's', f(0)), `${T.for('o', '0', String(numel / bNumel))} s += dy[o * ${bNumel} + i]${mul ? ` * a[o * ${bNumel} + i]` : ''}; }`, 'db[i] = s;'])] };
    }
    case 'attention_bias_grad': {
      const { batch: B, heads: H, nq, nk, dh, scale } = spec;
      const qo = (i: string) => `((bb * ${nq} + ${i}) * ${H} + hh) * ${dh}`;
      const ko = (j: string) => `((bb * ${nk} + ${j}) * ${H} + hh) * ${dh}`;
      return { summary: [`d bias[${H},${nq},${nk}] of attention over ${B} batches (p recomputed from lse)`], helpers: [], stages: [flat(T, 'attention_bias_grad', H * nq * nk, WG, [
        T.let('i32', 'hh', `i / ${nq * nk}`), T.let('i32', 'qi', `(i / ${nk}) % ${nq}`), T.let('i32', 'kj', `i % ${nk}`),
        T.var('f32', 'acc', f(0)),
        T.for('bb', '0', String(B)),
        ...(spec.mask ? [`  if (mask[bb * ${nk} + kj] != 0) {`] : ['  {']),
        `    ${T.var('f32', 's', f(0))} ${T.var('f32', 'dp', f(0))} ${T.var('f32', 'di', f(0))}`,
        `    ${T.for('d', '0', String(dh))}`,
        `      s += q[${qo('qi')} + d] * k[${ko('kj')} + d];`,
        `      dp += dout[${qo('qi')} + d] * v[${ko('kj')} + d];`,
        `      di += dout[${qo('qi')} + d] * o[${qo('qi')} + d];`,
        '    }',
        `    ${T.let('f32', 'p', T.call('exp', `s * ${f(scale)} + bias[i] - lse[(bb * ${H} + hh) * ${nq} + qi]`))}`,
        '    acc += p * (dp - di);',
        '  }', '}', 'dbias[i] = acc;'])] };
    }
    case 'l2norm_backward': {
      const { rows, n, eps } = spec;
      const sum = (name: string, expr: string): string[] => [T.var('f32', name, f(0)), `${T.for('j', '0', String(n))} ${name} += ${expr}; }`];
      return { summary: [`l2norm backward over [${rows},${n}], eps ${eps}`], helpers: [], stages: [flat(T, 'l2norm_backward', rows, ROW_WG, [
        T.let('i32', 'o', `i * ${n}`),
        ...sum('q', 'x[o + j] * x[o + j]'),
        T.let('f32', 'nrm', T.call('sqrt', 'q')), T.let('f32', 'd', T.call('max', 'nrm', f(eps))),
        // Past eps, d = ‖x‖ contributes the projection term; below it d is a constant.
        ...sum('ud', 'x[o + j] / d * dy[o + j]'),
        T.let('f32', 'proj', T.sel(`nrm > ${f(eps)}`, 'ud', f(0))),
        `${T.for('j', '0', String(n))} dx[o + j] = (dy[o + j] - x[o + j] / d * proj) / d; }`])] };
    }
    case 'bias_grad': {
      const { rows, n } = spec;
      return { summary: [`db[${n}] = column sums of dy[${rows},${n}]`], helpers: [], stages: [flat(T, 'bias_grad', n, WG, [
        T.var('f32', 's', f(0)), `${T.for('r', '0', String(rows))} s += dy[r * ${n} + i]; }`, 'db[i] = s;'])] };
    }
    case 'sumsq': {
      const parts = sumsqParts(spec.numel), chunk = Math.ceil(spec.numel / parts);
      const tree = (): string[] => {
        const out: string[] = ['part[tx] = s;', T.barrier];
        for (let stride = WG / 2; stride >= 1; stride /= 2) out.push(`if (tx < ${stride}) { part[tx] = part[tx] + part[tx + ${stride}]; }`, T.barrier);
        return out;
      };
      const stage1 = [
        T.let('i32', 'lo', `bx * ${chunk}`), T.let('i32', 'hi', T.sel(`lo + ${chunk} < ${spec.numel}`, `lo + ${chunk}`, String(spec.numel))),
        T.var('f32', 's', f(0)), `${T.for('j', 'lo + tx', 'hi', WG)} s += x[j] * x[j]; }`, ...tree(),
        'if (tx == 0) { partial[bx] = part[0]; }'];
      const stage2 = [T.var('f32', 's', f(0)), `if (tx < ${parts}) { s = partial[tx]; }`, ...tree(), `if (tx == 0) { norms[${spec.index}] = part[0]; }`];
      return { summary: [`norms[${spec.index}] = Σ x² over ${spec.numel} elements (${parts} chunk(s) of ${chunk}, then their sum; fixed trees)`], helpers: [],
        stages: [
          { entry: 'sumsq_chunks', workgroup: [WG, 1, 1], grid: [parts, 1, 1], shared: [['part', WG]], body: stage1 },
          { entry: 'sumsq_total', workgroup: [WG, 1, 1], grid: [1, 1, 1], shared: [['part', WG]], body: stage2 }] };
    }
    case 'grad_clip_scale': {
      const { numel, tensors, maxNorm } = spec;
      return { summary: [`g *= min(1, ${maxNorm} / (sqrt(Σ norms[0..${tensors}]) + 1e-6)) over ${numel} elements`], helpers: [], stages: [flat(T, 'grad_clip_scale', numel, WG, [
        T.var('f32', 'sq', f(0)), `${T.for('t', '0', String(tensors))} sq += norms[t]; }`,
        T.let('f32', 'total', T.call('sqrt', 'sq')),
        T.let('f32', 'coef', `${f(maxNorm)} / (total + ${f(1e-6)})`),
        // A non-finite norm (NaN compares false) leaves the gradients alone, as clip_grad_norm_'s reference does.
        `if (total < ${f(3e38)} && coef < ${f(1)}) { g[i] = g[i] * coef; }`])] };
    }
    default:
      return null;
  }
}
