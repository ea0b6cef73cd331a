// Attention with online softmax (one pass over keys, never materialising the nq×nk logits).
// One thread per (batch, head, query row) holding its q row and output accumulator in registers;
// keys and values are read from global memory (L1/L2-cached on GPUs). The backward pass recomputes
// probabilities from the saved log-sum-exp: one thread per query row computes dq, and the same
// launch's threads also own one key row each for dk and dv, so no two threads write one element.
import type { Target } from '../target.js';
import type { AttentionSpec, AttentionBackwardSpec } from '../../kernels/spec.js';
import { grid1d, flatIndex, type KernelProgram } from './program.js';

const WG = 64;
const NEG = -3.0e38;

function header(s: AttentionSpec | AttentionBackwardSpec): string {
  return `q [${s.batch},${s.nq},${s.heads},${s.dh}], k/v [${s.batch},${s.nk},${s.heads},${s.dh}], logits·${s.scale}${s.bias ? ' + bias[h,nq,nk]' : ''}${s.mask ? ', key padding mask' : ''}`;
}

/** Lines computing `sname` = the logit of (query row qi, key row kj), given qb/kb row offsets. */
function logit(T: Target, s: AttentionSpec | AttentionBackwardSpec, sname: string, qrow: string, krow: string, qexpr: (d: string) => string): string[] {
  return [
    T.var('f32', sname, T.f(0)),
    `${T.for('d', '0', String(s.dh))} ${sname} += ${qexpr('d')} * k[${krow} + d]; }`,
    `${sname} = ${sname} * ${T.f(s.scale)}${s.bias ? ` + bias[(hh * ${s.nq} + ${qrow}) * ${s.nk} + kj]` : ''};`,
  ];
}

export function attentionProgram(T: Target, s: AttentionSpec): KernelProgram {
  const { batch: B, heads: H, nq, nk, dh } = s;
  const total = B * H * nq;
  const rowOf = (n: number, idx: string): string => `((bb * ${n} + ${idx}) * ${H} + hh) * ${dh}`;
  const body = [
    T.let('i32', 'flat', flatIndex(WG)),
    `if (flat < ${total}) {`,
    `  ${T.let('i32', 'qi', `flat % ${nq}`)} ${T.let('i32', 'hh', `(flat / ${nq}) % ${H}`)} ${T.let('i32', 'bb', `flat / ${nq * H}`)}`,
    `  ${T.let('i32', 'qb', rowOf(nq, 'qi'))}`,
    `  ${T.arr('f32', 'qv', dh)}`, `  ${T.arr('f32', 'acc', dh)}`,
    `  ${T.for('d', '0', String(dh))} qv[d] = q[qb + d]; }`,
    `  ${T.var('f32', 'mx', T.f(NEG))} ${T.var('f32', 'l', T.f(0))}`,
    `  ${T.for('kj', '0', String(nk))}`,
    ...(s.mask ? [`    if (mask[bb * ${nk} + kj] != 0) {`] : ['    {']),
    `      ${T.let('i32', 'kb', rowOf(nk, 'kj'))}`,
    ...logit(T, s, 'sc', 'qi', 'kb', (d) => `qv[${d}]`).map((x) => `      ${x}`),
    `      ${T.let('f32', 'mnew', T.call('max', 'mx', 'sc'))}`,
    `      ${T.let('f32', 'corr', T.call('exp', 'mx - mnew'))} ${T.let('f32', 'p', T.call('exp', 'sc - mnew'))}`,
    '      l = l * corr + p;',
    `      ${T.for('d', '0', String(dh))} acc[d] = acc[d] * corr + p * v[kb + d]; }`,
    '      mx = mnew;',
    '    }',
    '  }',
    // A row whose keys are all masked has no distribution: output 0 (and lse 0), never NaN.
    `  ${T.let('f32', 'inv', T.sel(`l > ${T.f(0)}`, `${T.f(1)} / l`, T.f(0)))}`,
    `  ${T.for('d', '0', String(dh))} o[qb + d] = acc[d] * inv; }`,
    `  lse[(bb * ${H} + hh) * ${nq} + qi] = ${T.sel(`l > ${T.f(0)}`, `mx + ${T.call('log', 'l')}`, T.f(0))};`,
    '}',
  ];
  return { summary: [`attention (online softmax): ${header(s)}`], helpers: [], stages: [{ entry: 'attention', workgroup: [WG, 1, 1], grid: grid1d(total, WG), shared: [], body }] };
}

