// CT-CLIP as a graph: CTViT (image) + BERT (text) + CLIP heads, faithful to the released
// PyTorch code (../../../shared/reference/ct-clip.md, "CTViT in detail"). Module and tensor
// names are the state-dict keys, in state-dict order. Every size comes from the IR's ModelSpec.
// Both `ct_clip` and `ct_clip_tiny` are this architecture; only the sizes differ.
import { GraphBuilder } from '../graph/builder.js';
import type { Graph, Init } from '../graph/types.js';
import { imageQuantizes, type ImageEncoderSizes, type ModelSpec, type TextEncoderSizes } from '../ir/experiment.js';

export interface BuildShape {
  /** Volumes per step. */
  imageBatch: number;
  /** Texts (prompts or reports) per step. */
  textBatch: number;
}

// PyTorch default inits: nn.Linear / nn.Conv3d weight and bias U(-1/sqrt(fan_in), 1/sqrt(fan_in)).
const fanInUniform = (fanIn: number): Init => ({ kind: 'uniform', bound: 1 / Math.sqrt(fanIn) });
const ZEROS: Init = { kind: 'zeros' };
const ONES: Init = { kind: 'ones' };
/** BERT initialiser_range (weights N(0, 0.02^2)). */
const BERT_NORMAL: Init = { kind: 'normal', std: 0.02 };
const TORCH_LN_EPS = 1e-5;
const BERT_LN_EPS = 1e-12;
/** F.normalize's eps. */
const L2_EPS = 1e-12;
const CTVIT_ATTN_SCALE = 8;

class Ctx {
  constructor(readonly g: GraphBuilder) {}

  linear(path: string, x: number | null, inF: number, outF: number, bias: boolean, opts: { used?: boolean; bert?: boolean } = {}): number {
    const g = this.g;
    g.module(path, 'linear', { inFeatures: inF, outFeatures: outF, bias, used: opts.used ?? x !== null });
    const w = g.param(path, 'weight', [outF, inF], opts.bert ? BERT_NORMAL : fanInUniform(inF));
    const b = bias ? g.param(path, 'bias', [outF], opts.bert ? ZEROS : fanInUniform(inF)) : null;
    if (x === null) return -1;
    return g.op('linear', b === null ? [x, w] : [x, w, b], {}, path, 'out');
  }

  /** nn.LayerNorm (weight + bias params). */
  torchLayerNorm(path: string, x: number | null, n: number, eps: number): number {
    const g = this.g;
    g.module(path, 'layer_norm', { inFeatures: n, outFeatures: n, bias: true, used: x !== null });
    const w = g.param(path, 'weight', [n], ONES);
    const b = g.param(path, 'bias', [n], ZEROS);
    return x === null ? -1 : g.op('layer_norm', [x, w, b], { eps }, path, 'out');
  }

  /** CTViT's LayerNorm: learned gamma, beta a zero buffer. */
  gammaLayerNorm(path: string, x: number | null, n: number): number {
    const g = this.g;
    g.module(path, 'layer_norm', { inFeatures: n, outFeatures: n, bias: false, used: x !== null });
    const gamma = g.param(path, 'gamma', [n], ONES);
    const beta = g.param(path, 'beta', [n], ZEROS, 'buffer');
    return x === null ? -1 : g.op('layer_norm', [x, gamma, beta], { eps: TORCH_LN_EPS }, path, 'out');
  }
}

// ------------------------------------------------------------------ CTViT

