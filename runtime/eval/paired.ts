// Paired bootstrap of a change: two evaluations of the same volumes (the base model before
// training and the adapted model after) are resampled with the same draws, so each replicate's
// change (after - before) keeps the pairing and the interval is that of the change itself, far
// narrower than what two independent intervals suggest. Thresholds are re-selected on every
// replicate for both models, as in the one-model bootstrap.
import { interval, replicate, resamples, type BootstrapSettings, type Interval } from './bootstrap.js';
import { MEAN_METRIC_KEYS as KEYS, type MeanMetrics } from './metrics.js';
import { rankLabel, type RankedLabel } from './ranking.js';
import type { ThresholdRule } from './threshold.js';

export interface MetricChange {
  /** after - before on all volumes; null when either is undefined. */
  change: number | null;
  /** Percentile interval of the replicate changes; null when no replicate defines it. */
  ci: Interval | null;
  /** Share of replicates in which the change is <= 0 (a one-sided bootstrap p-value for "it went up"). */
  atMostZero: number | null;
}

export interface PairedChange {
  samples: number;
  confidence: number;
  seed: number;
  mean: Record<keyof MeanMetrics, MetricChange>;
}

/** `before[i]`, `after[i]`: volume i's P(present) per label from the two evaluations (rows as in
 *  EvalInput); `truth[i]` its labels. */
export function pairedChange(before: readonly ArrayLike<number>[], after: readonly ArrayLike<number>[], truth: readonly ArrayLike<number>[],
  rule: ThresholdRule, settings: BootstrapSettings): PairedChange {
  const n = truth.length, labels = truth[0]?.length ?? 0;
  if (before.length !== n || after.length !== n) throw new Error(`pairedChange: ${before.length} / ${after.length} / ${n} volumes`);
  const rank = (rows: readonly ArrayLike<number>[]): RankedLabel[] => Array.from({ length: labels }, (_, l) =>
    rankLabel(Float64Array.from(rows, (r) => r[l]!), Uint8Array.from(truth, (r) => r[l]!)));
  const a = rank(before), b = rank(after);
  const ones = new Float64Array(n).fill(1);
  const pointA = replicate(a, rule, ones).mean, pointB = replicate(b, rule, ones).mean;
  const diffs = Object.fromEntries(KEYS.map((k) => [k, [] as number[]])) as Record<keyof MeanMetrics, number[]>;
  for (const w of resamples(n, settings)) {
    const ra = replicate(a, rule, w).mean, rb = replicate(b, rule, w).mean;
    for (const k of KEYS) diffs[k].push(rb[k] - ra[k]);
  }
  const mean = Object.fromEntries(KEYS.map((k) => {
    const d = pointB[k] - pointA[k];
    const xs = diffs[k].filter((x) => !Number.isNaN(x));
    return [k, {
      change: Number.isFinite(d) ? d : null,
      ci: interval(diffs[k], settings.confidence),
      atMostZero: xs.length ? xs.filter((x) => x <= 0).length / xs.length : null,
    }];
  })) as Record<keyof MeanMetrics, MetricChange>;
  return { samples: settings.samples, confidence: settings.confidence, seed: settings.seed, mean };
}