export function attentionBackwardProgram(T: Target, s: AttentionBackwardSpec): KernelProgram {
  const { batch: B, heads: H, nq, nk, dh } = s;
  const rows = Math.max(nq, nk);
  const total = B * H * rows;
  const rowOf = (n: number, idx: string): string => `((bb * ${n} + ${idx}) * ${H} + hh) * ${dh}`;
  const live = s.mask ? `mask[bb * ${nk} + kj] != 0` : 'true';
  const dot = (name: string, a: string, b: string): string => `${T.var('f32', name, T.f(0))} ${T.for('d', '0', String(dh))} ${name} += ${a} * ${b}; }`;
  const body = [
    T.let('i32', 'flat', flatIndex(WG)),
    `if (flat < ${total}) {`,
    `  ${T.let('i32', 'row', `flat % ${rows}`)} ${T.let('i32', 'hh', `(flat / ${rows}) % ${H}`)} ${T.let('i32', 'bb', `flat / ${rows * H}`)}`,
    '  // dq for query row `row`',
    `  if (row < ${nq}) {`,
    `    ${T.let('i32', 'qi', 'row')} ${T.let('i32', 'qb', rowOf(nq, 'qi'))}`,
    `    ${T.let('f32', 'ls', `lse[(bb * ${H} + hh) * ${nq} + qi]`)}`,
    `    ${dot('di', 'dout[qb + d]', 'o[qb + d]')}`,
    `    ${T.arr('f32', 'dqv', dh)}`,
    `    ${T.for('kj', '0', String(nk))}`,
    `      if (${live}) {`,
    `        ${T.let('i32', 'kb', rowOf(nk, 'kj'))}`,
    ...logit(T, s, 'sc', 'qi', 'kb', (d) => `q[qb + ${d}]`).map((x) => `        ${x}`),
    `        ${T.let('f32', 'p', T.call('exp', 'sc - ls'))}`,
    `        ${dot('dp', 'dout[qb + d]', 'v[kb + d]')}`,
    `        ${T.let('f32', 'ds', `p * (dp - di) * ${T.f(s.scale)}`)}`,
    `        ${T.for('d', '0', String(dh))} dqv[d] += ds * k[kb + d]; }`,
    '      }',
    '    }',
    `    ${T.for('d', '0', String(dh))} dq[qb + d] = dqv[d]; }`,
    '  }',
    '  // dk, dv for key row `row`',
    `  if (row < ${nk}) {`,
    `    ${T.let('i32', 'kj', 'row')} ${T.let('i32', 'kb', rowOf(nk, 'kj'))}`,
    `    ${T.arr('f32', 'dkv', dh)} ${T.arr('f32', 'dvv', dh)}`,
    `    if (${live}) {`,
    `      ${T.for('qi', '0', String(nq))}`,
    `        ${T.let('i32', 'qb', rowOf(nq, 'qi'))}`,
    `        ${T.let('f32', 'ls', `lse[(bb * ${H} + hh) * ${nq} + qi]`)}`,
    ...logit(T, s, 'sc', 'qi', 'kb', (d) => `q[qb + ${d}]`).map((x) => `        ${x}`),
    `        ${T.let('f32', 'p', T.call('exp', 'sc - ls'))}`,
    `        ${dot('di', 'dout[qb + d]', 'o[qb + d]')}`,
    `        ${dot('dp', 'dout[qb + d]', 'v[kb + d]')}`,
    `        ${T.let('f32', 'ds', `p * (dp - di) * ${T.f(s.scale)}`)}`,
    `        ${T.for('d', '0', String(dh))} dkv[d] += ds * q[qb + d]; dvv[d] += p * dout[qb + d]; }`,
    '      }',
    '    }',
    `    ${T.for('d', '0', String(dh))} dk[kb + d] = dkv[d]; dv[kb + d] = dvv[d]; }`,
    '  }',
    '}',
  ];
  return { summary: [`attention backward (recomputed probabilities from lse): ${header(s)}`], helpers: [], stages: [{ entry: 'attention_backward', workgroup: [WG, 1, 1], grid: grid1d(total, WG), shared: [], body }] };
}