function ctvitAttention(c: Ctx, path: string, x: number, s: ImageEncoderSizes, bias: number | null): number {
  const g = c.g;
  const inner = s.heads * s.dimHead;
  g.module(path, 'attention', { inFeatures: s.dim, outFeatures: s.dim });
  const xn = c.gammaLayerNorm(`${path}.norm`, x, s.dim);
  c.gammaLayerNorm(`${path}.context_norm`, null, s.dim); // only used with a context; counted
  // Zero-size null key/values (num_null_kv = 0): in the state dict, no op reads them.
  g.param(path, 'null_kv', [s.heads, 0, s.dimHead], { kind: 'normal', std: 1 });
  const qScale = g.param(path, 'q_scale', [s.dimHead], ONES);
  const kScale = g.param(path, 'k_scale', [s.dimHead], ONES);
  const q = c.linear(`${path}.to_q`, xn, s.dim, inner, false);
  // The released code feeds to_kv the input BEFORE the norm (kv_input = default(context, x) is
  // taken before x = self.norm(x)); reproduced as is.
  const kv = c.linear(`${path}.to_kv`, x, s.dim, 2 * inner, false);
  const [bn, n] = g.shape(x) as [number, number, number];
  const heads = (t: number, label: string) => g.op('reshape', [t], { shape: [bn, n, s.heads, s.dimHead] }, path, label);
  const k = g.op('slice', [kv], { axis: 2, start: 0, end: inner }, path, 'k');
  const v = g.op('slice', [kv], { axis: 2, start: inner, end: 2 * inner }, path, 'v');
  const qh = g.op('mul', [g.op('l2norm', [heads(q, 'q_heads')], { eps: L2_EPS }, path, 'q_unit'), qScale], {}, path, 'q_scaled');
  const kh = g.op('mul', [g.op('l2norm', [heads(k, 'k_heads')], { eps: L2_EPS }, path, 'k_unit'), kScale], {}, path, 'k_scaled');
  const vh = heads(v, 'v_heads');
  const att = g.op('attention', bias === null ? [qh, kh, vh] : [qh, kh, vh, bias], { scale: CTVIT_ATTN_SCALE, hasBias: bias !== null, hasMask: false }, path, 'attn');
  const merged = g.op('reshape', [att], { shape: [bn, n, inner] }, path, 'merged');
  return c.linear(`${path}.to_out`, merged, inner, s.dim, false);
}

function ctvitTransformer(c: Ctx, path: string, x: number, depth: number, s: ImageEncoderSizes, video: [number, number, number, number], bias: number | null): number {
  const g = c.g;
  g.module(path, 'transformer');
  g.module(`${path}.layers`, 'sequential');
  const tokShape = g.shape(x);
  for (let i = 0; i < depth; i++) {
    const layer = `${path}.layers.${i}`;
    g.module(layer, 'sequential');
    // PEG: plain reshape of the token tensor to (b, t, h, w, d); in the temporal transformer the
    // tokens are (b h w) t d, so this reshape scrambles the layout exactly as the released code does.
    const peg = `${layer}.0`;
    g.module(peg, 'peg');
    g.module(`${peg}.dsconv`, 'conv3d', { inFeatures: s.dim, outFeatures: s.dim, bias: true });
    const w = g.param(`${peg}.dsconv`, 'weight', [s.dim, 1, 3, 3, 3], fanInUniform(27));
    const b = g.param(`${peg}.dsconv`, 'bias', [s.dim], fanInUniform(27));
    const vid = g.op('reshape', [x], { shape: [...video, s.dim] }, peg, 'video');
    const conv = g.op('dwconv3d', [vid, w, b], { kernel: [3, 3, 3], pad: [2, 0, 1, 1, 1, 1] }, `${peg}.dsconv`, 'out');
    const back = g.op('reshape', [conv], { shape: tokShape }, peg, 'tokens');
    x = g.op('add', [back, x], {}, layer, 'peg_residual');
    x = g.op('add', [ctvitAttention(c, `${layer}.1`, x, s, bias), x], {}, layer, 'attn_residual');
    // FeedForward = Sequential(LayerNorm, Linear(dim, 2*inner), GEGLU, Dropout, Linear(inner, dim)).
    const ff = `${layer}.3`;
    g.module(ff, 'feed_forward', { inFeatures: s.dim, outFeatures: s.dim });
    const h0 = c.torchLayerNorm(`${ff}.0`, x, s.dim, TORCH_LN_EPS);
    const h1 = c.linear(`${ff}.1`, h0, s.dim, 2 * s.ffInner, false);
    const h2 = g.op('geglu', [h1], {}, ff, 'geglu');
    x = g.op('add', [c.linear(`${ff}.4`, h2, s.ffInner, s.dim, false), x], {}, layer, 'ff_residual');
  }
  return c.gammaLayerNorm(`${path}.norm_out`, x, s.dim);
}

