// CUDA rendering table: the WGSL table with C spellings. Every entry takes every binding of its
// kernel as a pointer argument, in kernelBindings order, so a multi-entry kernel binds once.
import type { Binding } from '../../kernels/bindings.js';
import { floatLiteral, isHalf, type Target, type Ty } from '../target.js';
import { WGSL } from '../wgsl/target.js';

const ty: Record<Ty, string> = { f32: 'float', i32: 'int', u32: 'unsigned int' };
/** 16-bit storage in CUDA's own types; loads and stores convert explicitly (round to nearest even). */
const elem = (b: Binding): string => (b.dtype === 'bf16' ? '__nv_bfloat16' : b.dtype === 'f16' ? '__half' : ty[b.dtype]);
const MATH = { exp: 'expf', log: 'logf', sqrt: 'sqrtf', abs: 'fabsf', max: 'fmaxf', min: 'fminf' } as const;

export const CUDA: Target = {
  ...WGSL,
  name: 'cuda',
  ext: 'cu',
  ty,
  let: (t, n, e) => `const ${ty[t]} ${n} = ${e};`,
  var: (t, n, e) => `${ty[t]} ${n} = ${e};`,
  arr: (t, n, size) => `${ty[t]} ${n}[${size}] = {};`,
  for: (n, s, e, step = 1) => `for (int ${n} = ${s}; ${n} < ${e}; ${n} += ${step}) {`,
  cast: (t, e) => `((${ty[t]})(${e}))`,
  bitsToF32: (e) => `__uint_as_float(${e})`,
  f: (x) => `${floatLiteral(x)}f`.replace(/^-(.*)$/, '(-$1)'),
  sel: (c, a, b) => `((${c}) ? (${a}) : (${b}))`,
  call: (fn, ...args) => `${MATH[fn]}(${args.join(', ')})`,
  barrier: '__syncthreads();',
  fn: (ret, name, args, body) => [`__device__ ${ty[ret]} ${name}(${args.map(([t, n]) => `${ty[t]} ${n}`).join(', ')}) {`, ...body.map((l) => `  ${l}`), '}'],
  shared: (name, size) => `__shared__ float ${name}[${size}];`,
  entry(name, bindings, wg, shared, body) {
    const args = bindings.map((b) => `${b.access === 'read' ? 'const ' : ''}${elem(b)}* __restrict__ ${b.name}`);
    return [
      `extern "C" __global__ void __launch_bounds__(${wg[0] * wg[1] * wg[2]}) ${name}(${args.join(', ')}) {`,
      ...shared.map((s) => `  ${s}`),
      '  const int tx = threadIdx.x; const int ty = threadIdx.y; const int bx = blockIdx.x; const int by = blockIdx.y; const int bz = blockIdx.z; const int gx = gridDim.x;',
      '  (void)tx; (void)ty; (void)bx; (void)by; (void)bz; (void)gx;',
      ...body.map((l) => `  ${l}`),
      '}',
    ];
  },
  loadHalf: (b, idx) => `${b.dtype === 'bf16' ? '__bfloat162float' : '__half2float'}(${b.name}[${idx}])`,
  storeHalf: (b, idx, v) => `${b.name}[${idx}] = ${b.dtype === 'bf16' ? '__float2bfloat16_rn' : '__float2half_rn'}(${v});`,
  halfDecls(bindings) {
    const half = bindings.filter(isHalf);
    return [
      ...(half.some((b) => b.dtype === 'bf16') ? ['#include <cuda_bf16.h>'] : []),
      ...(half.some((b) => b.dtype === 'f16') ? ['#include <cuda_fp16.h>'] : []),
      ...(half.length ? [''] : []),
    ];
  },
};
