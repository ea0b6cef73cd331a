// CPU body of sumsq, whose GPU body is a workgroup tree (barriers): the same two stages, each
// chunk summed by 16-lane vectors in a fixed order, then the chunks in index order, so the
// result does not depend on the thread count.
import { sumsqParts, type SumSqSpec } from '../../kernels/spec.js';
import type { KernelProgram } from '../kernels/program.js';

export function cSumsqProgram(spec: SumSqSpec): KernelProgram {
  const parts = sumsqParts(spec.numel), chunk = Math.ceil(spec.numel / parts);
  const chunks = [
    `#pragma omp parallel for num_threads(medctc_threads) schedule(static) if (${spec.numel} >= 65536)`,
    `for (int p = 0; p < ${parts}; p++) {`,
    `  const long lo = (long)p * ${chunk}, hi = lo + ${chunk} < ${spec.numel} ? lo + ${chunk} : ${spec.numel};`,
    '  v16 s0 = {0}, s1 = {0};',
    '  long j = lo;',
    '  for (; j + 32 <= hi; j += 32) { const v16 a = v16_load(x + j), b = v16_load(x + j + 16); s0 += a * a; s1 += b * b; }',
    '  s0 += s1;',
    '  float s = 0.0f;',
    '  for (int l = 0; l < 16; l++) s += s0[l];',
    '  for (; j < hi; j++) s += x[j] * x[j];',
    '  partial[p] = s;',
    '}',
  ];
  const total = ['float s = 0.0f;', `for (int p = 0; p < ${parts}; p++) s += partial[p];`, `norms[${spec.index}] = s;`];
  return {
    summary: [`norms[${spec.index}] = Σ x² over ${spec.numel} elements (${parts} chunk(s) of ${chunk}, then their sum; fixed order)`],
    helpers: [],
    stages: [
      { entry: 'sumsq_chunks', workgroup: [1, 1, 1], grid: [1, 1, 1], shared: [], body: chunks, raw: true },
      { entry: 'sumsq_total', workgroup: [1, 1, 1], grid: [1, 1, 1], shared: [], body: total, raw: true },
    ],
  };
}
