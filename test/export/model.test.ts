// ct_clip_tiny (the quickstart experiment, LoRA injected by the compiler) exported to ONNX and
// run in onnxruntime: output shapes, finiteness, unit-norm latents, logits consistent with the
// latents, LoRA exported unmerged (equal to the base graph with merged weights W + s·B·A), and
// byte-identical exports.
import { beforeAll, describe, expect, it } from 'vitest';
import { compileExperiment, type Compiled } from '../../compiler/build.js';
import { checkFiles } from '../../compiler/check/index.js';
import { exportOnnx } from '../../compiler/export/onnx/index.js';
import { onnx, type O } from '../../compiler/export/onnx/proto.js';
import type { Graph } from '../../compiler/graph/types.js';
import { buildModel } from '../../compiler/models/index.js';
import { attachLoss } from '../../compiler/passes/loss.js';
import { initWeights } from '../../runtime/exec/init.js';
import { runOnnxWithDims, type OnnxRun } from './ort.js';

/** A decoded model's graph with its repeated fields; the generated proto types mark them optional. */
function graphOf(m: O.ModelProto): { input: O.IValueInfoProto[]; initializer: O.ITensorProto[] } {
  const g = m.graph;
  if (!g?.input || !g.initializer) throw new Error('decoded ONNX model has no graph inputs/initializers');
  return { input: g.input, initializer: g.initializer };
}

function compileQuickstart(): Compiled {
  const r = checkFiles('test/run/fixtures/small.medct');
  expect(r.diagnostics.filter((d) => d.severity === 'error')).toEqual([]);
  return compileExperiment(r.experiments[0]!);
}

/** lora_B starts at zero (PEFT): give it values so the adapters change the outputs. */
function withTrainedB(graph: Graph, weights: Map<string, Float32Array>): Map<string, Float32Array> {
  const out = new Map(weights);
  let s = 12345;
  for (const a of graph.lora!.adapters) {
    const b = graph.tensors[a.b]!;
    out.set(b.name, Float32Array.from({ length: a.outFeatures * a.rank }, () => { s = (Math.imul(s, 1664525) + 1013904223) >>> 0; return (s / 2 ** 32 - 0.5) * 0.2; }));
  }
  return out;
}

function feedsFor(graph: Graph): Record<string, Float32Array | Int32Array> {
  const shape = (n: string) => graph.tensors.find((t) => t.name === n)!.shape;
  const [texts, len] = shape('input_ids') as [number, number];
  const vol = shape('volume').reduce((a, b) => a * b, 1);
  const volume = Float32Array.from({ length: vol }, (_, i) => Math.sin(i * 0.37) * 0.8);
  const ids = new Int32Array(texts * len), mask = new Float32Array(texts * len);
  for (let t = 0; t < texts; t++) {
    const used = 3 + (t * 7) % (len - 3); // varied padding; token 0 ([CLS]) always kept
    for (let j = 0; j < len; j++) {
      ids[t * len + j] = j < used ? (t * 31 + j * 17 + 1) % 512 : 0;
      mask[t * len + j] = j < used ? 1 : 0;
    }
  }
  return { volume, input_ids: ids, attention_mask: mask };
}

