// Each graph op kind exported to ONNX and run in onnxruntime, against values worked out by hand
// from spec/compiler.md (closed forms over the literal inputs) or, for the multi-axis ops
// (attention, dwconv3d), a naive loop written from the spec's definition.
import { describe, expect, it } from 'vitest';
import { exportOnnx, OnnxExportError } from '../../compiler/export/onnx/index.js';
import type { Graph } from '../../compiler/graph/types.js';
import { expectClose, f32, pseudoRandom, TinyGraph } from './helpers.js';

const gelu = (x: number): number => 0.5 * x * (1 + erf(x / Math.SQRT2));
// Abramowitz-Stegun is too coarse for 1e-6; use the series/continued fraction via a high-accuracy form.
function erf(x: number): number {
  // Maclaurin series converges fast for |x| <= 3 (all test inputs).
  let sum = 0, term = x, n = 0;
  while (Math.abs(term) > 1e-17 * Math.abs(sum) || n < 5) {
    sum += term / (2 * n + 1);
    n++;
    term *= -x * x / n;
  }
  return (2 / Math.sqrt(Math.PI)) * sum;
}

describe('onnx export: elementwise and linear ops', () => {
  it('linear: x·Wᵀ + b, 2-D and 3-D x, with and without bias', async () => {
    const t = new TinyGraph();
    const x = t.input('x', [2, 3]);
    const w = t.weight('w', [2, 3], [1, 0, -1, 0.5, 0.5, 0.5]);
    const b = t.weight('b', [2], [10, 20]);
    const y = await t.run(t.g.op('linear', [x, w, b], {}, '', 'y'), { x: f32([1, 2, 3, 4, 5, 6]) });
    expectClose(y, [1 - 3 + 10, 3 + 20, 4 - 6 + 10, 7.5 + 20]);

    const t3 = new TinyGraph();
    const x3 = t3.input('x', [1, 2, 3]);
    const w3 = t3.weight('w', [2, 3], [1, 0, -1, 0.5, 0.5, 0.5]);
    expectClose(await t3.run(t3.g.op('linear', [x3, w3], {}, '', 'y'), { x: f32([1, 2, 3, 4, 5, 6]) }), [-2, 3, -2, 7.5]);
  });

  it('matmul with and without transB', async () => {
    for (const [transB, want] of [[false, [19, 22, 43, 50]], [true, [17, 23, 39, 53]]] as const) {
      const t = new TinyGraph();
      const a = t.input('a', [2, 2]);
      const b = t.input('b', [2, 2]);
      const y = await t.run(t.g.op('matmul', [a, b], { transB }, '', 'y'), { a: f32([1, 2, 3, 4]), b: f32([5, 6, 7, 8]) });
      expectClose(y, want);
    }
  });

  it('add and mul broadcast like NumPy', async () => {
    const t = new TinyGraph();
    const a = t.input('a', [2, 1]);
    const b = t.input('b', [3]);
    expectClose(await t.run(t.g.op('add', [a, b], {}, '', 'y'), { a: f32([1, 2]), b: f32([10, 20, 30]) }), [11, 21, 31, 12, 22, 32]);
    const m = new TinyGraph();
    const ma = m.input('a', [2, 3]);
    const mb = m.weight('s', [3], [1, -1, 0.5]);
    expectClose(await m.run(m.g.op('mul', [ma, mb], {}, '', 'y'), { a: f32([1, 2, 3, 4, 5, 6]) }), [1, -2, 1.5, 4, -5, 3]);
  });

  it('scale, exp, gelu (exact erf form), leaky_relu, dropout (identity at inference)', async () => {
    const xs = [-2, -1, 0, 0.5, 1, 2];
    const run = async (kind: 'scale' | 'exp' | 'gelu' | 'leaky_relu' | 'dropout', attrs: object) => {
      const t = new TinyGraph();
      const x = t.input('x', [6]);
      return t.run(t.g.op(kind, [x], attrs as never, '', 'y'), { x: f32(xs) });
    };
    expectClose(await run('scale', { factor: 2.5 }), [-5, -2.5, 0, 1.25, 2.5, 5]);
    expectClose(await run('exp', {}), [Math.exp(-2), 1 / Math.E, 1, Math.sqrt(Math.E), Math.E, Math.E ** 2]);
    // Exact GELU (not the tanh approximation): gelu(1) = Φ(1) = 0.841344746..., gelu(-1) = -0.158655253...
    const g = await run('gelu', {});
    expectClose(g, xs.map(gelu));
    expectClose([g[4]!, g[1]!], [0.8413447460685429, -0.15865525393145707]);
    expectClose(await run('leaky_relu', { slope: 0.1 }), [-0.2, -0.1, 0, 0.5, 1, 2]);
    expectClose(await run('dropout', { p: 0.5, stream: 3 }), xs);
  });

  it('geglu: (x, gate) = halves of the last axis; x · gelu(gate)', async () => {
    const t = new TinyGraph();
    const x = t.input('x', [2, 4]);
    const y = await t.run(t.g.op('geglu', [x], {}, '', 'y'), { x: f32([2, -3, 1, 2, 1, 1, -1, 0]) });
    expectClose(y, [2 * 0.8413447460685429, -3 * gelu(2), 1 * gelu(-1), 0]);
  });

  for (const opset of [17, 16]) {
    it(`layer_norm over the last axis, biased variance (opset ${opset}: ${opset >= 17 ? 'LayerNormalization' : 'decomposed'})`, async () => {
      const t = new TinyGraph();
      const x = t.input('x', [2, 4]);
      const gamma = t.weight('g', [4], [1, 2, 1, 1]);
      const beta = t.weight('b', [4], [0, 0, 1, 0]);
      const y = await t.run(t.g.op('layer_norm', [x, gamma, beta], { eps: 1e-5 }, '', 'y'), { x: f32([1, 2, 3, 4, 10, 10, 10, 10]) }, { opset });
      const sd = Math.sqrt(1.25 + 1e-5); // mean 2.5, biased variance (2.25+0.25+0.25+2.25)/4
      expectClose(y, [-1.5 / sd, 2 * -0.5 / sd, 0.5 / sd + 1, 1.5 / sd, 0, 0, 1, 0], 1e-5);
    });
  }

  it('l2norm: x / max(‖x‖, eps) over the last axis', async () => {
    const t = new TinyGraph();
    const x = t.input('x', [3, 2]);
    const y = await t.run(t.g.op('l2norm', [x], { eps: 1e-12 }, '', 'y'), { x: f32([3, 4, 0, 0, 1e-13, 0]) });
    // A row with a norm below eps is divided by eps, not normalised: 1e-13 / 1e-12 = 0.1.
    expectClose(y, [0.6, 0.8, 0, 0, 0.1, 0]);
  });
});

