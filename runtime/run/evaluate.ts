// Zero-shot evaluation on the eval plan (one volume per run, so every eval volume is scored exactly
// once): the image latent of each volume against the text latents of each pathology's
// (present, absent) prompts, scored as CT-CLIP does (runtime/eval zeroShotScores: softmax over the
// pair of exp(temperature)·cosine), then per-label metrics, thresholds and bootstrap intervals.
import type { EvaluateSpec } from '../../compiler/ir/experiment.js';
import type { DataItem } from '../data/dataset.js';
import { evaluateScores, zeroShotScores, type EvalResults } from '../eval/index.js';
import type { RunExecutor } from './executor.js';
import { assertFeeds, volumeBatch, type TextFeeds } from './feeds.js';

export interface EvalRun {
  results: EvalResults;
  volumes: string[];
  /** Per volume, per pathology: P(present). */
  scores: Float64Array[];
  truth: Uint8Array[];
  seconds: number;
}

export interface EvaluateOptions {
  exec: RunExecutor;
  items: readonly DataItem[];
  text: TextFeeds;
  pathologies: readonly string[];
  evaluate: Pick<EvaluateSpec, 'threshold' | 'bootstrap'>;
  /** Named by E5570 when a score is not finite (the run folder or adapter). */
  source: string;
  onVolume?: (done: number, total: number) => void;
}

/** Splits the [2P, latent] text latents into the present and absent rows of each pathology. */
export function promptLatents(textLatent: Float32Array, pathologies: number): { present: Float32Array[]; absent: Float32Array[] } {
  const dim = textLatent.length / (2 * pathologies);
  if (!Number.isInteger(dim)) throw new Error(`promptLatents: ${textLatent.length} values for ${2 * pathologies} texts`);
  const row = (i: number) => textLatent.slice(i * dim, (i + 1) * dim);
  return {
    present: Array.from({ length: pathologies }, (_, p) => row(2 * p)),
    absent: Array.from({ length: pathologies }, (_, p) => row(2 * p + 1)),
  };
}

export async function evaluateItems(o: EvaluateOptions): Promise<EvalRun> {
  const t0 = performance.now();
  const images: Float32Array[] = [];
  let text: ReturnType<typeof promptLatents> | null = null;
  for (let i = 0; i < o.items.length; i++) {
    const item = o.items[i]!;
    const feeds = { volume: volumeBatch([await item.load()]), input_ids: o.text.input_ids, attention_mask: o.text.attention_mask };
    if (i === 0) assertFeeds(o.exec.plan, feeds);
    await o.exec.run(feeds);
    images.push(await o.exec.output('image_latent'));
    // The prompts are the same every run, so their latents are too.
    text ??= promptLatents(await o.exec.output('text_latent'), o.pathologies.length);
    o.onVolume?.(i + 1, o.items.length);
  }
  const temperature = (await o.exec.readTensor('temperature'))[0]!;
  const volumes = o.items.map((it) => it.volumeName);
  const scores = text ? zeroShotScores(images, text.present, text.absent, temperature, { volumeNames: volumes, source: o.source }) : [];
  const truth = o.items.map((it) => it.labels);
  const results = evaluateScores({ labels: o.pathologies, scores, truth }, o.evaluate);
  return { results, volumes, scores, truth, seconds: (performance.now() - t0) / 1000 };
}
