// CPU body of attention_backward. The GPU body gives every query row and every key row its own
// thread, so each key row recomputes all its probabilities (and every q·k and dout·v twice);
// on a CPU core one (batch, head) pair at a time computes P and dS = P⊙(dP − rowsum(dout⊙o))
// once into thread-local nq×nk scratch, then dq = dS·K, dk = dSᵀ·Q, dv = Pᵀ·dout as row updates
// along dh (vectorisable). Pairs are split statically over threads and each sums in a fixed
// order, so results do not depend on the thread count.
import type { AttentionBackwardSpec, AttentionSpec } from '../../kernels/spec.js';
import type { KernelProgram } from '../kernels/program.js';
import { floatLiteral } from '../target.js';

const f = (x: number): string => `${floatLiteral(x)}f`.replace(/^-(.*)$/, '(-$1)');

export function cAttentionBackwardProgram(s: AttentionBackwardSpec): KernelProgram {
  const { batch: B, heads: H, nq, nk, dh } = s;
  // Keys padded to whole 16-lane vectors: P and dS rows, and Kᵀ / Vᵀ (zero-padded).
  const NK = Math.ceil(nk / 16) * 16;
  const qo = (i: string): string => `((long)(bb * ${nq} + ${i}) * ${H} + hh) * ${dh}`;
  const ko = (j: string): string => `((long)(bb * ${nk} + ${j}) * ${H} + hh) * ${dh}`;
  const body = [
    `#pragma omp parallel num_threads(medctc_threads) if (${B * H} > 1 && ${B * H * nq * nk * dh} >= 65536)`,
    '{',
    `  float *restrict P = (float *)medctc_alloc(sizeof(float) * ${nq * NK});`,
    `  float *restrict DS = (float *)medctc_alloc(sizeof(float) * ${nq * NK});`,
    `  float *restrict KT = (float *)medctc_alloc(sizeof(float) * ${dh * NK});`,
    `  float *restrict VT = (float *)medctc_alloc(sizeof(float) * ${dh * NK});`,
    `  memset(KT, 0, sizeof(float) * ${dh * NK}); memset(VT, 0, sizeof(float) * ${dh * NK});`,
    '  #pragma omp for schedule(static)',
    `  for (int bh = 0; bh < ${B * H}; bh++) {`,
    `    const int bb = bh / ${H}, hh = bh % ${H};`,
    `    for (int j = 0; j < ${nk}; j++) { const long kj = ${ko('j')}; for (int d = 0; d < ${dh}; d++) { KT[d * ${NK} + j] = k[kj + d]; VT[d * ${NK} + j] = v[kj + d]; } }`,
    // Lanes past nk, and masked keys, get p = dS = 0 (as the scalar rule: P = DS = 0).
    `    int live[${NK}] __attribute__((aligned(64)));`,
    `    for (int j = 0; j < ${NK}; j++) live[j] = j < ${nk}${s.mask ? ` && mask[bb * ${nk} + j] != 0` : ''} ? -1 : 0;`,
    `    for (int i = 0; i < ${nq}; i++) {`,
    `      const long qi = ${qo('i')};`,
    `      const float ls = lse[(bb * ${H} + hh) * ${nq} + i];`,
    `      float di = 0.0f; for (int d = 0; d < ${dh}; d++) di += dout[qi + d] * o[qi + d];`,
    // 16 keys at a time; each lane sums over d in the scalar order, so the bits are the
    // one-key-at-a-time body's.
    `      for (int j0 = 0; j0 < ${NK}; j0 += 16) {`,
    '        v16 sc = v16_splat(0.0f), dp = v16_splat(0.0f);',
    `        for (int d = 0; d < ${dh}; d++) { const float qd = q[qi + d], gd = dout[qi + d]; sc += qd * v16_load(KT + d * ${NK} + j0); dp += gd * v16_load(VT + d * ${NK} + j0); }`,
    s.bias
      ? `        { float bt[16] __attribute__((aligned(64))); const long bi = ((long)hh * ${nq} + i) * ${nk}; for (int l = 0; l < 16; l++) bt[l] = j0 + l < ${nk} ? bias[bi + j0 + l] : 0.0f; sc = sc * ${f(s.scale)} + v16_load(bt); }`
      : `        sc = sc * ${f(s.scale)};`,
    '        const i16v on = *(const i16v *)(live + j0);',
    '        const v16 p = v16_select(on, v16_exp(sc - ls), v16_splat(0.0f));',
    `        v16_store(P + i * ${NK} + j0, p);`,
    `        v16_store(DS + i * ${NK} + j0, v16_select(on, p * (dp - di) * ${f(s.scale)}, v16_splat(0.0f)));`,
    '      }',
    `      float acc[${dh}] = {0};`,
    `      for (int j = 0; j < ${nk}; j++) { const float ds = DS[i * ${NK} + j]; const long kj = ${ko('j')}; for (int d = 0; d < ${dh}; d++) acc[d] += ds * k[kj + d]; }`,
    `      for (int d = 0; d < ${dh}; d++) dq[${qo('i')} + d] = acc[d];`,
    '    }',
    `    for (int j = 0; j < ${nk}; j++) {`,
    `      float ak[${dh}] = {0}, av[${dh}] = {0};`,
    `      for (int i = 0; i < ${nq}; i++) {`,
    `        const float ds = DS[i * ${NK} + j], p = P[i * ${NK} + j];`,
    `        const long qi = ${qo('i')};`,
    `        for (int d = 0; d < ${dh}; d++) { ak[d] += ds * q[qi + d]; av[d] += p * dout[qi + d]; }`,
    '      }',
    `      for (int d = 0; d < ${dh}; d++) { dk[${ko('j')} + d] = ak[d]; dv[${ko('j')} + d] = av[d]; }`,
    '    }',
    '  }',
    '  free(P); free(DS); free(KT); free(VT);',
    '}',
  ];
  return {
    summary: [`attention backward: q [${B},${nq},${H},${dh}], k/v [${B},${nk},${H},${dh}], logits·${s.scale}${s.bias ? ' + bias[h,nq,nk]' : ''}${s.mask ? ', key padding mask' : ''}`,
      'CPU: per (batch, head), Kᵀ and Vᵀ in scratch; P and dS once, 16 keys per vector, then dq = dS·K, dk = dSᵀ·Q, dv = Pᵀ·dout'],
    helpers: [],
    stages: [{ entry: 'attention_backward', workgroup: [1, 1, 1], grid: [1, 1, 1], shared: [], body, raw: true }],
  };
}