/** ContinuousPositionBias: MLP over sign(d)*log(|d|+1) of (row, col) offsets -> [heads, hw, hw]. */
function positionBias(c: Ctx, path: string, s: ImageEncoderSizes, h: number, w: number): number {
  const g = c.g;
  g.module(path, 'position_bias');
  g.module(`${path}.net`, 'sequential');
  let r = g.op('rel_pos_grid', [], { h, w }, path, 'rel_pos');
  const dims = [2, s.dim, s.dim];
  for (let i = 0; i < 2; i++) {
    g.module(`${path}.net.${i}`, 'sequential');
    r = g.op('leaky_relu', [c.linear(`${path}.net.${i}.0`, r, dims[i]!, s.dim, true)], { slope: 0.1 }, `${path}.net.${i}`, 'act');
  }
  r = c.linear(`${path}.net.2`, r, s.dim, s.heads, true);
  return g.op('permute', [r], { perm: [2, 0, 1] }, path, 'bias');
}

function ctvit(c: Ctx, path: string, video: number, s: ImageEncoderSizes): number {
  const g = c.g;
  g.module(path, 'ctvit');
  const [b] = g.shape(video) as [number];
  const t = s.frames / s.temporalPatchSize, h = s.imageSize / s.patchSize, w = h;
  const patch = s.temporalPatchSize * s.patchSize * s.patchSize;
  const bias = positionBias(c, `${path}.spatial_rel_pos_bias`, s, h, w);
  // to_patch_emb_first_frame: in the state dict, unused by the forward.
  const ff = `${path}.to_patch_emb_first_frame`;
  g.module(ff, 'sequential', { used: false });
  c.torchLayerNorm(`${ff}.1`, null, s.patchSize * s.patchSize, TORCH_LN_EPS);
  c.linear(`${ff}.2`, null, s.patchSize * s.patchSize, s.dim, true);
  c.torchLayerNorm(`${ff}.3`, null, s.dim, TORCH_LN_EPS);
  // to_patch_emb: 'b c (t pt) (h p1) (w p2) -> b t h w (c pt p1 p2)', LN, Linear, LN.
  const pe = `${path}.to_patch_emb`;
  g.module(pe, 'sequential');
  const split = g.op('reshape', [video], { shape: [b, 1, t, s.temporalPatchSize, h, s.patchSize, w, s.patchSize] }, pe, 'split');
  const perm = g.op('permute', [split], { perm: [0, 2, 4, 6, 1, 3, 5, 7] }, pe, 'patch_major');
  let x = g.op('reshape', [perm], { shape: [b, t, h, w, patch] }, pe, 'patches');
  x = c.torchLayerNorm(`${pe}.1`, x, patch, TORCH_LN_EPS);
  x = c.linear(`${pe}.2`, x, patch, s.dim, true);
  x = c.torchLayerNorm(`${pe}.3`, x, s.dim, TORCH_LN_EPS);
  const videoShape: [number, number, number, number] = [b, t, h, w];
  // Spatial: '(b t) (h w) d'.
  x = g.op('reshape', [x], { shape: [b * t, h * w, s.dim] }, path, 'spatial_tokens');
  x = ctvitTransformer(c, `${path}.enc_spatial_transformer`, x, s.spatialDepth, s, videoShape, bias);
  // Temporal: 'b t h w d -> (b h w) t d'.
  x = g.op('reshape', [x], { shape: [b, t, h * w, s.dim] }, path, 'spatial_out');
  x = g.op('permute', [x], { perm: [0, 2, 1, 3] }, path, 'site_major');
  x = g.op('reshape', [x], { shape: [b * h * w, t, s.dim] }, path, 'temporal_tokens');
  x = ctvitTransformer(c, `${path}.enc_temporal_transformer`, x, s.temporalDepth, s, videoShape, null);
  x = g.op('reshape', [x], { shape: [b, h * w, t, s.dim] }, path, 'temporal_out');
  x = g.op('permute', [x], { perm: [0, 2, 1, 3] }, path, 'time_major');
  x = g.op('reshape', [x], { shape: [b, t * h * w, s.dim] }, path, 'packed');
  // VectorQuantize(use_cosine_sim): codebook buffers only; eval behaviour always (no EMA). The
  // official checkpoints' layout: initted, cluster_size, embed (no embed_avg: which EMA buffers a
  // checkpoint has depends on the vector-quantize-pytorch version; loading never demands them).
  // `quantize false` skips the quantiser but keeps its buffers, so the state dict stays CT-CLIP's:
  // a tiny CTViT pretrained from scratch with a random, frozen codebook sends most tokens of
  // similar volumes to a few codes (bench/RESULTS.md, issue 11), where the released one was
  // learned by CTViT's own VQ-autoencoder training first.
  const vq = `${path}.vq`;
  const quantize = imageQuantizes(s);
  g.module(vq, 'vector_quantize', { used: quantize });
  g.module(`${vq}._codebook`, 'vector_quantize', { used: quantize });
  g.param(`${vq}._codebook`, 'initted', [1], ONES, 'buffer');
  g.param(`${vq}._codebook`, 'cluster_size', [1, s.codebookSize], ZEROS, 'buffer');
  const embed = g.param(`${vq}._codebook`, 'embed', [1, s.codebookSize, s.dim], { kind: 'normal', std: 1 }, 'buffer');
  if (quantize) x = g.op('vq_nearest', [x, embed], {}, vq, 'quantized');
  // Decoder heads: in the state dict and the parameter count, unused by CT-CLIP.
  g.module(`${path}.to_pixels_first_frame`, 'sequential', { used: false });
  c.linear(`${path}.to_pixels_first_frame.0`, null, s.dim, s.patchSize * s.patchSize, true);
  g.module(`${path}.to_pixels`, 'sequential', { used: false });
  c.linear(`${path}.to_pixels.0`, null, s.dim, patch, true);
  return g.op('reshape', [x], { shape: [b, t, h, w, s.dim] }, path, 'tokens');
}