describe('onnx export: layout ops', () => {
  it('permute, slice, reshape, mean', async () => {
    const data = f32([0, 1, 2, 3, 4, 5]);
    const p = new TinyGraph();
    expectClose(await p.run(p.g.op('permute', [p.input('x', [2, 3])], { perm: [1, 0] }, '', 'y'), { x: data }), [0, 3, 1, 4, 2, 5]);
    const s = new TinyGraph();
    expectClose(await s.run(s.g.op('slice', [s.input('x', [2, 3])], { axis: 1, start: 1, end: 3 }, '', 'y'), { x: data }), [1, 2, 4, 5]);
    const r = new TinyGraph();
    const rx = r.g.op('reshape', [r.input('x', [2, 3])], { shape: [3, 1, 2] }, '', 'r');
    // Reshape keeps row-major data; the slice after it proves the new shape is real.
    expectClose(await r.run(r.g.op('slice', [rx], { axis: 0, start: 1, end: 2 }, '', 'y'), { x: data }), [2, 3]);
    const m = new TinyGraph();
    const mx = m.input('x', [2, 3, 2]);
    const y = await m.run(m.g.op('mean', [mx], { axis: 1 }, '', 'y'), { x: f32([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]) });
    expectClose(y, [(0 + 2 + 4) / 3, (1 + 3 + 5) / 3, (6 + 8 + 10) / 3, (7 + 9 + 11) / 3]);
  });

  it('embedding gathers table rows by int32 ids', async () => {
    const t = new TinyGraph();
    const ids = t.input('ids', [2, 2], 'i32');
    const table = t.weight('table', [3, 2], [0, 1, 10, 11, 20, 21]);
    const y = await t.run(t.g.op('embedding', [ids, table], {}, '', 'y'), { ids: Int32Array.from([2, 0, 1, 1]) });
    expectClose(y, [20, 21, 0, 1, 10, 11, 10, 11]);
  });

  it('rel_pos_grid: sign(d)·ln(|d|+1) of (row, col) offsets', async () => {
    const t = new TinyGraph();
    const y = await t.run(t.g.op('rel_pos_grid', [], { h: 2, w: 3 }, '', 'y'), {});
    expect(y.length).toBe(6 * 6 * 2);
    const at = (i: number, j: number) => [y[(i * 6 + j) * 2]!, y[(i * 6 + j) * 2 + 1]!];
    // Token i sits at (i div 3, i mod 3).
    expectClose(at(0, 0), [0, 0]);
    expectClose(at(0, 5), [-Math.LN2, -Math.log(3)]); // (0,0) - (1,2)
    expectClose(at(5, 0), [Math.LN2, Math.log(3)]);
    expectClose(at(2, 3), [-Math.LN2, Math.log(3)]); // (0,2) - (1,0) = (-1, 2)
    expectClose(at(4, 4), [0, 0]);
  });

  it('dwconv3d: depthwise, causal time padding, by hand', async () => {
    // x [B=1, T=3, H=1, W=1, C=2]; kernel (2, 1, 1); one frame of padding before, none after.
    const t = new TinyGraph();
    const x = t.input('x', [1, 3, 1, 1, 2]);
    const w = t.weight('w', [2, 1, 2, 1, 1], [1, 10, 2, -1]);
    const b = t.weight('b', [2], [0.5, 0]);
    const y = await t.run(t.g.op('dwconv3d', [x, w, b], { kernel: [2, 1, 1], pad: [1, 0, 0, 0, 0, 0] }, '', 'y'), { x: f32([1, 4, 2, 5, 3, 6]) });
    // channel 0: w = (1, 10): [10·1, 1+20, 2+30] + 0.5; channel 1: w = (2, -1): [-4, 8-5, 10-6].
    expectClose(y, [10.5, -4, 21.5, 3, 32.5, 4]);
  });

  it('dwconv3d: 3×3×3 with asymmetric pads against a naive loop', async () => {
    const [B, T, H, W, C] = [2, 3, 4, 2, 3];
    const pad: [number, number, number, number, number, number] = [2, 0, 1, 0, 0, 1];
    const xs = pseudoRandom(B * T * H * W * C, 1), ws = pseudoRandom(C * 27, 2), bs = pseudoRandom(C, 3);
    const t = new TinyGraph();
    const x = t.input('x', [B, T, H, W, C]);
    const w = t.weight('w', [C, 1, 3, 3, 3], ws);
    const b = t.weight('b', [C], bs);
    const y = await t.run(t.g.op('dwconv3d', [x, w, b], { kernel: [3, 3, 3], pad }, '', 'y'), { x: f32(xs) });
    const To = T + pad[0] + pad[1] - 2, Ho = H + pad[2] + pad[3] - 2, Wo = W + pad[4] + pad[5] - 2;
    const want: number[] = [];
    for (let n = 0; n < B; n++) for (let t0 = 0; t0 < To; t0++) for (let h0 = 0; h0 < Ho; h0++) for (let w0 = 0; w0 < Wo; w0++) for (let c = 0; c < C; c++) {
      let acc = bs[c]!;
      for (let a = 0; a < 3; a++) for (let e = 0; e < 3; e++) for (let f = 0; f < 3; f++) {
        const ti = t0 + a - pad[0], hi = h0 + e - pad[2], wi = w0 + f - pad[4];
        if (ti < 0 || ti >= T || hi < 0 || hi >= H || wi < 0 || wi >= W) continue;
        acc += ws[c * 27 + a * 9 + e * 3 + f]! * xs[(((n * T + ti) * H + hi) * W + wi) * C + c]!;
      }
      want.push(acc);
    }
    expectClose(y, want, 1e-5);
  });
});

