// Report-sentence sampling for contrastive pretraining (`train { sentences { rate 0.5  after 4 epochs } }`).
// A text encoder trained only on whole ~120-token reports puts the one-sentence zero-shot prompts
// where no report lies (bench/RESULTS.md, issue 11); training it also on single sentences of the
// reports teaches it short texts. Each row's draw depends only on (seed, step, row), so a resumed
// run draws exactly what an uninterrupted one would.
import type { TrainSpec } from '../../compiler/ir/experiment.js';
import { Rng } from '../util/rng.js';
import { durationSteps } from './schedule.js';

/** The sentences of a report, in order: split after `.`, `!` or `?` where the next sentence starts
 *  with a capital letter, with or without a space (the findings and impressions columns are joined
 *  without one, as CT-CLIP does), so "2.5 mm" stays whole. */
export function reportSentences(text: string): string[] {
  return text.split(/(?<=[.!?])\s*(?=[A-Z])/).map((s) => s.trim()).filter((s) => s.length > 0);
}

/** The text row `row` of step `step` trains on: with probability `rate` one of the report's
 *  sentences (uniform), else the whole report. */
export function sampleReport(text: string, seed: number, step: number, row: number, rate: number): string {
  const rng = new Rng(seed, 'sentences', step, row);
  if (rng.uniform() >= rate) return text;
  const s = reportSentences(text);
  return s.length > 0 ? s[rng.int(s.length)]! : text;
}

/** The last step that still trains on whole reports: sampling applies to steps after it. */
export function sentencesAfter(s: NonNullable<TrainSpec['sentences']>, batchesPerEpoch: number): number {
  return durationSteps(s.afterSteps, s.afterEpochs, batchesPerEpoch);
}