// ------------------------------------------------------------------ BERT

function bert(c: Ctx, path: string, ids: number, mask: number, s: TextEncoderSizes): number {
  const g = c.g;
  g.module(path, 'bert');
  const [n, len] = g.shape(ids) as [number, number];
  const em = `${path}.embeddings`;
  g.module(em, 'bert_embeddings');
  const table = (name: string, rows: number) => {
    g.module(`${em}.${name}`, 'embedding', { inFeatures: rows, outFeatures: s.hidden });
    return g.param(`${em}.${name}`, 'weight', [rows, s.hidden], BERT_NORMAL);
  };
  const word = table('word_embeddings', s.vocabSize);
  const pos = table('position_embeddings', s.maxPositions);
  const type = table('token_type_embeddings', s.typeVocabSize);
  let x = g.op('embedding', [ids, word], {}, em, 'words');
  // Positions 0..len-1 and token type 0 are the leading rows of their tables.
  x = g.op('add', [x, g.op('slice', [pos], { axis: 0, start: 0, end: len }, em, 'positions')], {}, em, 'with_positions');
  x = g.op('add', [x, g.op('slice', [type], { axis: 0, start: 0, end: 1 }, em, 'token_type')], {}, em, 'summed');
  x = c.torchLayerNorm(`${em}.LayerNorm`, x, s.hidden, BERT_LN_EPS);
  g.module(`${path}.encoder`, 'sequential');
  g.module(`${path}.encoder.layer`, 'sequential');
  const dh = s.hidden / s.heads;
  for (let i = 0; i < s.layers; i++) {
    const l = `${path}.encoder.layer.${i}`;
    g.module(l, 'bert_layer');
    g.module(`${l}.attention`, 'attention', { inFeatures: s.hidden, outFeatures: s.hidden });
    g.module(`${l}.attention.self`, 'sequential');
    const heads = (name: string) => g.op('reshape', [c.linear(`${l}.attention.self.${name}`, x, s.hidden, s.hidden, true, { bert: true })], { shape: [n, len, s.heads, dh] }, `${l}.attention.self`, `${name}_heads`);
    const q = heads('query'), k = heads('key'), v = heads('value');
    const att = g.op('attention', [q, k, v, mask], { scale: 1 / Math.sqrt(dh), hasBias: false, hasMask: true }, `${l}.attention.self`, 'attn');
    const merged = g.op('reshape', [att], { shape: [n, len, s.hidden] }, `${l}.attention.self`, 'merged');
    g.module(`${l}.attention.output`, 'sequential');
    let y = c.linear(`${l}.attention.output.dense`, merged, s.hidden, s.hidden, true, { bert: true });
    y = g.op('add', [y, x], {}, `${l}.attention.output`, 'residual');
    x = c.torchLayerNorm(`${l}.attention.output.LayerNorm`, y, s.hidden, BERT_LN_EPS);
    g.module(`${l}.intermediate`, 'sequential');
    const inter = g.op('gelu', [c.linear(`${l}.intermediate.dense`, x, s.hidden, s.intermediate, true, { bert: true })], {}, `${l}.intermediate`, 'act');
    g.module(`${l}.output`, 'sequential');
    y = g.op('add', [c.linear(`${l}.output.dense`, inter, s.intermediate, s.hidden, true, { bert: true }), x], {}, `${l}.output`, 'residual');
    x = c.torchLayerNorm(`${l}.output.LayerNorm`, y, s.hidden, BERT_LN_EPS);
  }
  g.module(`${path}.pooler`, 'sequential', { used: false });
  c.linear(`${path}.pooler.dense`, null, s.hidden, s.hidden, true, { bert: true });
  return x;
}

