// C rendering table: the CUDA table's spellings, run on CPU cores. A barrier-free body (one GPU
// thread's work) becomes the body of a loop over every invocation of the launch, split statically
// over OpenMP threads: an invocation writes only its own outputs, so the result does not depend on
// how many threads ran it. Kernels that need workgroup memory or barriers (GEMM tiles, tree
// reductions) have CPU-shaped bodies in this folder and set `raw`: their entry is the whole stage.
//
// ABI of every entry: `void <kernel>__<stage>(const uint64_t *args, int threads)`, args holding
// the buffer addresses in kernelBindings order; symbols carry the kernel name so a batch of
// kernels links into one shared object.
import type { Binding } from '../../kernels/bindings.js';
import { floatLiteral, type Target, type Ty } from '../target.js';
import { CUDA } from '../cuda/target.js';

const ty: Record<Ty, string> = { f32: 'float', i32: 'int', u32: 'unsigned int' };
// exp is medctc_expf (prelude.ts): branch-free and inline, so loops calling it vectorise.
const MATH = { exp: 'medctc_expf', log: 'logf', sqrt: 'sqrtf', abs: 'fabsf', max: 'fmaxf', min: 'fminf' } as const;

/** Invocations below this run on the calling thread: a fork/join costs more than they do. */
export const PARALLEL_MIN = 2048;

/** Marks what a CPU body cannot express; emitKernel refuses a stage containing it. */
export const NO_BARRIER = '__medctc_no_barrier_on_cpu__';

/** C element type of a binding: 16-bit storage is the raw bits (prelude.ts converts them). */
export const cElem = (b: Pick<Binding, 'dtype'>): string => (b.dtype === 'bf16' || b.dtype === 'f16' ? 'uint16_t' : ty[b.dtype]);

export function argDecls(bindings: Binding[]): string[] {
  return bindings.map((b, i) => {
    const t = cElem(b);
    return b.access === 'read'
      ? `const ${t} *restrict ${b.name} = (const ${t} *)(uintptr_t)medctc_args[${i}];`
      : `${t} *restrict ${b.name} = (${t} *)(uintptr_t)medctc_args[${i}];`;
  });
}

export const C: Target = {
  ...CUDA,
  name: 'c',
  ext: 'c',
  ty,
  arr: (t, n, size) => `${ty[t]} ${n}[${size}] = {0};`,
  f: (x) => `${floatLiteral(x)}f`.replace(/^-(.*)$/, '(-$1)'),
  call: (fn, ...args) => `${MATH[fn]}(${args.join(', ')})`,
  bitsToF32: (e) => `medctc_u32_as_f32(${e})`,
  barrier: NO_BARRIER,
  fn: (ret, name, args, body) => [`static inline ${ty[ret]} ${name}(${args.map(([t, n]) => `${ty[t]} ${n}`).join(', ')}) {`, ...body.map((l) => `  ${l}`), '}'],
  shared: () => NO_BARRIER,
  loadHalf: (b, idx) => `medctc_${b.dtype}_to_f32(${b.name}[${idx}])`,
  storeHalf: (b, idx, v) => `${b.name}[${idx}] = medctc_f32_to_${b.dtype}(${v});`,
  halfDecls: () => [],
  entry(name, bindings, wg, shared, body, grid = [1, 1, 1]) {
    if (shared.length) throw new Error(`codegen: C entry ${name} uses workgroup memory; it needs a CPU-shaped body`);
    const [wx, wy, wz] = wg, [gx, gy, gz] = grid;
    const perGroup = wx * wy * wz, groups = gx * gy * gz, total = perGroup * groups;
    const head = [`void ${name}(const uint64_t *medctc_args, int medctc_threads) {`, ...argDecls(bindings).map((l) => `  ${l}`), `  const int gx = ${gx};`];
    const parallel = `  #pragma omp parallel for num_threads(medctc_threads) schedule(static) if (${total} >= ${PARALLEL_MIN})`;
    const flatBody = wy === 1 && wz === 1 && gz === 1 && !body.some((l) => /\bfor \(/.test(l));
    if (flatBody) {
      // One element per invocation, no inner loop: the invocations of a workgroup are SIMD lanes.
      return [
        ...head, parallel,
        `  for (int medctc_wg = 0; medctc_wg < ${groups}; medctc_wg++) {`,
        `    const int bx = medctc_wg % ${gx}; const int by = medctc_wg / ${gx}; const int bz = 0; const int ty = 0;`,
        '    (void)bx; (void)by; (void)bz; (void)ty; (void)gx;',
        '    #pragma omp simd',
        `    for (int tx = 0; tx < ${wx}; tx++) {`,
        ...body.map((l) => `      ${l}`),
        '    }',
        '  }',
        '  (void)medctc_threads;',
        '}',
      ];
    }
    return [
      ...head, parallel,
      `  for (long medctc_inv = 0; medctc_inv < ${total}L; medctc_inv++) {`,
      `    const int tx = (int)(medctc_inv % ${wx});`,
      `    const int ty = (int)((medctc_inv / ${wx}) % ${wy});`,
      `    const long medctc_wg = medctc_inv / ${perGroup};`,
      `    const int bx = (int)(medctc_wg % ${gx}); const int by = (int)((medctc_wg / ${gx}) % ${gy}); const int bz = (int)(medctc_wg / ${gx * gy});`,
      '    (void)tx; (void)ty; (void)bx; (void)by; (void)bz; (void)gx;',
      ...body.map((l) => `    ${l}`),
      '  }',
      '  (void)medctc_threads;',
      '}',
    ];
  },
};

/** A raw entry: the stage's own C body (it partitions its work over `medctc_threads` itself). */
export function rawEntry(name: string, bindings: Binding[], body: string[]): string[] {
  return [
    `void ${name}(const uint64_t *medctc_args, int medctc_threads) {`,
    ...argDecls(bindings).map((l) => `  ${l}`),
    ...body.map((l) => `  ${l}`),
    '  (void)medctc_threads;',
    '}',
  ];
}