describe('onnx export: ct_clip_tiny (quickstart) forward', () => {
  let c: Compiled;
  let weights: Map<string, Float32Array>;
  let bytes: Uint8Array;
  let run: OnnxRun;

  beforeAll(async () => {
    c = compileQuickstart();
    weights = withTrainedB(c.graphs.eval, initWeights(c.graphs.eval.tensors, c.experiment.seed));
    bytes = exportOnnx(c.graphs.eval, weights);
    run = await runOnnxWithDims(bytes, feedsFor(c.graphs.eval));
  });

  it('runs in onnxruntime with the graph\'s output shapes, finite values, unit-norm latents', () => {
    const texts = 2 * c.experiment.prompts.pathologies.length, e = c.experiment.model.latentDim;
    expect(run.dims).toEqual({ image_latent: [1, e], text_latent: [texts, e], logits: [1, texts] });
    for (const v of Object.values(run.outputs)) expect(v.every(Number.isFinite)).toBe(true);
    for (const [name, rows] of [['image_latent', 1], ['text_latent', texts]] as const) {
      for (let r = 0; r < rows; r++) {
        const row = run.outputs[name]!.subarray(r * e, (r + 1) * e);
        expect(Math.hypot(...row)).toBeCloseTo(1, 5);
      }
    }
    // Texts differ (ids and padding), so their latents must too: the text path is data-dependent.
    const t = run.outputs.text_latent!;
    expect(Math.abs(t[0]! - t[e]!) + Math.abs(t[1]! - t[e + 1]!)).toBeGreaterThan(1e-4);
  });

  it('logits = exp(temperature) · image · textᵀ of its own latents', () => {
    const { image_latent: img, text_latent: txt, logits } = run.outputs as Record<string, Float32Array>;
    const e = img!.length, temp = weights.get('temperature')![0]!;
    for (let t = 0; t < logits!.length; t++) {
      let dot = 0;
      for (let j = 0; j < e; j++) dot += img![j]! * txt![t * e + j]!;
      expect(logits![t]).toBeCloseTo(Math.exp(temp) * dot, 5);
    }
  });

  it('keeps LoRA unmerged, and matches the base graph with merged weights W + scaling·B·A', async () => {
    const m = onnx.ModelProto.decode(bytes);
    const inits = new Set(graphOf(m).initializer.map((t) => t.name));
    const adapters = c.graphs.eval.lora!.adapters;
    expect(adapters.length).toBeGreaterThan(0);
    for (const a of adapters) {
      expect(inits.has(c.graphs.eval.tensors[a.a]!.name)).toBe(true);
      expect(inits.has(c.graphs.eval.tensors[a.b]!.name)).toBe(true);
    }
    const exp = c.experiment;
    const base = buildModel(exp.model, { imageBatch: 1, textBatch: 2 * exp.prompts.pathologies.length });
    const merged = new Map(weights);
    for (const a of adapters) {
      const wName = `${a.module}.weight`;
      const w = Float64Array.from(weights.get(wName)!);
      const A = weights.get(c.graphs.eval.tensors[a.a]!.name)!, B = weights.get(c.graphs.eval.tensors[a.b]!.name)!;
      for (let o = 0; o < a.outFeatures; o++) for (let i = 0; i < a.inFeatures; i++) {
        let acc = 0;
        for (let r = 0; r < a.rank; r++) acc += B[o * a.rank + r]! * A[r * a.inFeatures + i]!;
        w[o * a.inFeatures + i] += a.scaling * acc;
      }
      merged.set(wName, Float32Array.from(w));
    }
    const feeds = feedsFor(c.graphs.eval);
    const mergedRun = await runOnnxWithDims(exportOnnx(base, merged), feeds);
    const plainRun = await runOnnxWithDims(exportOnnx(base, weights), feeds);
    const maxDiff = (x: Float32Array, y: Float32Array) => x.reduce((m, v, i) => Math.max(m, Math.abs(v - y[i]!)), 0);
    for (const n of ['image_latent', 'text_latent', 'logits']) {
      expect(maxDiff(run.outputs[n]!, mergedRun.outputs[n]!)).toBeLessThan(1e-4);
      // The adapters matter: without them the outputs move well beyond that tolerance.
      expect(maxDiff(run.outputs[n]!, plainRun.outputs[n]!)).toBeGreaterThan(1e-3);
    }
  });

  it('exports byte-identical models from the same graph and weights, and from a fresh compile', () => {
    expect(Buffer.from(exportOnnx(c.graphs.eval, weights)).equals(Buffer.from(bytes))).toBe(true);
    const again = compileQuickstart();
    const w2 = withTrainedB(again.graphs.eval, initWeights(again.graphs.eval.tensors, again.experiment.seed));
    expect(Buffer.from(exportOnnx(again.graphs.eval, w2)).equals(Buffer.from(bytes))).toBe(true);
  });

  it('exports a single output with only the inputs it reads', async () => {
    const only = exportOnnx(c.graphs.eval, weights, { outputs: ['image_latent'] });
    const m = onnx.ModelProto.decode(only);
    const g = graphOf(m);
    expect(g.input.map((i) => i.name)).toEqual(['volume']);
    expect(g.initializer.length).toBeGreaterThan(0);
    expect(g.initializer.some((t) => t.name!.startsWith('text_transformer.'))).toBe(false);
    const r = await runOnnxWithDims(only, { volume: feedsFor(c.graphs.eval).volume! });
    expect(Array.from(r.outputs.image_latent!)).toEqual(Array.from(run.outputs.image_latent!));
  });

  it('gives the same outputs at opsets 18 (reduce axes as inputs) and 21 as at 17', async () => {
    for (const opset of [18, 21]) {
      const r = await runOnnxWithDims(exportOnnx(c.graphs.eval, weights, { opset }), feedsFor(c.graphs.eval));
      for (const n of ['image_latent', 'text_latent', 'logits']) {
        const d = r.outputs[n]!.reduce((m, v, i) => Math.max(m, Math.abs(v - run.outputs[n]![i]!)), 0);
        expect(d).toBeLessThan(1e-5);
      }
    }
  });

  it('exports the training losses: each equals its spec formula applied to the exported logits', async () => {
    const g = c.graphs.eval;
    const [b, t] = run.dims.logits as [number, number];
    const targets = Float32Array.from({ length: b * t / 2 }, (_, i) => (i % 3 === 0 ? 1 : i % 3 === 1 ? 0 : 0.25));
    for (const loss of ['pair_mse', 'pair_ce'] as const) {
      const withLoss = attachLoss(g, loss);
      const both: Graph = { ...withLoss, outputs: [...g.outputs, ...withLoss.outputs] };
      const r = await runOnnxWithDims(exportOnnx(both, weights), { ...feedsFor(g), targets });
      expect(r.dims.loss).toEqual([]);
      const l = r.outputs.logits!;
      let want = 0;
      for (let i = 0; i < b * t / 2; i++) {
        const p = 1 / (1 + Math.exp(l[2 * i + 1]! - l[2 * i]!)), y = targets[i]!;
        want += loss === 'pair_mse' ? (p - y) ** 2 : -(y * Math.log(p) + (1 - y) * Math.log(1 - p));
      }
      expect(r.outputs.loss![0]).toBeCloseTo(want / (b * t / 2), 5);
    }
    // CLIP loss needs one text per volume: a 2 x 2 batch of the base model.
    const exp = c.experiment;
    const base = buildModel(exp.model, { imageBatch: 2, textBatch: 2 });
    const clip = attachLoss(base, 'clip');
    const r = await runOnnxWithDims(exportOnnx({ ...clip, outputs: [...base.outputs, ...clip.outputs] }, weights), feedsFor(base));
    const l = r.outputs.logits!;
    const lse = (xs: number[]) => { const m = Math.max(...xs); return m + Math.log(xs.reduce((a, x) => a + Math.exp(x - m), 0)); };
    const rowsCe = (lse([l[0]!, l[1]!]) - l[0]! + lse([l[2]!, l[3]!]) - l[3]!) / 2;
    const colsCe = (lse([l[0]!, l[2]!]) - l[0]! + lse([l[1]!, l[3]!]) - l[3]!) / 2;
    expect(r.outputs.loss![0]).toBeCloseTo((rowsCe + colsCe) / 2, 5);
  });
});
