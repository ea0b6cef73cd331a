// WGSL rendering table. Storage buffers are module-scope bindings in group 0, in kernelBindings order.
import type { Binding } from '../../kernels/bindings.js';
import { floatLiteral, isHalf, type Target, type Ty } from '../target.js';

const ty: Record<Ty, string> = { f32: 'f32', i32: 'i32', u32: 'u32' };
const paren = (s: string): string => (s.startsWith('-') ? `(${s})` : s);

// 16-bit storage. f16 is WGSL's own type (the `shader-f16` feature). bf16 has no WGSL type: two
// values share a u32 word, so a store is an atomic clear and an atomic or of its half (two
// invocations may write the two halves of one word in the same dispatch), and the f32 -> bf16
// rounding is done on the bits, as on every target.
const elem = (b: Binding): string => (b.dtype === 'f16' ? 'f16' : b.dtype === 'bf16' ? 'atomic<u32>' : ty[b.dtype]);
const BF16_BITS = [
  'fn medctc_bf16_bits(v: f32) -> u32 {',
  '  let u = bitcast<u32>(v);',
  '  if ((u & 0x7fffffffu) > 0x7f800000u) { return (u >> 16u) | 0x40u; }',
  '  return (u + 0x7fffu + ((u >> 16u) & 1u)) >> 16u;',
  '}',
];
// Parameter names are prefixed: a binding may be called i or v.
const bf16Accessors = (n: string): string[] => [
  `fn medctc_ld_${n}(medctc_i: i32) -> f32 { return bitcast<f32>(((atomicLoad(&${n}[medctc_i >> 1u]) >> (u32(medctc_i & 1) * 16u)) & 0xffffu) << 16u); }`,
  `fn medctc_st_${n}(medctc_i: i32, medctc_v: f32) {`,
  `  let sh = u32(medctc_i & 1) * 16u;`,
  `  atomicAnd(&${n}[medctc_i >> 1u], ~(0xffffu << sh));`,
  `  atomicOr(&${n}[medctc_i >> 1u], medctc_bf16_bits(medctc_v) << sh);`,
  '}',
];

export const WGSL: Target = {
  name: 'wgsl',
  ext: 'wgsl',
  ty,
  let: (t, n, e) => `let ${n}: ${ty[t]} = ${e};`,
  var: (t, n, e) => `var ${n}: ${ty[t]} = ${e};`,
  arr: (t, n, size) => `var ${n}: array<${ty[t]}, ${size}>;`,
  for: (n, s, e, step = 1) => `for (var ${n}: i32 = ${s}; ${n} < ${e}; ${n} += ${step}) {`,
  cast: (t, e) => `${ty[t]}(${e})`,
  bitsToF32: (e) => `bitcast<f32>(${e})`,
  f: (x) => paren(floatLiteral(x)),
  sel: (c, a, b) => `select(${b}, ${a}, ${c})`,
  call: (fn, ...args) => `${fn}(${args.join(', ')})`,
  barrier: 'workgroupBarrier();',
  fn: (ret, name, args, body) => [`fn ${name}(${args.map(([t, n]) => `${n}: ${ty[t]}`).join(', ')}) -> ${ty[ret]} {`, ...body.map((l) => `  ${l}`), '}'],
  shared: (name, size) => `var<workgroup> ${name}: array<f32, ${size}>;`,
  entry(name, bindings, wg, shared, body) {
    const decls = bindings.map((b, i) =>
      // Every binding read_write: plan buffers are views into one arena buffer, and WebGPU forbids
      // one buffer bound read-only and writable in the same dispatch (even on disjoint ranges).
      // The header's binding list still says which ones the kernel writes.
      `@group(0) @binding(${i}) var<storage, read_write> ${b.name}: array<${elem(b)}>;`);
    return [
      ...decls,
      ...shared,
      '',
      `@compute @workgroup_size(${wg.join(', ')})`,
      `fn ${name}(@builtin(local_invocation_id) lid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {`,
      '  let tx = i32(lid.x); let ty = i32(lid.y); let bx = i32(wid.x); let by = i32(wid.y); let bz = i32(wid.z); let gx = i32(nwg.x);',
      ...body.map((l) => `  ${l}`),
      '}',
    ];
  },
  loadHalf: (b, idx) => (b.dtype === 'f16' ? `f32(${b.name}[${idx}])` : `medctc_ld_${b.name}(${idx})`),
  storeHalf: (b, idx, v) => (b.dtype === 'f16' ? `${b.name}[${idx}] = f16(${v});` : `medctc_st_${b.name}(${idx}, ${v});`),
  halfDecls(bindings) {
    const half = bindings.filter(isHalf);
    const bf = half.filter((b) => b.dtype === 'bf16');
    return [
      ...(half.some((b) => b.dtype === 'f16') ? ['enable f16;', ''] : []),
      ...(bf.length ? [...BF16_BITS, ...bf.flatMap((b) => bf16Accessors(b.name)), ''] : []),
    ];
  },
};
