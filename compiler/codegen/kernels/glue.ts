// Generators for the forward glue kernels (compiler/kernels/spec.ts "Forward glue kernels"): one
// thread per output element, or per row for l2norm (a fixed-order reduction).
import type { Target } from '../target.js';
import type { KernelSpec } from '../../kernels/spec.js';
import { grid1d, flatIndex, geluExpr, type KernelProgram, type Stage } from './program.js';

const WG = 256;
const ROW_WG = 64;

function flat(T: Target, entry: string, total: number, wg: number, inner: string[]): Stage {
  return {
    entry, workgroup: [wg, 1, 1], grid: grid1d(total, wg), shared: [],
    body: [T.let('i32', 'i', flatIndex(wg)), `if (i < ${total}) {`, ...inner.map((l) => `  ${l}`), '}'],
  };
}

export function glueProgram(T: Target, spec: KernelSpec): KernelProgram | null {
  const f = T.f;
  switch (spec.kind) {
    case 'slice': {
      const { outer, len, inner, start, end } = spec;
      const w = end - start;
      return { summary: [`y = x[:, ${start}:${end}, :], x [${outer},${len},${inner}]`], helpers: [], stages: [flat(T, 'slice', outer * w * inner, WG, [
        T.let('i32', 'o', `i / ${w * inner}`), T.let('i32', 'r', `i % ${w * inner}`),
        `y[i] = x[o * ${len * inner} + ${start * inner} + r];`])] };
    }
    case 'l2norm': {
      const { rows, n, eps } = spec;
      return { summary: [`y = x / max(‖x‖, ${eps}) over rows of [${rows},${n}]`], helpers: [], stages: [flat(T, 'l2norm', rows, ROW_WG, [
        T.let('i32', 'o', `i * ${n}`),
        T.var('f32', 'q', f(0)), `${T.for('j', '0', String(n))} q += x[o + j] * x[o + j]; }`,
        T.let('f32', 'inv', `${f(1)} / ${T.call('max', T.call('sqrt', 'q'), f(eps))}`),
        `${T.for('j', '0', String(n))} y[o + j] = x[o + j] * inv; }`])] };
    }
    case 'rel_pos_grid': {
      const { h, w } = spec;
      const hw = h * w;
      const sl = (d: string) => `${T.sel(`${d} < ${f(0)}`, f(-1), f(1))} * ${T.call('log', `${T.call('abs', d)} + ${f(1)}`)}`;
      return { summary: [`relative position grid, h ${h}, w ${w}: y [${hw},${hw},2]`], helpers: [], stages: [flat(T, 'rel_pos_grid', hw * hw * 2, WG, [
        T.let('i32', 'c', 'i % 2'), T.let('i32', 'p', `(i / 2) / ${hw}`), T.let('i32', 'q', `(i / 2) % ${hw}`),
        T.let('f32', 'd', T.sel('c == 0', T.cast('f32', `p / ${w} - q / ${w}`), T.cast('f32', `p % ${w} - q % ${w}`))),
        `y[i] = ${sl('d')};`])] };
    }
    case 'elementwise': {
      const { numel, op, aNumel, bNumel } = spec;
      const a = aNumel === numel ? 'a[i]' : `a[i % ${aNumel}]`;
      const b = bNumel === numel ? 'b[i]' : `b[i % ${bNumel}]`;
      let e: string;
      switch (op) {
        case 'add': e = `${a} + ${b}`; break;
        case 'mul': e = `${a} * ${b}`; break;
        case 'scale': e = `${a} * ${f(spec.factor)}`; break;
        case 'exp': e = T.call('exp', a); break;
        case 'leaky_relu': e = T.sel(`${a} >= ${f(0)}`, a, `${a} * ${f(spec.slope)}`); break;
        case 'gelu': e = geluExpr(T, a); break;
      }
      return { summary: [`y = ${op}(a${bNumel > 0 ? ', b' : ''}), ${numel} elements (a ${aNumel}${bNumel > 0 ? `, b ${bNumel}` : ''})`],
        helpers: op === 'gelu' ? ['erf'] : [], stages: [flat(T, 'elementwise', numel, WG, [`y[i] = ${e};`])] };
    }
    default:
      return null;
  }
}