// ------------------------------------------------------------------ CT-CLIP

/** The forward graph: volumes [B, 1, D, H, W] and token ids [T, L] -> latents and logits [B, T]. */
export function buildCtClip(model: ModelSpec, shape: BuildShape): Graph {
  const s = model.image, tx = model.text;
  checkDivisible(s);
  const g = new GraphBuilder(model.architecture);
  const c = new Ctx(g);
  g.module('', 'ct_clip');
  const volume = g.input('volume', [shape.imageBatch, 1, s.frames, s.imageSize, s.imageSize], 'f32');
  const ids = g.input('input_ids', [shape.textBatch, tx.maxLength], 'i32');
  const mask = g.input('attention_mask', [shape.textBatch, tx.maxLength], 'f32');
  // State-dict order of CTCLIP: text_transformer, visual_transformer, to_text_latent, to_visual_latent, extras, temperature.
  const text = bert(c, 'text_transformer', ids, mask, tx);
  const tokens = ctvit(c, 'visual_transformer', volume, s);
  const cls = g.op('reshape', [g.op('slice', [text], { axis: 1, start: 0, end: 1 }, '', 'cls')], { shape: [shape.textBatch, tx.hidden] }, '', 'cls_flat');
  const textLatent = g.op('l2norm', [c.linear('to_text_latent', cls, tx.hidden, model.latentDim, false)], { eps: L2_EPS }, '', 'text_latent');
  const h = s.imageSize / s.patchSize;
  const pooled = g.op('mean', [tokens], { axis: 1 }, '', 'depth_mean');
  const flat = g.op('reshape', [pooled], { shape: [shape.imageBatch, h * h * s.dim] }, '', 'flat');
  const imageLatent = g.op('l2norm', [c.linear('to_visual_latent', flat, h * h * s.dim, model.latentDim, false)], { eps: L2_EPS }, '', 'image_latent');
  c.linear('to_text_latent_extra', null, tx.hidden, model.latentDim, false);
  c.linear('to_visual_latent_extra', null, h * h * s.dim, model.latentDim, false);
  // `temperature` is a root parameter (no module of its own), owned by the root module.
  const temp = g.param('', 'temperature', [], { kind: 'const', value: 1 });
  const sim = g.op('matmul', [imageLatent, textLatent], { transB: true }, '', 'cosine');
  const logits = g.op('mul', [sim, g.op('exp', [temp], {}, '', 'logit_scale')], {}, '', 'logits');
  g.output('image_latent', imageLatent);
  g.output('text_latent', textLatent);
  g.output('logits', logits);
  return g.finish();
}

function checkDivisible(s: ImageEncoderSizes): void {
  // The checker enforces these with spans; a builder reached with bad sizes is a bug upstream.
  if (s.frames % s.temporalPatchSize || s.imageSize % s.patchSize || s.heads * s.dimHead <= 0) {
    throw new Error(`ct_clip builder: sizes not divisible (frames ${s.frames} / ${s.temporalPatchSize}, image ${s.imageSize} / ${s.patchSize})`);
  }
}
