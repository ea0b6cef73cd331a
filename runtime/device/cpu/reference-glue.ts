// CPU reference of the forward glue kernels (compiler/kernels/spec.ts "Forward glue kernels"):
// plain loops, f64 math over f32 storage.
import type { KernelSpec } from '../../../compiler/kernels/spec.js';
import type { Buffers } from './reference.js';
import { gelu } from './math.js';

const f = (b: Buffers, name: string): Float32Array => b[name] as Float32Array;

/** Runs `spec` if it is one of the glue kinds; false otherwise. */
export function runGlueReference(spec: KernelSpec, b: Buffers): boolean {
  switch (spec.kind) {
    case 'slice': {
      const { outer, len, inner, start, end } = spec;
      const x = f(b, 'x'), y = f(b, 'y');
      let o = 0;
      for (let a = 0; a < outer; a++) for (let j = start; j < end; j++) for (let c = 0; c < inner; c++) y[o++] = x[(a * len + j) * inner + c]!;
      return true;
    }
    case 'l2norm': {
      const { rows, n, eps } = spec;
      const x = f(b, 'x'), y = f(b, 'y');
      for (let r = 0; r < rows; r++) {
        let q = 0;
        for (let j = 0; j < n; j++) q += x[r * n + j]! ** 2;
        const d = Math.max(Math.sqrt(q), eps);
        for (let j = 0; j < n; j++) y[r * n + j] = x[r * n + j]! / d;
      }
      return true;
    }
    case 'rel_pos_grid': {
      const { h, w } = spec, hw = h * w, y = f(b, 'y');
      for (let i = 0; i < hw; i++) for (let j = 0; j < hw; j++) {
        const d = [Math.floor(i / w) - Math.floor(j / w), (i % w) - (j % w)];
        for (let c = 0; c < 2; c++) y[(i * hw + j) * 2 + c] = Math.sign(d[c]!) * Math.log(Math.abs(d[c]!) + 1);
      }
      return true;
    }
    case 'elementwise': {
      const { numel, op, aNumel, bNumel, slope, factor } = spec;
      const a = f(b, 'a'), y = f(b, 'y'), bb = bNumel > 0 ? f(b, 'b') : null;
      for (let i = 0; i < numel; i++) {
        const u = a[i % aNumel]!;
        switch (op) {
          case 'add': y[i] = u + bb![i % bNumel]!; break;
          case 'mul': y[i] = u * bb![i % bNumel]!; break;
          case 'scale': y[i] = u * factor; break;
          case 'exp': y[i] = Math.exp(u); break;
          case 'leaky_relu': y[i] = u >= 0 ? u : u * slope; break;
          case 'gelu': y[i] = gelu(u); break;
        }
      }
      return true;
    }
    default:
      return false;
  }
}
