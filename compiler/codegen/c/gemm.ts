// CPU bodies of the GEMM-type kernels (gemm, linear, the LoRA kernels), rendered from the same
// stage description as the GPU tiles (gemmStages in ../kernels/gemm.ts): the operand layouts,
// dropout on load, the concatenated-K LoRA segments and the epilogue mean the same thing here.
//
// Shape of the code (Goto/BLIS): the reduction axis runs in panels of KC (each segment of the
// concatenated K axis is its own run of panels); per panel, op(B) is packed into NR-column strips
// shared by all threads, then each thread packs MC-row blocks of op(A) into MR-row strips and runs
// an MR×NR register-blocked micro-kernel (MR·NR/16 vector accumulators, one broadcast of A and
// NR/16 loads of B per k) over its share of (row block, column strip) units. Dropout multiplies
// values as they are packed, so masked operands are never materialised.
//
// Determinism: work is split over output tiles only; every output sums its k terms in one fixed
// order (panel by panel, k ascending), so results are bit-identical for any thread count.
import type { GemmKind, GemmStage, Operand, Dropout } from '../kernels/gemm.js';
import { gemmStages, helpersFor } from '../kernels/gemm.js';
import { dropoutStreamKey, dropoutThreshold, type KernelProgram, type Stage } from '../kernels/program.js';
import { floatLiteral } from '../target.js';
import type { HalfStorage } from '../../kernels/spec.js';

/** 16-bit bindings by name (KernelSpec.half): packing widens them, the epilogue widens a 16-bit
 *  residual, and a 16-bit output is accumulated in an f32 staging copy and rounded once at the
 *  end (so panels still sum in f32). */
type Half = ReadonlyMap<string, HalfStorage['dtype']>;

/** K panel: a 256 × 32 strip of packed B is 32 KiB, inside a 48 KiB L1. */
const KC = 256;
/** Row block: 96 × 256 floats of packed A (96 KiB) stay in L2 while the column strips pass. */
const MC_ROWS = 96;
/** Below this many MACs one thread is faster than a fork/join. */
const SERIAL_MACS = 1 << 15;

const f = (x: number): string => `${floatLiteral(x)}f`.replace(/^-(.*)$/, '(-$1)');

export interface CpuBlocking { mr: number; nv: number; nr: number; mcTiles: number; kc: number }

/** Micro-tile per output shape: 12×32 (24 accumulators of 32 registers) for wide outputs, 16×16 for
 *  rank-r-thin ones, 4 or 8 rows when M is that small; row blocks sized so there are ≥ 8 units. */
export function cpuBlocking(m: number, n: number): CpuBlocking {
  const nv = n <= 16 ? 1 : 2;
  const mr = m <= 4 ? 4 : m <= 8 ? 8 : nv === 1 ? 16 : 12;
  const nr = 16 * nv;
  const mTiles = Math.ceil(m / mr), nP = Math.ceil(n / nr);
  const mcTiles = Math.max(1, Math.min(Math.floor(MC_ROWS / mr), Math.floor((mTiles * nP) / 8)));
  return { mr, nv, nr, mcTiles, kc: KC };
}

function keep(d: Dropout, idx: string): string {
  const key = `(params[0] ^ 0x${dropoutStreamKey(d.stream).toString(16)}u)`;
  return `(dropout_bits(${key}, (unsigned int)(${idx})) >= ${dropoutThreshold(d.p)}u ? ${f(1 / (1 - d.p))} : 0.0f)`;
}

/** op(X)[outer, k] of a segment operand as a C expression over `src` (its storage index). */
function element(op: Operand, srcIdx: string, half: Half): string {
  const dt = half.get(op.buf);
  const load = dt ? `medctc_${dt}_to_f32(${op.buf}[${srcIdx}])` : `${op.buf}[${srcIdx}]`;
  return op.dropout ? `${load} * ${keep(op.dropout, srcIdx)}` : load;
}