describe('onnx export: attention and vector quantisation', () => {
  it('attention by hand: one head, scalar keys, bias and key mask', async () => {
    const t = new TinyGraph();
    const q = t.input('q', [1, 2, 1, 1]), k = t.input('k', [1, 2, 1, 1]), v = t.input('v', [1, 2, 1, 1]);
    const y = await t.run(t.g.op('attention', [q, k, v], { scale: 1, hasBias: false, hasMask: false }, '', 'y'),
      { q: f32([1, 2]), k: f32([0, 1]), v: f32([10, 20]) });
    const e = Math.E;
    // row 0 scores (0, 1), row 1 scores (0, 2); softmax then weights on v = (10, 20).
    expectClose(y, [(10 + 20 * e) / (1 + e), (10 + 20 * e * e) / (1 + e * e)], 1e-6);

    const tb = new TinyGraph();
    const qb = tb.input('q', [1, 2, 1, 1]), kb = tb.input('k', [1, 2, 1, 1]), vb = tb.input('v', [1, 2, 1, 1]);
    const bias = tb.weight('bias', [1, 2, 2], [0, -1, 3, 0]);
    const mask = tb.input('mask', [1, 2]);
    // Key 1 is masked: every query attends only to key 0 whatever its score.
    const yb = await tb.run(tb.g.op('attention', [qb, kb, vb, bias, mask], { scale: 2, hasBias: true, hasMask: true }, '', 'y'),
      { q: f32([1, 2]), k: f32([0, 1]), v: f32([10, 20]), mask: f32([1, 0]) });
    expectClose(yb, [10, 10]);
  });

  it('attention [B, N, H, Dh] with bias and padding mask against a naive loop; a fully masked row averages v', async () => {
    const [B, N, H, D] = [2, 3, 2, 4];
    const scale = 0.7;
    const qs = pseudoRandom(B * N * H * D, 11), ks = pseudoRandom(B * N * H * D, 12), vs = pseudoRandom(B * N * H * D, 13);
    const bias = pseudoRandom(H * N * N, 14);
    const mask = [1, 1, 0, 0, 0, 0]; // batch 1: every key masked
    const t = new TinyGraph();
    const q = t.input('q', [B, N, H, D]), k = t.input('k', [B, N, H, D]), v = t.input('v', [B, N, H, D]);
    const bi = t.weight('bias', [H, N, N], bias);
    const m = t.input('mask', [B, N]);
    const y = await t.run(t.g.op('attention', [q, k, v, bi, m], { scale, hasBias: true, hasMask: true }, '', 'y'),
      { q: f32(qs), k: f32(ks), v: f32(vs), mask: f32(mask) });
    const at = (a: number[], b: number, n: number, h: number, d: number) => a[((b * N + n) * H + h) * D + d]!;
    const want = new Array<number>(B * N * H * D);
    for (let b = 0; b < B; b++) for (let h = 0; h < H; h++) for (let i = 0; i < N; i++) {
      const s: number[] = [];
      for (let j = 0; j < N; j++) {
        let dot = 0;
        for (let d = 0; d < D; d++) dot += at(qs, b, i, h, d) * at(ks, b, j, h, d);
        s.push(mask[b * N + j] ? scale * dot + bias[(h * N + i) * N + j]! : -Infinity);
      }
      const allMasked = s.every((x) => x === -Infinity);
      const mx = Math.max(...s);
      const p = allMasked ? s.map(() => 1 / N) : s.map((x) => Math.exp(x - mx));
      const z = p.reduce((a, c) => a + c, 0);
      for (let d = 0; d < D; d++) want[((b * N + i) * H + h) * D + d] = p.reduce((acc, pj, j) => acc + (pj / z) * at(vs, b, j, h, d), 0);
    }
    expectClose(y, want, 1e-5);
  });

  it('vq_nearest: cosine argmax, the stored row, first index on ties', async () => {
    const t = new TinyGraph();
    const x = t.input('x', [1, 3, 2]);
    const cb = t.weight('codebook', [1, 4, 2], [1, 0, 0, 2, -1, -1, 2, 0]);
    // (3, 1): cos with (1,0) and (2,0) tie at 0.949 -> first, index 0; (0.1, 5) -> (0, 2); (-2, -1.9) -> (-1, -1).
    const y = await t.run(t.g.op('vq_nearest', [x, cb], {}, '', 'y'), { x: f32([3, 1, 0.1, 5, -2, -1.9]) });
    expectClose(y, [1, 0, 0, 2, -1, -1]);
    const r = new TinyGraph();
    const rx = r.input('x', [1, 2]);
    const rcb = r.weight('codebook', [1, 2, 2], [2, 0, 1, 0]);
    expectClose(await r.run(r.g.op('vq_nearest', [rx, rcb], {}, '', 'y'), { x: f32([5, 0]) }), [2, 0]);
  });
});