/** CPU body of the attention forward. The shared body (one thread per query row, online softmax)
 *  takes two scalar exps and a serial q·k per (query, key): on a CPU core that is ~50x below the
 *  FMA rate. Here one (batch, head) pair at a time: K transposed into thread-local scratch, then
 *  per query row the logits for all keys as axpys over keys (vectorised), the exact softmax in two
 *  passes (max, then 16-lane exps), and o = Σ p·v as axpys along dh; lse = max + log Σ p. A row
 *  whose keys are all masked gives o = 0 and lse = 0, as the shared body does. Pairs are split
 *  statically over threads; a pair's result does not depend on the thread count. */
export function cAttentionProgram(s: AttentionSpec): KernelProgram {
  const { batch: B, heads: H, nq, nk, dh } = s;
  const qo = (i: string): string => `((long)(bb * ${nq} + ${i}) * ${H} + hh) * ${dh}`;
  const ko = (j: string): string => `((long)(bb * ${nk} + ${j}) * ${H} + hh) * ${dh}`;
  const live = (j: string): string => (s.mask ? `mask[bb * ${nk} + ${j}] != 0` : '1');
  const body = [
    `#pragma omp parallel num_threads(medctc_threads) if (${B * H} > 1 && ${B * H * nq * nk * dh} >= 65536)`,
    '{',
    `  float *restrict KT = (float *)medctc_alloc(sizeof(float) * ${dh * nk});`,
    `  float *restrict S = (float *)medctc_alloc(sizeof(float) * ${nk + 16});`,
    '  #pragma omp for schedule(static)',
    `  for (int bh = 0; bh < ${B * H}; bh++) {`,
    `    const int bb = bh / ${H}, hh = bh % ${H};`,
    `    for (int j = 0; j < ${nk}; j++) { const long kj = ${ko('j')}; for (int d = 0; d < ${dh}; d++) KT[d * ${nk} + j] = k[kj + d]; }`,
    ...(s.mask ? [`    int nlive = 0; for (int j = 0; j < ${nk}; j++) nlive += ${live('j')};`] : []),
    `    for (int i = 0; i < ${nq}; i++) {`,
    `      const long qi = ${qo('i')};`,
    `      float *restrict ls = lse + (long)(bb * ${H} + hh) * ${nq} + i;`,
    ...(s.mask ? [`      if (nlive == 0) { for (int d = 0; d < ${dh}; d++) o[qi + d] = 0.0f; *ls = 0.0f; continue; }`] : []),
    `      for (int j = 0; j < ${nk}; j++) S[j] = 0.0f;`,
    `      for (int d = 0; d < ${dh}; d++) { const float qd = q[qi + d]; const float *restrict kt = KT + d * ${nk}; for (int j = 0; j < ${nk}; j++) S[j] += qd * kt[j]; }`,
    ...(s.bias
      ? [`      { const long bi = ((long)hh * ${nq} + i) * ${nk}; for (int j = 0; j < ${nk}; j++) S[j] = S[j] * ${f(s.scale)} + bias[bi + j]; }`]
      : [`      for (int j = 0; j < ${nk}; j++) S[j] = S[j] * ${f(s.scale)};`]),
    '      float mx = -3.0e38f;',
    `      for (int j = 0; j < ${nk}; j++) if (${live('j')} && S[j] > mx) mx = S[j];`,
    `      for (int j = 0; j < ${nk}; j += 16) { const int n = ${nk} - j < 16 ? ${nk} - j : 16; v16_storen(S + j, v16_exp(v16_loadn(S + j, n) - mx), n); }`,
    ...(s.mask ? [`      for (int j = 0; j < ${nk}; j++) if (!(${live('j')})) S[j] = 0.0f;`] : []),
    `      float l = 0.0f; for (int j = 0; j < ${nk}; j++) l += S[j];`,
    `      float acc[${dh}]; for (int d = 0; d < ${dh}; d++) acc[d] = 0.0f;`,
    `      for (int j = 0; j < ${nk}; j++) { const float p = S[j]; const long vj = ${ko('j')}; for (int d = 0; d < ${dh}; d++) acc[d] += p * v[vj + d]; }`,
    '      const float inv = 1.0f / l;',
    `      for (int d = 0; d < ${dh}; d++) o[qi + d] = acc[d] * inv;`,
    '      *ls = mx + logf(l);',
    '    }',
    '  }',
    '  free(KT); free(S);',
    '}',
  ];
  return {
    summary: [`attention: q [${B},${nq},${H},${dh}], k/v [${B},${nk},${H},${dh}], logits·${s.scale}${s.bias ? ' + bias[h,nq,nk]' : ''}${s.mask ? ', key padding mask' : ''}`,
      'CPU: per (batch, head), Kᵀ in scratch; per query row logits for all keys, exact two-pass softmax, o = Σ p·v'],
    helpers: [],
    stages: [{ entry: 'attention', workgroup: [1, 1, 1], grid: [1, 1, 1], shared: [], body, raw: true }],
  };
}
