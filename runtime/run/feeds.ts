// The plan's feeds from data: prompts -> input_ids / attention_mask, volumes -> `volume`, labels ->
// `targets`. Layouts follow the graph (compiler/models/ct_clip.ts, compiler/passes/loss.ts):
//   volume [B, 1, D, H, W] f32, volumes one after another, each (D, H, W) row-major as the data
//     layer preprocesses them (D = frames, H = W = imageSize);
//   input_ids [2P, L] i32 and attention_mask [2P, L] f32 (1 = real token), texts interleaved
//     (p0 present, p0 absent, p1 present, ...), so logits [B, 2P] pair up as the pair losses read them;
//   targets [B, P] f32, 1 when pathology p is present in volume b (the first text of its pair is true).
// Batching (training): a fixed-size plan cannot take a short batch and the loss kernels average
// over every row, so a padded row would bias the gradient; the last partial batch of an epoch is
// dropped (PyTorch drop_last). The order is reshuffled every epoch, so a dropped volume is a
// different one each time. Evaluation runs one volume per step and covers every volume.
import { DiagnosticError } from '../../base/diagnostics/types.js';
import { diag } from '../../base/diagnostics/catalog.js';
import type { Plan } from '../../compiler/plan/types.js';
import type { PromptSpec } from '../../compiler/ir/experiment.js';
import type { WordPieceTokenizer } from '../data/tokenizer.js';
import type { Feeds } from './executor.js';
import { toSpecAt, type SpecAt } from './spec-at.js';

/** The 2P prompt texts in logit order: positive then negative template for each pathology. */
export function promptTexts(prompts: PromptSpec): string[] {
  const fill = (template: string, p: string) => template.split('{pathology}').join(p);
  return prompts.pathologies.flatMap((p) => [fill(prompts.positive, p), fill(prompts.negative, p)]);
}

export interface TextFeeds { input_ids: Int32Array; attention_mask: Float32Array }

export function textFeeds(tok: WordPieceTokenizer, prompts: PromptSpec, maxLength: number): TextFeeds {
  return reportFeeds(tok, promptTexts(prompts), maxLength);
}

/** Any texts (the CLIP loss: each volume's report, in batch order) as the text feeds. */
export function reportFeeds(tok: WordPieceTokenizer, texts: readonly string[], maxLength: number): TextFeeds {
  const { ids, attentionMask } = tok.encodeBatch([...texts], maxLength);
  return { input_ids: ids, attention_mask: Float32Array.from(attentionMask) };
}

/** Volumes stacked into one [B, 1, D, H, W] buffer. */
export function volumeBatch(volumes: readonly Float32Array[]): Float32Array {
  const n = volumes[0]?.length ?? 0;
  const out = new Float32Array(volumes.length * n);
  volumes.forEach((v, b) => {
    if (v.length !== n) throw new Error(`volumeBatch: volume ${b} has ${v.length} voxels, volume 0 has ${n}`);
    out.set(v, b * n);
  });
  return out;
}

/** [B, P] 0/1 targets from per-volume labels (in the prompts' pathology order). */
export function targetBatch(labels: readonly Uint8Array[]): Float32Array {
  const p = labels[0]?.length ?? 0;
  const out = new Float32Array(labels.length * p);
  labels.forEach((l, b) => l.forEach((x, j) => { out[b * p + j] = x ? 1 : 0; }));
  return out;
}

/** Consecutive full batches of `order` (the last partial one dropped, see above). */
export function fullBatches<T>(order: readonly T[], batchSize: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i + batchSize <= order.length; i += batchSize) out.push(order.slice(i, i + batchSize));
  return out;
}

const numel = (shape: readonly number[]): number => shape.reduce((a, b) => a * b, 1);

/**
 * Checks that data fits the plan before anything runs: the preprocessed volume size must be the
 * model's input size and the text feeds (the prompts; null when they come per batch, as the CLIP
 * loss's reports do) must be the text batch the plan was lowered for. `source` names the spec (or
 * locates its fields).
 */
export function checkDataFitsPlan(plan: Plan, volumeShape: readonly number[], text: TextFeeds | null, source: string | SpecAt): void {
  const buf = (name: string) => {
    const id = plan.inputs[name];
    if (id === undefined) throw new Error(`internal: ${plan.mode} plan has no input \`${name}\``);
    return plan.buffers[id]!;
  };
  const vol = buf('volume').shape;
  const want = vol.slice(2);
  if (want.length !== volumeShape.length || want.some((d, i) => d !== volumeShape[i])) {
    throw new DiagnosticError(diag('E5563', `preprocessed volumes are ${volumeShape.join('x')} voxels but the model takes ${want.join('x')}`,
      toSpecAt(source)(['/data/preprocess/size'], 'preprocessed size'), { help: `set data.preprocess.size to [${want.join(', ')}] voxels, or change the model's frames / image_size` }));
  }
  const ids = buf('input_ids').shape;
  if (ids[0] !== plan.batch.texts) throw new Error(`internal: the ${plan.mode} plan's input_ids [${ids.join(', ')}] disagree with its text batch ${plan.batch.texts}`);
  if (text && text.input_ids.length !== numel(ids)) throw new Error(`internal: the ${plan.mode} plan takes ${plan.batch.texts} texts of ${ids[1]} tokens, the prompts make ${text.input_ids.length} tokens`);
}

/** Checks every feed against the plan's input buffer: a mismatch is a bug in this module. */
export function assertFeeds(plan: Plan, feeds: Feeds): void {
  for (const [name, id] of Object.entries(plan.inputs)) {
    const b = plan.buffers[id]!;
    const f = feeds[name];
    if (!f) throw new Error(`internal: no feed for plan input \`${name}\``);
    const wantInt = b.dtype === 'i32';
    if ((f instanceof Int32Array) !== wantInt || f.length !== numel(b.shape)) {
      throw new Error(`internal: feed \`${name}\` is ${f.constructor.name}[${f.length}], the plan wants ${b.dtype}[${b.shape.join(', ')}]`);
    }
  }
}