function packA(op: Operand, M: number, K: number, b: CpuBlocking, half: Half): string[] {
  const { mr, mcTiles } = b;
  // A stored [M,K] reads along k; stored [K,M] (transA) reads MR consecutive rows per k.
  const src = op.trans ? '(long)(k0 + p) * ' + M + ' + i' : '(long)i * ' + K + ' + k0 + p';
  const inner = op.trans
    ? [
      `for (int p = 0; p < kc; p++) for (int ii = 0; ii < ${mr}; ii++) {`,
      `  const int i = r0 + ii;`,
      `  dst[p * ${mr} + ii] = i < ${M} ? ${element(op, src, half)} : 0.0f;`,
      '}',
    ]
    : [
      `for (int ii = 0; ii < ${mr}; ii++) {`,
      `  const int i = r0 + ii;`,
      `  if (i < ${M}) { for (int p = 0; p < kc; p++) dst[p * ${mr} + ii] = ${element(op, src, half)}; }`,
      `  else { for (int p = 0; p < kc; p++) dst[p * ${mr} + ii] = 0.0f; }`,
      '}',
    ];
  return [
    `for (int ir = 0; ir < ${mcTiles}; ir++) {`,
    `  const int r0 = mb * ${mcTiles * mr} + ir * ${mr};`,
    `  if (r0 >= ${M}) break;`,
    `  float *restrict dst = Ap + (long)ir * kc * ${mr};`,
    ...inner.map((l) => `  ${l}`),
    '}',
  ];
}

function packB(op: Operand, N: number, K: number, b: CpuBlocking, half: Half): string[] {
  const { nr } = b;
  // B stored [K,N] reads NR consecutive columns per k; stored [N,K] (transB, a linear's W) reads along k.
  const src = op.trans ? '(long)j * ' + K + ' + k0 + p' : '(long)(k0 + p) * ' + N + ' + j';
  const inner = op.trans
    ? [
      `for (int jj = 0; jj < ${nr}; jj++) {`,
      `  const int j = jp * ${nr} + jj;`,
      `  if (j < ${N}) { for (int p = 0; p < kc; p++) dst[p * ${nr} + jj] = ${element(op, src, half)}; }`,
      `  else { for (int p = 0; p < kc; p++) dst[p * ${nr} + jj] = 0.0f; }`,
      '}',
    ]
    : [
      `for (int p = 0; p < kc; p++) for (int jj = 0; jj < ${nr}; jj++) {`,
      `  const int j = jp * ${nr} + jj;`,
      `  dst[p * ${nr} + jj] = j < ${N} ? ${element(op, src, half)} : 0.0f;`,
      '}',
    ];
  return [
    `for (int jp = t * ${Math.ceil(N / nr)} / T; jp < (t + 1) * ${Math.ceil(N / nr)} / T; jp++) {`,
    `  float *restrict dst = Bp + (long)jp * kc * ${nr};`,
    ...inner.map((l) => `  ${l}`),
    '}',
  ];
}

/** The micro-kernel plus epilogue of one stage: a file-scope function. mode: 1 = add to what the
 *  output holds (a later panel), 2 = last panel (alpha, bias, gelu, residual), 4 = this segment's
 *  sum takes the output-indexed dropout mask (lora_backward_input's A term). */