describe('onnx export: losses', () => {
  const pairCase = async (kind: 'pair_mse_loss' | 'pair_ce_loss') => {
    const t = new TinyGraph();
    const logits = t.input('logits', [1, 4]), targets = t.input('targets', [1, 2]);
    // pair 0: softmax(0, ln 3) = (1/4, 3/4) with t = 1; pair 1: softmax(2, 2) = (1/2, 1/2) with t = 0.
    return t.run(t.g.op(kind, [logits, targets], {}, '', 'y'), { logits: f32([0, Math.log(3), 2, 2]), targets: f32([1, 0]) });
  };

  it('pair_mse_loss: mean of (softmax(pair) - (t, 1-t))² over pairs and both entries', async () => {
    expectClose(await pairCase('pair_mse_loss'), [(9 / 16 + 9 / 16 + 1 / 4 + 1 / 4) / 4]);
  });

  it('pair_ce_loss: mean over pairs of -[t·log s₁ + (1-t)·log s₂]', async () => {
    expectClose(await pairCase('pair_ce_loss'), [(Math.log(4) + Math.log(2)) / 2]);
  });

  it('clip_loss: ½(CE over rows + CE over columns) with the diagonal as targets', async () => {
    const t = new TinyGraph();
    const logits = t.input('logits', [2, 2]);
    const y = await t.run(t.g.op('clip_loss', [logits], {}, '', 'y'), { logits: f32([1, 2, 0, 0]) });
    const e = Math.E;
    const rows = (Math.log(1 + e) + Math.LN2) / 2; // row 0: -log(e/(e+e²)); row 1: -log(1/2)
    const cols = (Math.log(1 + e) - 1 + Math.log(1 + e * e)) / 2; // column 0: (1, 0) -> entry 0; column 1: (2, 0) -> entry 1
    expectClose(y, [(rows + cols) / 2]);
  });
});

