// Row-wise, element-wise and small reduction kernels. Parallelisation is deliberately plain:
// one thread per element (element-wise, gathers), one thread per row (row reductions: rows are
// ≤ 1024 wide in CT-CLIP, and there are thousands of rows), one thread per column for the
// column reductions of backward passes (so sums run in a fixed order: deterministic, no atomics),
// one thread for the tiny losses (batch ≤ a few hundred pairs).
import type { Target } from '../target.js';
import type { KernelSpec } from '../../kernels/spec.js';
import { grid1d, flatIndex, geluExpr, geluGradExpr, type KernelProgram, type Stage } from './program.js';

const WG = 256;
const ROW_WG = 64;

function flat(T: Target, entry: string, total: number, wg: number, inner: string[]): Stage {
  return {
    entry, workgroup: [wg, 1, 1], grid: grid1d(total, wg), shared: [],
    body: [T.let('i32', 'i', flatIndex(wg)), `if (i < ${total}) {`, ...inner.map((l) => `  ${l}`), '}'],
  };
}

/** Sum over j < n of an expression in `j`, into a new mutable local. */
function sum(T: Target, name: string, n: string, expr: string): string[] {
  return [T.var('f32', name, T.f(0)), `${T.for('j', '0', n)} ${name} += ${expr}; }`];
}

