// WGSL rendering table. Storage buffers are module-scope bindings in group 0, in kernelBindings order.
import { floatLiteral, type Target, type Ty } from '../target.js';

const ty: Record<Ty, string> = { f32: 'f32', i32: 'i32', u32: 'u32' };
const paren = (s: string): string => (s.startsWith('-') ? `(${s})` : s);

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
      `@group(0) @binding(${i}) var<storage, read_write> ${b.name}: array<${ty[b.dtype]}>;`);
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
};
