// CPU body of vq_nearest (cosine-nearest code of each row of x in the codebook, y = that code).
// The shared body gives every row its own thread and recomputes every code's norm per row with
// two serial dot products: at CT-CLIP's size (13,824 rows x 8,192 codes x 512) that is ~116 G
// dependent multiply-adds, minutes on a CPU. Here each code's norm is computed once (the same
// serial sum, so the same bits), the codebook is packed once into scratch as contiguous panels of
// 32 codes x dim (transposed within the panel: a power-of-two stride through a plain transpose
// would map every load to the same cache sets), and each block of 4 rows takes the dot products
// with a panel's 32 codes in 16-lane vectors (a group of 64 rows per panel, so that a panel is
// read from memory once per group, not once per 4 rows): every lane still sums
// its own dot product over j in order, so each cosine, and hence each comparison, is the shared
// body's. Codes are compared in ascending order (the first maximum wins, as there). Rows are split
// statically over threads; a row's result does not depend on the thread count.
import type { VqNearestSpec } from '../../kernels/spec.js';
import type { KernelProgram } from '../kernels/program.js';
import { floatLiteral } from '../target.js';

export function cVqNearestProgram(s: VqNearestSpec): KernelProgram {
  const { rows: R, dim: D, codebook: C } = s;
  const CB = 32, RB = 4, RG = 64;
  const full = C - (C % CB);
  const eps = `${floatLiteral(1e-12)}f`;
  const body = [
    `float *restrict den = (float *)medctc_alloc(sizeof(float) * ${C});`,
    `float *restrict pan = (float *)medctc_alloc(sizeof(float) * ${Math.max(full, 1)} * ${D});`,
    `#pragma omp parallel for schedule(static) num_threads(medctc_threads) if (${C * D} >= 65536)`,
    `for (int c = 0; c < ${C}; c++) {`,
    `  const float *restrict cc = codebook + (long)c * ${D};`,
    '  float nn = 0.0f;',
    `  for (int j = 0; j < ${D}; j++) nn += cc[j] * cc[j];`,
    `  if (c < ${full}) for (int j = 0; j < ${D}; j++) pan[((long)(c / ${CB}) * ${D} + j) * ${CB} + c % ${CB}] = cc[j];`,
    `  den[c] = fmaxf(sqrtf(nn), ${eps});`,
    '}',
    // Row groups (x rows and one 64 KB panel stay in L2), panels in order, 4-row blocks.
    `#pragma omp parallel for schedule(static) num_threads(medctc_threads) if (${R} > ${RG})`,
    `for (int g = 0; g < ${Math.ceil(R / RG)}; g++) {`,
    `  const int g0 = g * ${RG}, gn = ${R} - g0 < ${RG} ? ${R} - g0 : ${RG};`,
    `  float bestCos[${RG}]; int best[${RG}];`,
    `  for (int r = 0; r < ${RG}; r++) { bestCos[r] = -2.0f; best[r] = 0; }`,
    `  float dps[${RB}][${CB}] __attribute__((aligned(64)));`,
    `  for (int c0 = 0; c0 < ${full}; c0 += ${CB}) {`,
    `    const float *restrict pc = pan + (long)(c0 / ${CB}) * ${D} * ${CB};`,
    `    for (int rb = 0; rb < gn; rb += ${RB}) {`,
    `      const float *restrict xr[${RB}];`,
    `      for (int r = 0; r < ${RB}; r++) xr[r] = x + (long)(g0 + (rb + r < gn ? rb + r : gn - 1)) * ${D};`,
    '      v16 a00 = {0}, a01 = {0}, a10 = {0}, a11 = {0}, a20 = {0}, a21 = {0}, a30 = {0}, a31 = {0};',
    `      for (int j = 0; j < ${D}; j++) {`,
    `        const v16 c0v = v16_load(pc + j * ${CB}), c1v = v16_load(pc + j * ${CB} + 16);`,
    '        const float x0 = xr[0][j], x1 = xr[1][j], x2 = xr[2][j], x3 = xr[3][j];',
    '        a00 += x0 * c0v; a01 += x0 * c1v; a10 += x1 * c0v; a11 += x1 * c1v;',
    '        a20 += x2 * c0v; a21 += x2 * c1v; a30 += x3 * c0v; a31 += x3 * c1v;',
    '      }',
    '      v16_store(dps[0], a00); v16_store(dps[0] + 16, a01); v16_store(dps[1], a10); v16_store(dps[1] + 16, a11);',
    '      v16_store(dps[2], a20); v16_store(dps[2] + 16, a21); v16_store(dps[3], a30); v16_store(dps[3] + 16, a31);',
    `      for (int r = 0; r < ${RB} && rb + r < gn; r++) for (int t = 0; t < ${CB}; t++) {`,
    '        const float cs = dps[r][t] / den[c0 + t];',
    '        if (cs > bestCos[rb + r]) { bestCos[rb + r] = cs; best[rb + r] = c0 + t; }',
    '      }',
    '    }',
    '  }',
    `  for (int c = ${full}; c < ${C}; c++) {`,
    '    for (int r = 0; r < gn; r++) {',
    `      const float *restrict xi = x + (long)(g0 + r) * ${D};`,
    '      float dp = 0.0f;',
    `      for (int j = 0; j < ${D}; j++) dp += xi[j] * codebook[(long)c * ${D} + j];`,
    '      const float cs = dp / den[c];',
    '      if (cs > bestCos[r]) { bestCos[r] = cs; best[r] = c; }',
    '    }',
    '  }',
    '  for (int r = 0; r < gn; r++) {',
    '    idx[g0 + r] = best[r];',
    `    memcpy(y + (long)(g0 + r) * ${D}, codebook + (long)best[r] * ${D}, sizeof(float) * ${D});`,
    '  }',
    '}',
    'free(den); free(pan);',
  ];
  return {
    summary: [`cosine-nearest code of x[${R},${D}] in codebook[${C},${D}]; y = codebook[idx] (straight-through)`,
      `CPU: code norms and ${CB}-code panels once, then per ${RG}-row group and panel ${RB} rows x ${CB} codes per vector block`],
    helpers: [],
    stages: [{ entry: 'vq_nearest', workgroup: [1, 1, 1], grid: [1, 1, 1], shared: [], body, raw: true }],
  };
}
