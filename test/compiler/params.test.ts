// Parameter counts against hand arithmetic from the architecture formulas (never the code under test).
import { describe, expect, it } from 'vitest';
import { buildModel } from '../../compiler/models/index.js';
import { injectLora } from '../../compiler/passes/lora.js';
import { compileExperiment } from '../../compiler/build.js';
import type { Graph } from '../../compiler/graph/types.js';
import type { ModelSpec } from '../../compiler/ir/experiment.js';
import { experiment, loraSpec } from './fixtures.js';

const count = (g: Graph, pred: (name: string) => boolean = () => true, role: 'param' | 'buffer' = 'param') =>
  g.tensors.filter((t) => t.role === role && pred(t.name)).reduce((a, t) => a + t.shape.reduce((x, y) => x * y, 1), 0);
const trainable = (g: Graph) => g.tensors.filter((t) => t.role === 'param' && t.trainable).reduce((a, t) => a + t.shape.reduce((x, y) => x * y, 1), 0);
const lin = (i: number, o: number, bias: boolean) => i * o + (bias ? o : 0);

/** BERT: embeddings + LN, per layer q/k/v/o + LN + intermediate + output + LN, pooler. */
function bertParams(m: ModelSpec['text']): number {
  const h = m.hidden;
  const emb = (m.vocabSize + m.maxPositions + m.typeVocabSize) * h + 2 * h;
  const layer = 4 * lin(h, h, true) + 2 * h + lin(h, m.intermediate, true) + lin(m.intermediate, h, true) + 2 * h;
  return emb + m.layers * layer + lin(h, h, true);
}

/** CTViT (encoder, VQ buffers excluded, decoder heads included). */
function ctvitParams(s: ModelSpec['image']): number {
  const d = s.dim, inner = s.heads * s.dimHead, patch = s.temporalPatchSize * s.patchSize ** 2, p2 = s.patchSize ** 2;
  const posBias = lin(2, d, true) + lin(d, d, true) + lin(d, s.heads, true);
  const patchEmb = 2 * patch + lin(patch, d, true) + 2 * d;
  const firstFrame = 2 * p2 + lin(p2, d, true) + 2 * d;
  const peg = d * 27 + d;
  const attn = d /* norm gamma */ + d /* context_norm gamma */ + 2 * s.dimHead + lin(d, inner, false) + lin(d, 2 * inner, false) + lin(inner, d, false);
  const ff = 2 * d + lin(d, 2 * s.ffInner, false) + lin(s.ffInner, d, false);
  const layers = (s.spatialDepth + s.temporalDepth) * (peg + attn + ff) + 2 * d /* two norm_out gammas */;
  const heads = lin(d, p2, true) + lin(d, patch, true);
  return posBias + patchEmb + firstFrame + layers + heads;
}

