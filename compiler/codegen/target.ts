// The table a C-like target is rendered from (tinygrad style): type names, declarations, casts,
// math functions, barrier, thread-index names, buffer declarations. Kernel bodies
// (compiler/codegen/kernels) are written once against this table; WGSL, CUDA and C only differ
// here. C (compiler/codegen/c) runs a barrier-free body by looping over the workgroups and
// threads of its launch; kernels that need workgroup memory have CPU-shaped bodies there.
import type { Binding } from '../kernels/bindings.js';

export type TargetName = 'wgsl' | 'cuda' | 'c';
export type Ty = 'f32' | 'i32' | 'u32';

export interface Target {
  name: TargetName;
  ext: 'wgsl' | 'cu' | 'c';
  ty: Record<Ty, string>;
  /** Immutable local. */
  let(ty: Ty, name: string, expr: string): string;
  /** Mutable local. */
  var(ty: Ty, name: string, expr: string): string;
  /** Zero-initialised local array. */
  arr(ty: Ty, name: string, size: number): string;
  /** `for (i = start; i < end; i += step) {` */
  for(name: string, start: string, end: string, step?: number): string;
  cast(ty: Ty, expr: string): string;
  /** The f32 whose bits are the u32 `expr` (AdamW's learning rate travels as bits in params). */
  bitsToF32(expr: string): string;
  f(x: number): string;
  sel(cond: string, ifTrue: string, ifFalse: string): string;
  call(fn: 'exp' | 'log' | 'sqrt' | 'abs' | 'max' | 'min', ...args: string[]): string;
  barrier: string;
  /** A helper function definition. */
  fn(ret: Ty, name: string, args: [Ty, string][], body: string[]): string[];
  /** Module- or kernel-level workgroup memory. */
  shared(name: string, size: number): string;
  /** The whole kernel entry: signature, thread-index preamble, body. Shared arrays go where the target wants them.
   *  `grid` is the launch's workgroup count (C loops over it; GPUs get it from the dispatch). */
  entry(name: string, bindings: Binding[], workgroup: [number, number, number], shared: string[], body: string[], grid?: [number, number, number]): string[];
  /** An f32 expression: element `idx` of 16-bit binding `b`, widened (exact). */
  loadHalf(b: Binding, idx: string): string;
  /** A statement: f32 `value` rounded to nearest even into element `idx` of 16-bit binding `b`. */
  storeHalf(b: Binding, idx: string, value: string): string;
  /** Module-level text the 16-bit bindings of a kernel need (extensions, headers, accessors), first in the file. */
  halfDecls(bindings: Binding[]): string[];
}

export const isHalf = (b: Binding): boolean => b.dtype === 'bf16' || b.dtype === 'f16';

/** Float literal without locale or precision surprises: shortest round-trip form of the f32 value. */
export function floatLiteral(x: number): string {
  if (!Number.isFinite(x)) throw new Error(`codegen: non-finite literal ${x}`);
  let s = String(Math.fround(x));
  if (!/[.eE]/.test(s)) s += '.0';
  else if (/e/.test(s) && !/\./.test(s)) s = s.replace('e', '.0e');
  return s;
}