export function pointwiseProgram(T: Target, spec: KernelSpec): KernelProgram | null {
  const f = T.f;
  switch (spec.kind) {
    case 'add':
      return { summary: [`y = a + b, ${spec.numel} elements`], helpers: [], stages: [flat(T, 'add', spec.numel, WG, ['y[i] = a[i] + b[i];'])] };
    case 'gelu':
      return { summary: [`y = gelu(x) (exact erf), ${spec.numel} elements`], helpers: ['erf'], stages: [flat(T, 'gelu', spec.numel, WG, [
        T.let('f32', 'v', 'x[i]'), `y[i] = ${geluExpr(T, 'v')};`])] };
    case 'gelu_backward':
      return { summary: [`dx = dy·gelu'(x), ${spec.numel} elements`], helpers: ['erf'], stages: [flat(T, 'gelu_backward', spec.numel, WG, [
        T.let('f32', 'v', 'x[i]'), `dx[i] = dy[i] * ${geluGradExpr(T, 'v')};`])] };
    case 'geglu': {
      const { rows, n } = spec;
      return { summary: [`y[${rows},${n}] = a·gelu(g), x = [a | g] [${rows},${2 * n}]`], helpers: ['erf'], stages: [flat(T, 'geglu', rows * n, WG, [
        T.let('i32', 'r', `i / ${n}`), T.let('i32', 'c', `i % ${n}`),
        T.let('f32', 'g', `x[r * ${2 * n} + ${n} + c]`), `y[i] = x[r * ${2 * n} + c] * ${geluExpr(T, 'g')};`])] };
    }
    case 'geglu_backward': {
      const { rows, n } = spec;
      return { summary: [`geglu backward [${rows},${n}]`], helpers: ['erf'], stages: [flat(T, 'geglu_backward', rows * n, WG, [
        T.let('i32', 'r', `i / ${n}`), T.let('i32', 'c', `i % ${n}`),
        T.let('f32', 'a', `x[r * ${2 * n} + c]`), T.let('f32', 'g', `x[r * ${2 * n} + ${n} + c]`),
        `dx[r * ${2 * n} + c] = dy[i] * ${geluExpr(T, 'g')};`,
        `dx[r * ${2 * n} + ${n} + c] = dy[i] * a * ${geluGradExpr(T, 'g')};`])] };
    }
    case 'layer_norm': {
      const { rows, n, eps } = spec;
      return { summary: [`layer_norm over [${rows},${n}], eps ${eps}${spec.bias ? '' : ', no bias'}`], helpers: [], stages: [flat(T, 'layer_norm', rows, ROW_WG, [
        T.let('i32', 'o', `i * ${n}`),
        ...sum(T, 's', String(n), 'x[o + j]'), T.let('f32', 'mean', `s / ${f(n)}`),
        ...sum(T, 'q', String(n), '(x[o + j] - mean) * (x[o + j] - mean)'),
        T.let('f32', 'rstd', `${f(1)} / ${T.call('sqrt', `q / ${f(n)} + ${f(eps)}`)}`),
        `${T.for('j', '0', String(n))} y[o + j] = (x[o + j] - mean) * rstd * gamma[j]${spec.bias ? ' + beta[j]' : ''}; }`])] };
    }
    case 'layer_norm_backward': {
      const { rows, n, eps } = spec;
      return { summary: [`layer_norm backward over [${rows},${n}]: dx (per row), dgamma/dbeta (per column)`], helpers: [], stages: [
        flat(T, 'layer_norm_backward_rows', rows, ROW_WG, [
          T.let('i32', 'o', `i * ${n}`),
          ...sum(T, 's', String(n), 'x[o + j]'), T.let('f32', 'mean', `s / ${f(n)}`),
          ...sum(T, 'q', String(n), '(x[o + j] - mean) * (x[o + j] - mean)'),
          T.let('f32', 'rstd', `${f(1)} / ${T.call('sqrt', `q / ${f(n)} + ${f(eps)}`)}`),
          'stats[2 * i] = mean;', 'stats[2 * i + 1] = rstd;',
          ...sum(T, 'g1', String(n), 'dy[o + j] * gamma[j]'),
          ...sum(T, 'g2', String(n), 'dy[o + j] * gamma[j] * (x[o + j] - mean) * rstd'),
          `${T.for('j', '0', String(n))} dx[o + j] = rstd * (dy[o + j] * gamma[j] - g1 / ${f(n)} - (x[o + j] - mean) * rstd * g2 / ${f(n)}); }`]),
        flat(T, 'layer_norm_backward_cols', n, WG, [
          T.var('f32', 'dg', f(0)), T.var('f32', 'db', f(0)),
          `${T.for('r', '0', String(rows))} ${T.let('f32', 'g', `dy[r * ${n} + i]`)} dg += g * (x[r * ${n} + i] - stats[2 * r]) * stats[2 * r + 1]; db += g; }`,
          'dgamma[i] = dg;', 'dbeta[i] = db;'])] };
    }
    case 'softmax': {
      const { rows, n } = spec;
      return { summary: [`softmax over the last axis of [${rows},${n}]`], helpers: [], stages: [flat(T, 'softmax', rows, ROW_WG, [
        T.let('i32', 'o', `i * ${n}`),
        T.var('f32', 'mx', 'x[o]'), `${T.for('j', '1', String(n))} mx = ${T.call('max', 'mx', 'x[o + j]')}; }`,
        ...sum(T, 's', String(n), T.call('exp', 'x[o + j] - mx')),
        `${T.for('j', '0', String(n))} y[o + j] = ${T.call('exp', 'x[o + j] - mx')} / s; }`])] };
    }
    case 'softmax_backward': {
      const { rows, n } = spec;
      return { summary: [`softmax backward over the last axis of [${rows},${n}]: dx = y·(dy - Σ dy·y)`], helpers: [], stages: [flat(T, 'softmax_backward', rows, ROW_WG, [
        T.let('i32', 'o', `i * ${n}`),
        ...sum(T, 'g', String(n), 'dy[o + j] * y[o + j]'),
        `${T.for('j', '0', String(n))} dx[o + j] = y[o + j] * (dy[o + j] - g); }`])] };
    }
    case 'l2norm_scale': {
      const { rows, n, eps } = spec;
      return { summary: [`y = x / max(‖x‖, ${eps}) · gamma over [${rows},${n}]`], helpers: [], stages: [flat(T, 'l2norm_scale', rows, ROW_WG, [
        T.let('i32', 'o', `i * ${n}`),
        ...sum(T, 'q', String(n), 'x[o + j] * x[o + j]'),
        T.let('f32', 'd', T.call('max', T.call('sqrt', 'q'), f(eps))),
        `${T.for('j', '0', String(n))} y[o + j] = x[o + j] / d * gamma[j]; }`])] };
    }
    case 'l2norm_scale_backward': {
      const { rows, n, eps } = spec;
      return { summary: [`l2norm_scale backward over [${rows},${n}]`], helpers: [], stages: [
        flat(T, 'l2norm_scale_backward_rows', rows, ROW_WG, [
          T.let('i32', 'o', `i * ${n}`),
          ...sum(T, 'q', String(n), 'x[o + j] * x[o + j]'),
          T.let('f32', 'nrm', T.call('sqrt', 'q')), T.let('f32', 'd', T.call('max', 'nrm', f(eps))),
          'stats[i] = d;',
          // Past eps, d = ‖x‖ and the projection term appears; below it d is constant.
          ...sum(T, 'ud', String(n), 'x[o + j] / d * dy[o + j] * gamma[j]'),
          T.let('f32', 'proj', T.sel(`nrm > ${f(eps)}`, 'ud', f(0))),
          `${T.for('j', '0', String(n))} dx[o + j] = (dy[o + j] * gamma[j] - x[o + j] / d * proj) / d; }`]),
        flat(T, 'l2norm_scale_backward_cols', n, WG, [
          ...sum(T, 'dg', String(rows), `dy[j * ${n} + i] * x[j * ${n} + i] / stats[j]`), 'dgamma[i] = dg;'])] };
    }
    case 'mean_pool': {
      const { outer, axisLen, inner } = spec;
      return { summary: [`mean over axis 1 of [${outer},${axisLen},${inner}]`], helpers: [], stages: [flat(T, 'mean_pool', outer * inner, WG, [
        T.let('i32', 'a', `i / ${inner}`), T.let('i32', 'c', `i % ${inner}`),
        ...sum(T, 's', String(axisLen), `x[(a * ${axisLen} + j) * ${inner} + c]`), `y[i] = s / ${f(axisLen)};`])] };
    }
    case 'mean_pool_backward': {
      const { outer, axisLen, inner } = spec;
      return { summary: [`mean over axis 1 of [${outer},${axisLen},${inner}], backward`], helpers: [], stages: [flat(T, 'mean_pool_backward', outer * axisLen * inner, WG, [
        `dx[i] = dy[(i / ${axisLen * inner}) * ${inner} + i % ${inner}] / ${f(axisLen)};`])] };
    }
    case 'dwconv3d_backward': {
      const { batch, t, h, w, c } = spec;
      const total = batch * t * h * w * c;
      const at = (b: string, tt: string, hh: string, ww: string): string => `(((${b} * ${t} + ${tt}) * ${h} + ${hh}) * ${w} + ${ww}) * ${c} + ch`;
      return { summary: [`depthwise conv3d backward on [${batch},${t},${h},${w},${c}]: dx per input element, dweight/dbias per (channel, tap)`], helpers: [], stages: [
        flat(T, 'dwconv3d_backward_input', total, WG, [
          T.let('i32', 'ch', `i % ${c}`), T.let('i32', 'wi', `(i / ${c}) % ${w}`), T.let('i32', 'hi', `(i / ${c * w}) % ${h}`),
          T.let('i32', 'ti', `(i / ${c * w * h}) % ${t}`), T.let('i32', 'bi', `i / ${c * w * h * t}`),
          T.var('f32', 's', f(0)),
          T.for('dt', '0', '3'), `  ${T.let('i32', 'to', 'ti + 2 - dt')}`,
          `  ${T.for('dh', '0', '3')}`, `    ${T.let('i32', 'ho', 'hi + 1 - dh')}`,
          `    ${T.for('dw', '0', '3')}`, `      ${T.let('i32', 'wo', 'wi + 1 - dw')}`,
          `      if (to < ${t} && ho >= 0 && ho < ${h} && wo >= 0 && wo < ${w}) { s += dy[${at('bi', 'to', 'ho', 'wo')}] * weight[ch * 27 + dt * 9 + dh * 3 + dw]; }`,
          '    }', '  }', '}', 'dx[i] = s;']),
        // Thread (ch, tap) for tap < 27 reduces dweight over every output position; tap 27 is dbias.
        flat(T, 'dwconv3d_backward_weight', c * 28, WG, [
          T.let('i32', 'ch', 'i / 28'), T.let('i32', 'tap', 'i % 28'),
          T.let('i32', 'dt', 'tap / 9'), T.let('i32', 'dh', '(tap / 3) % 3'), T.let('i32', 'dw', 'tap % 3'),
          T.var('f32', 's', f(0)),
          T.for('bi', '0', String(batch)), `  ${T.for('to', '0', String(t))}`, `    ${T.for('ho', '0', String(h))}`, `      ${T.for('wo', '0', String(w))}`,
          `        ${T.let('f32', 'g', `dy[${at('bi', 'to', 'ho', 'wo')}]`)}`,
          `        ${T.let('i32', 'tt', 'to - 2 + dt')} ${T.let('i32', 'hh', 'ho - 1 + dh')} ${T.let('i32', 'ww', 'wo - 1 + dw')}`,
          `        if (tap == 27) { s += g; } else if (tt >= 0 && hh >= 0 && hh < ${h} && ww >= 0 && ww < ${w}) { s += g * x[${at('bi', 'tt', 'hh', 'ww')}]; }`,
          '      }', '    }', '  }', '}',
          `if (tap == 27) { dbias[ch] = s; } else { dweight[ch * 27 + tap] = s; }`])] };
    }
    case 'embedding': {
      const { tokens, dim } = spec;
      return { summary: [`y[${tokens},${dim}] = table[ids]`], helpers: [], stages: [flat(T, 'embedding', tokens * dim, WG, [
        T.let('i32', 't', `i / ${dim}`), `y[i] = table[ids[t] * ${dim} + i % ${dim}];`])] };
    }
    case 'embedding_backward': {
      const { tokens, dim, vocab } = spec;
      return { summary: [`dtable[${vocab},${dim}] = scatter-add of dy[${tokens},${dim}] by ids (one thread per column, in token order)`], helpers: [], stages: [
        flat(T, 'embedding_backward_zero', vocab * dim, WG, [`dtable[i] = ${f(0)};`]),
        flat(T, 'embedding_backward_scatter', dim, WG, [
          `${T.for('t', '0', String(tokens))} dtable[ids[t] * ${dim} + i] += dy[t * ${dim} + i]; }`])] };
    }
    case 'dwconv3d': {
      const { batch, t, h, w, c } = spec;
      const total = batch * t * h * w * c;
      return { summary: [`depthwise conv3d k=3 on [${batch},${t},${h},${w},${c}] (channels last), causal time pad (2,0), h/w pad 1`], helpers: [], stages: [flat(T, 'dwconv3d', total, WG, [
        T.let('i32', 'ch', `i % ${c}`), T.let('i32', 'wi', `(i / ${c}) % ${w}`), T.let('i32', 'hi', `(i / ${c * w}) % ${h}`),
        T.let('i32', 'ti', `(i / ${c * w * h}) % ${t}`), T.let('i32', 'bi', `i / ${c * w * h * t}`),
        T.var('f32', 's', spec.bias ? 'bias[ch]' : f(0)),
        T.for('dt', '0', '3'), `  ${T.let('i32', 'tt', 'ti - 2 + dt')}`,
        `  ${T.for('dh', '0', '3')}`, `    ${T.let('i32', 'hh', 'hi - 1 + dh')}`,
        `    ${T.for('dw', '0', '3')}`, `      ${T.let('i32', 'ww', 'wi - 1 + dw')}`,
        `      if (tt >= 0 && hh >= 0 && hh < ${h} && ww >= 0 && ww < ${w}) {`,
        `        s += x[(((bi * ${t} + tt) * ${h} + hh) * ${w} + ww) * ${c} + ch] * weight[ch * 27 + dt * 9 + dh * 3 + dw];`,
        '      }', '    }', '  }', '}', 'y[i] = s;'])] };
    }
    case 'vq_nearest': {
      const { rows, dim, codebook } = spec;
      return { summary: [`cosine-nearest code of x[${rows},${dim}] in codebook[${codebook},${dim}]; y = codebook[idx] (straight-through)`], helpers: [], stages: [flat(T, 'vq_nearest', rows, ROW_WG, [
        T.let('i32', 'o', `i * ${dim}`),
        T.var('i32', 'best', '0'), T.var('f32', 'bestCos', f(-2)),
        T.for('c', '0', String(codebook)),
        `  ${T.var('f32', 'dp', f(0))} ${T.var('f32', 'nn', f(0))}`,
        `  ${T.for('j', '0', String(dim))} dp += x[o + j] * codebook[c * ${dim} + j]; nn += codebook[c * ${dim} + j] * codebook[c * ${dim} + j]; }`,
        // ‖x‖ is the same for every code: the argmax needs only dot/‖c‖.
        `  ${T.let('f32', 'cs', `dp / ${T.call('max', T.call('sqrt', 'nn'), f(1e-12))}`)}`,
        '  if (cs > bestCos) { bestCos = cs; best = c; }',
        '}',
        'idx[i] = best;',
        `${T.for('j', '0', String(dim))} y[o + j] = codebook[best * ${dim} + j]; }`])] };
    }
    case 'pair_mse_loss': case 'pair_ce_loss': {
      const B = spec.batch;
      const mse = spec.kind === 'pair_mse_loss';
      return { summary: [`${mse ? 'MSE' : 'cross-entropy'} on softmax over ${B} (true, false) logit pairs`], helpers: [], stages: [flat(T, spec.kind, 1, 1, [
        T.var('f32', 'total', f(0)),
        T.for('b', '0', String(B)),
        `  ${T.let('f32', 'l0', 'logits[2 * b]')} ${T.let('f32', 'l1', 'logits[2 * b + 1]')}`,
        `  ${T.let('f32', 'mx', T.call('max', 'l0', 'l1'))}`,
        `  ${T.let('f32', 'e0', T.call('exp', 'l0 - mx'))} ${T.let('f32', 'e1', T.call('exp', 'l1 - mx'))}`,
        `  ${T.let('f32', 'p0', 'e0 / (e0 + e1)')} ${T.let('f32', 't0', 'targets[b]')}`,
        ...(mse ? [
          // p1 - t1 = -(p0 - t0): loss = 2(p0-t0)²/(2B); dl/dl0 = 2(p0-t0)·p0(1-p0)·2/(2B).
          `  ${T.let('f32', 'e', 'p0 - t0')}`,
          '  total += e * e;',
          `  ${T.let('f32', 'g', `${f(2)} * e * p0 * (${f(1)} - p0) / ${f(B)}`)}`,
        ] : [
          `  ${T.let('f32', 'lse', `mx + ${T.call('log', 'e0 + e1')}`)}`,
          `  total += t0 * (lse - l0) + (${f(1)} - t0) * (lse - l1);`,
          `  ${T.let('f32', 'g', `(p0 - t0) / ${f(B)}`)}`,
        ]),
        '  dlogits[2 * b] = g;', '  dlogits[2 * b + 1] = -g;',
        '}',
        `loss[0] = total / ${f(B)};`])] };
    }
    case 'clip_loss': {
      const B = spec.batch;
      const lse = (axis: 'row' | 'col', name: string): string[] => {
        const at = (j: string): string => (axis === 'row' ? `logits[a * ${B} + ${j}]` : `logits[${j} * ${B} + a]`);
        return [
          `  ${T.var('f32', `${name}mx`, at('0'))}`,
          `  ${T.for('j', '1', String(B))} ${name}mx = ${T.call('max', `${name}mx`, at('j'))}; }`,
          `  ${T.var('f32', `${name}s`, f(0))}`,
          `  ${T.for('j', '0', String(B))} ${name}s += ${T.call('exp', `${at('j')} - ${name}mx`)}; }`,
          `  ${T.let('f32', name, `${name}mx + ${T.call('log', `${name}s`)}`)}`,
        ];
      };
      return { summary: [`symmetric InfoNCE over logits [${B},${B}] (diagonal positives)`], helpers: [], stages: [
        flat(T, 'clip_loss_rows', B, ROW_WG, [
          T.let('i32', 'a', 'i'), ...lse('row', 'rl'),
          `${T.for('j', '0', String(B))} dlogits[a * ${B} + j] = ${T.call('exp', `logits[a * ${B} + j] - rl`)} / ${f(2 * B)}; }`]),
        // Columns run after rows (a separate launch), adding their half in a fixed order.
        flat(T, 'clip_loss_cols', B, ROW_WG, [
          T.let('i32', 'a', 'i'), ...lse('col', 'cl'),
          `${T.for('j', '0', String(B))} dlogits[j * ${B} + a] += ${T.call('exp', `logits[j * ${B} + a] - cl`)} / ${f(2 * B)}; }`,
          `dlogits[a * ${B} + a] -= ${f(1 / B)};`]),
        flat(T, 'clip_loss_total', 1, 1, [
          T.var('f32', 'total', f(0)),
          T.for('a', '0', String(B)), ...lse('row', 'rl'), ...lse('col', 'cl'),
          `  total += rl + cl - ${f(2)} * logits[a * ${B} + a];`, '}',
          `loss[0] = total / ${f(2 * B)};`])] };
    }
    case 'adamw': {
      const { numel, beta1, beta2, eps, weightDecay } = spec;
      // params = [dropout seed, 1-based step, lr as f32 bits, 0]: the scheduled lr changes every step.
      return { summary: [`AdamW on ${numel} params: lr from params[2], betas (${beta1}, ${beta2}), eps ${eps}, weight decay ${weightDecay}`], helpers: [], stages: [flat(T, 'adamw', numel, WG, [
        T.let('f32', 'stp', T.cast('f32', 'params[1]')),
        T.let('f32', 'lr', T.bitsToF32('params[2]')),
        T.let('f32', 'g', 'grad[i]'),
        T.let('f32', 'mi', `${f(beta1)} * m[i] + ${f(1 - beta1)} * g`),
        T.let('f32', 'vi', `${f(beta2)} * v[i] + ${f(1 - beta2)} * g * g`),
        'm[i] = mi;', 'v[i] = vi;',
        T.let('f32', 'bc1', `${f(1)} - ${T.call('exp', `stp * ${f(Math.log(beta1))}`)}`),
        T.let('f32', 'bc2', `${f(1)} - ${T.call('exp', `stp * ${f(Math.log(beta2))}`)}`),
        T.let('f32', 'p', `param[i] * (${f(1)} - lr * ${f(weightDecay)})`),
        `param[i] = p - lr * (mi / bc1) / (${T.call('sqrt', 'vi / bc2')} + ${f(eps)});`])] };
    }
    default:
      return null;
  }
}