describe('ct_clip parameter count', () => {
  const e = experiment('ct_clip');
  const g = buildModel(e.model, { imageBatch: 1, textBatch: 2 });

  it('matches the released model: 438,148,761 parameters', () => {
    expect(count(g)).toBe(438_148_761);
    expect(count(g, (n) => n.startsWith('text_transformer.'))).toBe(109_482_240);
    expect(count(g, (n) => n.startsWith('visual_transformer.'))).toBe(25_890_200);
    expect(count(g, (n) => n === 'to_visual_latent.weight')).toBe(150_994_944);
    expect(count(g, (n) => n === 'to_visual_latent_extra.weight')).toBe(150_994_944);
    expect(count(g, (n) => n.startsWith('to_text_latent'))).toBe(2 * 393_216);
  });

  it('agrees with the architecture formulas, part by part', () => {
    const s = e.model.image;
    expect(count(g, (n) => n.startsWith('text_transformer.'))).toBe(bertParams(e.model.text));
    expect(count(g, (n) => n.startsWith('visual_transformer.'))).toBe(ctvitParams(s));
    const tokens = (s.imageSize / s.patchSize) ** 2 * s.dim;
    expect(count(g)).toBe(bertParams(e.model.text) + ctvitParams(s) + 2 * tokens * e.model.latentDim + 2 * e.model.text.hidden * e.model.latentDim + 1);
  });

  it('keeps the VQ codebook and CTViT LayerNorm betas as buffers', () => {
    const s = e.model.image;
    const lnBetas = (s.spatialDepth + s.temporalDepth) * 2 + 2; // norm + context_norm per attention, two norm_out
    // initted, cluster_size, embed (the official cosine codebook has no embed_avg)
    expect(count(g, () => true, 'buffer')).toBe(1 + s.codebookSize + s.codebookSize * s.dim + lnBetas * s.dim);
    expect(g.tensors.find((t) => t.name === 'visual_transformer.vq._codebook.embed')).toMatchObject({ role: 'buffer', shape: [1, 8192, 512] });
  });

  it('names tensors as the PyTorch state dict does', () => {
    const names = new Set(g.tensors.map((t) => t.name));
    for (const n of [
      'visual_transformer.enc_spatial_transformer.layers.0.1.to_q.weight',
      'visual_transformer.enc_temporal_transformer.layers.3.1.to_kv.weight',
      'visual_transformer.enc_spatial_transformer.layers.0.0.dsconv.weight',
      'visual_transformer.enc_spatial_transformer.layers.2.3.1.weight',
      'visual_transformer.enc_spatial_transformer.norm_out.gamma',
      'visual_transformer.spatial_rel_pos_bias.net.0.0.weight',
      'visual_transformer.to_patch_emb.1.weight',
      'visual_transformer.to_pixels.0.bias',
      'text_transformer.encoder.layer.0.attention.self.query.weight',
      'text_transformer.embeddings.LayerNorm.bias',
      'text_transformer.pooler.dense.weight',
      'to_visual_latent.weight', 'to_text_latent_extra.weight', 'temperature',
    ]) expect(names, n).toContain(n);
  });

  it('ct_clip_tiny follows the same formulas with its own sizes', () => {
    const t = experiment('ct_clip_tiny');
    const gt = buildModel(t.model, { imageBatch: 1, textBatch: 2 });
    const s = t.model.image;
    const tokens = (s.imageSize / s.patchSize) ** 2 * s.dim;
    expect(count(gt)).toBe(bertParams(t.model.text) + ctvitParams(s) + 2 * tokens * t.model.latentDim + 2 * t.model.text.hidden * t.model.latentDim + 1);
  });
});