describe('onnx export: graph handling', () => {
  it('names an unsupported op and its module', () => {
    const t = new TinyGraph();
    const x = t.input('x', [2]);
    const g = t.g;
    g.module('head', 'sequential');
    const y = g.op('exp', [x], {}, 'head', 'y');
    g.output('y', y);
    const graph: Graph = g.finish();
    (graph.ops[0] as { kind: string }).kind = 'mystery_op';
    expect(() => exportOnnx(graph, t.weights)).toThrow(OnnxExportError);
    expect(() => exportOnnx(graph, t.weights)).toThrow(/`mystery_op`.*module `head`/);
  });

  it('reports missing and mis-sized weights by state-dict name', () => {
    const t = new TinyGraph();
    const x = t.input('x', [1, 2]);
    const w = t.weight('w', [2, 2], [1, 2, 3, 4]);
    t.g.output('y', t.g.op('linear', [x, w], {}, '', 'y'));
    const graph = t.g.finish();
    expect(() => exportOnnx(graph, new Map())).toThrow(/no weights for `w`/);
    expect(() => exportOnnx(graph, new Map([['w', f32([1])]]))).toThrow(/`w` hold 1 values/);
    expect(() => exportOnnx(graph, t.weights, { outputs: ['nope'] })).toThrow(/no output `nope`/);
    expect(() => exportOnnx(graph, t.weights, { opset: 9 })).toThrow(/opset 9/);
  });
});
