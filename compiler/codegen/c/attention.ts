// CPU body of attention_backward. The GPU body gives every query row and every key row its own
// thread, so each key row recomputes all its probabilities (and every q·k and dout·v twice);
// on a CPU core one (batch, head) pair at a time computes P and dS = P⊙(dP − rowsum(dout⊙o))
// once into thread-local nq×nk scratch, then dq = dS·K, dk = dSᵀ·Q, dv = Pᵀ·dout as row updates
// along dh (vectorisable). Pairs are split statically over threads and each sums in a fixed
// order, so results do not depend on the thread count.
import type { AttentionBackwardSpec } from '../../kernels/spec.js';
import type { KernelProgram } from '../kernels/program.js';
import { floatLiteral } from '../target.js';

const f = (x: number): string => `${floatLiteral(x)}f`.replace(/^-(.*)$/, '(-$1)');

export function cAttentionBackwardProgram(s: AttentionBackwardSpec): KernelProgram {
  const { batch: B, heads: H, nq, nk, dh } = s;
  const qo = (i: string): string => `((long)(bb * ${nq} + ${i}) * ${H} + hh) * ${dh}`;
  const ko = (j: string): string => `((long)(bb * ${nk} + ${j}) * ${H} + hh) * ${dh}`;
  const body = [
    `#pragma omp parallel num_threads(medctc_threads) if (${B * H} > 1 && ${B * H * nq * nk * dh} >= 65536)`,
    '{',
    `  float *restrict P = (float *)medctc_alloc(sizeof(float) * ${nq * nk});`,
    `  float *restrict DS = (float *)medctc_alloc(sizeof(float) * ${nq * nk});`,
    '  #pragma omp for schedule(static)',
    `  for (int bh = 0; bh < ${B * H}; bh++) {`,
    `    const int bb = bh / ${H}, hh = bh % ${H};`,
    `    for (int i = 0; i < ${nq}; i++) {`,
    `      const float *restrict qi = q + ${qo('i')}, *restrict gi = dout + ${qo('i')}, *restrict oi = o + ${qo('i')};`,
    `      const float ls = lse[(bb * ${H} + hh) * ${nq} + i];`,
    `      float di = 0.0f; for (int d = 0; d < ${dh}; d++) di += gi[d] * oi[d];`,
    `      for (int j = 0; j < ${nk}; j++) {`,
    ...(s.mask ? [`        if (mask[bb * ${nk} + j] == 0) { P[i * ${nk} + j] = 0.0f; DS[i * ${nk} + j] = 0.0f; continue; }`] : []),
    `        const float *restrict kj = k + ${ko('j')}, *restrict vj = v + ${ko('j')};`,
    `        float sc = 0.0f, dp = 0.0f;`,
    `        for (int d = 0; d < ${dh}; d++) { sc += qi[d] * kj[d]; dp += gi[d] * vj[d]; }`,
    `        sc = sc * ${f(s.scale)}${s.bias ? ` + bias[(hh * ${nq} + i) * ${nk} + j]` : ''};`,
    '        const float p = medctc_expf(sc - ls);',
    `        P[i * ${nk} + j] = p;`,
    `        DS[i * ${nk} + j] = p * (dp - di) * ${f(s.scale)};`,
    '      }',
    `      float acc[${dh}] = {0};`,
    `      for (int j = 0; j < ${nk}; j++) { const float ds = DS[i * ${nk} + j]; const float *restrict kj = k + ${ko('j')}; for (int d = 0; d < ${dh}; d++) acc[d] += ds * kj[d]; }`,
    `      for (int d = 0; d < ${dh}; d++) dq[${qo('i')} + d] = acc[d];`,
    '    }',
    `    for (int j = 0; j < ${nk}; j++) {`,
    `      float ak[${dh}] = {0}, av[${dh}] = {0};`,
    `      for (int i = 0; i < ${nq}; i++) {`,
    `        const float ds = DS[i * ${nk} + j], p = P[i * ${nk} + j];`,
    `        const float *restrict qi = q + ${qo('i')}, *restrict gi = dout + ${qo('i')};`,
    `        for (int d = 0; d < ${dh}; d++) { ak[d] += ds * qi[d]; av[d] += p * gi[d]; }`,
    '      }',
    `      for (int d = 0; d < ${dh}; d++) { dk[${ko('j')} + d] = ak[d]; dv[${ko('j')} + d] = av[d]; }`,
    '    }',
    '  }',
    '  free(P); free(DS);',
    '}',
  ];
  return {
    summary: [`attention backward: q [${B},${nq},${H},${dh}], k/v [${B},${nk},${H},${dh}], logits·${s.scale}${s.bias ? ' + bias[h,nq,nk]' : ''}${s.mask ? ', key padding mask' : ''}`,
      'CPU: per (batch, head), P and dS once into scratch, then dq = dS·K, dk = dSᵀ·Q, dv = Pᵀ·dout'],
    helpers: [],
    stages: [{ entry: 'attention_backward', workgroup: [1, 1, 1], grid: [1, 1, 1], shared: [], body, raw: true }],
  };
}