describe('LoRA parameter counts', () => {
  const e = experiment('ct_clip');
  const base = buildModel(e.model, { imageBatch: 1, textBatch: 2 });

  it('MedCT-VLM: 69,632 per unit of rank, 1,671,168 trainable of 439,819,929 (0.380%) at rank 24', () => {
    // text q/k/v: 12 layers x 3 x (768 + 768); image to_q (512 + 256) + to_kv (512 + 512) in 8 layers.
    const perRank = 12 * 3 * (768 + 768) + 8 * ((512 + 256) + (512 + 512));
    expect(perRank).toBe(69_632);
    const g = injectLora(base, e).graph;
    expect(trainable(g)).toBe(24 * perRank);
    expect(count(g)).toBe(438_148_761 + 24 * perRank);
    const r = compileExperiment(e).report.parameters;
    expect(r.total).toBe(439_819_929);
    expect(r.trainable).toBe(1_671_168);
    expect((r.trainableFraction * 100).toFixed(3)).toBe('0.380');
    expect(r.loraTargets.map((t) => [t.modules, t.parameters])).toEqual([[36, 24 * 55_296], [16, 24 * 14_336]]);
  });

  it('modules_to_save wins over LoRA: the module trains fully and gets no adapter', () => {
    const lora = loraSpec({
      targets: [{ encoder: 'text', match: 'glob', pattern: 'attention.self.query', rank: 4, alpha: 4 }],
      modulesToSave: ['layer.0.attention.self.query'],
    });
    const g = injectLora(base, experiment('ct_clip', { lora })).graph;
    expect(g.lora!.adapters.map((a) => a.module)).not.toContain('text_transformer.encoder.layer.0.attention.self.query');
    expect(g.lora!.adapters).toHaveLength(11);
    expect(trainable(g)).toBe(11 * 4 * (768 + 768) + (768 * 768 + 768));
  });

  it('counts other configurations: per-target ranks, layer selection, modules_to_save', () => {
    const lora = loraSpec({
      targets: [
        { encoder: 'text', match: 'glob', pattern: 'attention.self.{query,value}', rank: 8, alpha: 16 },
        { encoder: 'image', match: 'regex', pattern: 'visual_transformer\\.enc_temporal_transformer\\.layers\\.\\d+\\.1\\.to_out', rank: 4, alpha: 4 },
      ],
      layers: { text: [0, 11], image: null },
      modulesToSave: ['to_text_latent'],
    });
    const g = injectLora(base, experiment('ct_clip', { lora })).graph;
    const text = 2 * 2 * 8 * (768 + 768);            // 2 layers x {query, value} x r(in + out)
    const image = 4 * 4 * (256 + 512);               // 4 temporal to_out (256 -> 512), rank 4
    const saved = 768 * 512;                         // to_text_latent, no bias
    expect(trainable(g)).toBe(text + image + saved);
    expect(g.lora!.adapters.map((a) => a.module).filter((m) => m.startsWith('text'))).toEqual([
      'text_transformer.encoder.layer.0.attention.self.query', 'text_transformer.encoder.layer.0.attention.self.value',
      'text_transformer.encoder.layer.11.attention.self.query', 'text_transformer.encoder.layer.11.attention.self.value',
    ]);
  });

  it('scaling is alpha/r, or alpha/sqrt(r) with rsLoRA; init per PEFT', () => {
    const targets = [{ encoder: 'text' as const, match: 'glob' as const, pattern: 'layer.0.attention.self.query', rank: 16, alpha: 32 }];
    const plain = injectLora(base, experiment('ct_clip', { lora: loraSpec({ targets }) })).graph;
    const rs = injectLora(base, experiment('ct_clip', { lora: loraSpec({ targets, rslora: true, init: 'gaussian' }) })).graph;
    expect(plain.lora!.adapters[0]!.scaling).toBe(2);
    expect(rs.lora!.adapters[0]!.scaling).toBe(8);
    const a = (g: Graph) => g.tensors[g.lora!.adapters[0]!.a]!;
    expect(a(plain).init).toEqual({ kind: 'uniform', bound: 1 / Math.sqrt(768) });
    expect(a(rs).init).toEqual({ kind: 'normal', std: 1 / 16 });
    expect(plain.tensors[plain.lora!.adapters[0]!.b]).toMatchObject({ name: 'text_transformer.encoder.layer.0.attention.self.query.lora_B.weight', shape: [768, 16], init: { kind: 'zeros' } });
  });

  it('trainBase trains every parameter', () => {
    const g = injectLora(base, experiment('ct_clip', { lora: null, train: { ...experiment().train!, trainBase: true } })).graph;
    expect(trainable(g)).toBe(438_148_761);
  });
});

describe('memory report', () => {
  it('gradients and AdamW moments cover exactly the trainable tensors that receive a gradient', () => {
    const r = compileExperiment(experiment('ct_clip')).report.memory;
    expect(r.gradientBytes).toBe(1_671_168 * 4);
    expect(r.optimizerBytes).toBe(2 * 1_671_168 * 4);
    // Full fine-tuning: unused modules (decoder heads, pooler, `_extra` latents, first-frame patch
    // embedding, null_kv, context_norm) get no gradient.
    const full = compileExperiment(experiment('ct_clip', { lora: null, train: { ...experiment().train!, trainBase: true } })).report;
    const unused = (512 * 400 + 400 + 512 * 4000 + 4000) /* to_pixels(_first_frame) */ + (768 * 768 + 768) /* pooler */
      + (24 * 24 * 512 * 512 + 768 * 512) /* _extra */ + (2 * 400 + 400 * 512 + 512 + 2 * 512) /* first-frame patch emb */
      + 8 * 512 /* context_norm gammas */;
    expect(full.memory.gradientBytes).toBe((438_148_761 - unused) * 4);
  });
});
