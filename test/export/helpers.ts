// Tiny graphs for per-op export tests: build with GraphBuilder, export, run in onnxruntime.
import { expect } from 'vitest';
import { exportOnnx, type OnnxExportOptions } from '../../compiler/export/onnx/index.js';
import { GraphBuilder } from '../../compiler/graph/builder.js';
import type { Graph } from '../../compiler/graph/types.js';
import { verify } from '../../compiler/graph/verify.js';
import { runOnnx, type Feed } from './ort.js';

export class TinyGraph {
  readonly g = new GraphBuilder('test');
  readonly weights = new Map<string, Float32Array>();
  constructor() { this.g.module('', 'sequential'); }

  input(name: string, shape: number[], dtype: 'f32' | 'i32' = 'f32'): number { return this.g.input(name, shape, dtype); }

  weight(name: string, shape: number[], values: number[]): number {
    this.weights.set(name, Float32Array.from(values));
    return this.g.param('', name, shape, { kind: 'zeros' });
  }

  /** Exports the graph with `out` as its only output `y`, runs it, returns y. */
  async run(out: number, feeds: Record<string, Feed>, opts: OnnxExportOptions = {}): Promise<Float32Array> {
    this.g.output('y', out);
    const graph: Graph = this.g.finish();
    expect(verify(graph)).toEqual([]);
    return (await runOnnx(exportOnnx(graph, this.weights, opts), feeds)).y!;
  }
}

export function expectClose(actual: ArrayLike<number>, expected: ArrayLike<number>, tol = 1e-6): void {
  expect(actual.length).toBe(expected.length);
  for (let i = 0; i < expected.length; i++) {
    const d = Math.abs(actual[i]! - expected[i]!);
    if (!(d <= tol * Math.max(1, Math.abs(expected[i]!)))) {
      throw new Error(`element ${i}: got ${actual[i]}, expected ${expected[i]} (|diff| ${d} > ${tol})`);
    }
  }
}

export const f32 = (xs: number[]): Float32Array => Float32Array.from(xs);

/** Deterministic pseudo-random values in [-1, 1) (an LCG; tests only need reproducible numbers). */
export function pseudoRandom(n: number, seed: number): number[] {
  let s = seed >>> 0;
  return Array.from({ length: n }, () => { s = (Math.imul(s, 1664525) + 1013904223) >>> 0; return s / 2 ** 31 - 1; });
}