function tileFunction(sym: string, g: GemmStage, b: CpuBlocking, masked: Dropout | undefined, half: Half): string[] {
  const { mr, nv, nr } = b;
  const { m: M, n: N } = g;
  const acc = (i: number, j: number): string => `c${i}_${j}`;
  const lines: string[] = [
    `static void ${sym}_tile(const float *restrict Ap, const float *restrict Bp, int kc, int row0, int col0, int mode,`,
    `    float *restrict out, const float *restrict bias, const ${g.residual && half.has(g.residual) ? 'uint16_t' : 'float'} *restrict residual, const unsigned int *restrict params) {`,
    `  (void)bias; (void)residual; (void)params;`,
  ];
  for (let i = 0; i < mr; i++) lines.push(`  v16 ${Array.from({ length: nv }, (_, j) => `${acc(i, j)} = {0}`).join(', ')};`);
  lines.push('  for (int p = 0; p < kc; p++) {');
  lines.push(`    const float *restrict a = Ap + p * ${mr};`);
  lines.push(`    ${Array.from({ length: nv }, (_, j) => `const v16 b${j} = *(const v16 *)(Bp + p * ${nr} + ${16 * j});`).join(' ')}`);
  for (let i = 0; i < mr; i++) lines.push(`    ${Array.from({ length: nv }, (_, j) => `${acc(i, j)} += a[${i}] * b${j};`).join(' ')}`);
  lines.push('  }');
  lines.push(`  v16 acc[${mr}][${nv}];`);
  for (let i = 0; i < mr; i++) lines.push(`  ${Array.from({ length: nv }, (_, j) => `acc[${i}][${j}] = ${acc(i, j)};`).join(' ')}`);
  const final: string[] = [];
  if (g.alpha !== 1) final.push(`v = v * ${f(g.alpha)};`);
  if (g.bias) final.push(`v += v16_loadn(${g.bias} + col, cn);`);
  if (g.activation === 'gelu') final.push('v = v16_gelu(v);');
  const resDt = g.residual ? half.get(g.residual) : undefined;
  if (g.residual) final.push(`v += v16_loadn${resDt ? `_${resDt}` : ''}(${g.residual} + (long)row * ${N} + col, cn);`);
  lines.push(
    `  for (int i = 0; i < ${mr}; i++) {`,
    '    const int row = row0 + i;',
    `    if (row >= ${M}) break;`,
    `    float *restrict crow = out + (long)row * ${N};`,
    `    for (int jv = 0; jv < ${nv}; jv++) {`,
    '      const int col = col0 + 16 * jv;',
    `      if (col >= ${N}) break;`,
    `      const int cn = ${N} - col < 16 ? ${N} - col : 16;`,
    '      v16 v = acc[i][jv];',
  );
  if (masked) {
    lines.push(
      '      if (mode & 4) {',
      '        float kp[16] __attribute__((aligned(64)));',
      `        for (int l = 0; l < 16; l++) kp[l] = ${keep(masked, `(long)row * ${N} + col + l`)};`,
      `        v = v * v16_load(kp) + v16_loadn(crow + col, cn)${g.alpha !== 1 ? ` * ${f(g.alpha)}` : ''};`,
      ...final.filter((l) => !l.startsWith('v = v *')).map((l) => `        ${l}`),
      '      } else {',
    );
  }
  const ind = masked ? '  ' : '';
  lines.push(`      ${ind}if (mode & 1) v += v16_loadn(crow + col, cn);`);
  if (final.length) lines.push(`      ${ind}if (mode & 2) { ${final.join(' ')} }`);
  if (masked) lines.push('      }');
  lines.push('      v16_storen(crow + col, v, cn);', '    }', '  }', '}');
  return lines;
}

function stageBody(sym: string, g: GemmStage, b: CpuBlocking, half: Half): string[] {
  const { m: M, n: N } = g;
  const { mr, nr, mcTiles, kc } = b;
  const nP = Math.ceil(N / nr), units = Math.ceil(M / (mcTiles * mr)) * nP;
  const masked = g.segments.find((s) => s.outDropout)?.outDropout;
  // The masked segment (rank r) is a single panel so its mask applies to its whole sum.
  const kcMax = Math.max(kc, ...g.segments.filter((s) => s.outDropout).map((s) => s.k));
  const macs = M * N * g.segments.reduce((a, s) => a + s.k, 0);
  const lastPlain = g.segments.map((s) => !s.outDropout).lastIndexOf(true);
  const outDt = half.get(g.out);
  const out = outDt ? 'medctc_cst' : g.out;
  const body: string[] = [
    `const int medctc_nt = ${macs < SERIAL_MACS ? '1' : 'medctc_threads'};`,
    ...(outDt ? [`float *restrict medctc_cst = (float *)medctc_alloc(sizeof(float) * ${M * N});`] : []),
    `float *restrict Bp = (float *)medctc_alloc(sizeof(float) * ${kcMax * nP * nr});`,
    '#pragma omp parallel num_threads(medctc_nt)',
    '{',
    '  const int t = omp_get_thread_num(), T = omp_get_num_threads();',
    `  float *restrict Ap = (float *)medctc_alloc(sizeof(float) * ${kcMax * mcTiles * mr});`,
  ];
  g.segments.forEach((seg, si) => {
    const K = seg.k;
    const step = seg.outDropout ? K : kc;
    const mode = seg.outDropout ? '1 | 4' : `${si > 0 ? '1' : '(k0 > 0 ? 1 : 0)'} | (${si === lastPlain && !masked ? `k0 + kc >= ${K} ? 2 : 0` : '0'})`;
    body.push(
      `  // segment ${si}: ${seg.a.buf}${seg.a.trans ? 'ᵀ' : ''} · ${seg.b.buf}${seg.b.trans ? 'ᵀ' : ''} over K = ${K}${seg.outDropout ? ' (output-indexed dropout mask)' : ''}`,
      `  for (int k0 = 0; k0 < ${K}; k0 += ${step}) {`,
      `    const int kc = ${K} - k0 < ${step} ? ${K} - k0 : ${step};`,
      `    const int mode = ${mode};`,
      ...packB(seg.b, N, K, b, half).map((l) => `    ${l}`),
      '    #pragma omp barrier',
      '    int packed = -1;',
      `    for (int u = t * ${units} / T; u < (t + 1) * ${units} / T; u++) {`,
      `      const int mb = u / ${nP}, jp = u % ${nP};`,
      '      if (mb != packed) {',
      ...packA(seg.a, M, K, b, half).map((l) => `        ${l}`),
      '        packed = mb;',
      '      }',
      `      for (int ir = 0; ir < ${mcTiles}; ir++) {`,
      `        const int row0 = mb * ${mcTiles * mr} + ir * ${mr};`,
      `        if (row0 >= ${M}) break;`,
      `        ${sym}_tile(Ap + (long)ir * kc * ${mr}, Bp + (long)jp * kc * ${nr}, kc, row0, jp * ${nr}, mode, ${out}, ${g.bias ?? 'NULL'}, ${g.residual ?? 'NULL'}, ${needsParams(g) ? 'params' : 'NULL'});`,
      '      }',
      '    }',
      '    #pragma omp barrier',
      '  }',
    );
  });
  body.push('  free(Ap);', '}', 'free(Bp);');
  if (outDt) {
    body.push(
      `#pragma omp parallel for num_threads(medctc_nt) schedule(static)`,
      `for (long i = 0; i < ${M * N}L; i++) ${g.out}[i] = medctc_f32_to_${outDt}(medctc_cst[i]);`,
      'free(medctc_cst);',
    );
  }
  return body;
}

const needsParams = (g: GemmStage): boolean => g.segments.some((s) => s.outDropout || s.a.dropout || s.b.dropout);

export function cGemmProgram(spec: GemmKind & { half?: HalfStorage }, kernel: string): KernelProgram {
  const { summary, stages } = gemmStages(spec);
  const half: Half = new Map((spec.half?.bindings ?? []).map((n) => [n, spec.half!.dtype]));
  const decls: string[] = [];
  const out: Stage[] = stages.map((g) => {
    const b = cpuBlocking(g.m, g.n);
    const sym = `${kernel}__${g.entry}`;
    const masked = g.segments.find((s) => s.outDropout)?.outDropout;
    decls.push(`/* ${g.entry}: ${g.m}×${g.n}, K = ${g.segments.map((s) => s.k).join(' + ')}; ${b.mr}×${b.nr} micro-tiles, ${b.mcTiles * b.mr}-row blocks, K panels of ${b.kc} */`);
    decls.push(...tileFunction(sym, g, b, masked, half), '');
    return { entry: g.entry, workgroup: [1, 1, 1], grid: [1, 1, 1], shared: [], body: stageBody(sym, g, b, half), raw: true };
  });
  return { summary: [...summary, 'CPU: packed operands, register-blocked micro-kernel, threads over output tiles'], helpers: helpersFor(stages), stages: out, decls, halfAware: true };
}
