// Percentile bootstrap over volumes: each replicate draws N volumes with replacement (seeded), and
// every metric (threshold included, re-selected on the replicate unless the caller fixes it) is
// recomputed, so the interval covers the threshold choice too. Deterministic for a seed.
//
// Single-class resamples: skip and count. A replicate in which a label has only one class (no
// positives or no negatives drawn) has no ROC and no threshold to select, so it contributes
// nothing to that label's intervals (every metric of the label is left out for that replicate,
// rather than evaluated at CT-CLIP's fallback threshold 0) and the means of that replicate average
// the labels that are defined in it; `singleClassReplicates[l]` counts the skipped replicates and
// the reports print it. A label with one class in the whole evaluated set is the exception: the
// point estimate evaluates it at the rule's fallback (AUROC undefined, accuracy and F1 defined), so
// every replicate does the same, keeping the means' intervals around their point estimates. (Stratified resampling would change what the interval estimates: the
// joint resample of volumes is what lets one replicate give every label and the means.)
import { Rng } from '../util/rng.js';
import { groupTotals, type RankedLabel } from './ranking.js';
import { labelMetrics, MEAN_METRIC_KEYS, meanMetrics, type LabelMetrics, type MeanMetrics } from './metrics.js';
import type { ThresholdRule } from './threshold.js';

export interface BootstrapSettings { samples: number; confidence: number; seed: number }

export type Interval = [number, number];

export interface BootstrapResult {
  /** Per label, per metric: [lower, upper]; null when no replicate had the metric defined. */
  labels: Record<keyof LabelMetrics, Interval | null>[];
  mean: Record<keyof MeanMetrics, Interval | null>;
  /** Per label: replicates in which the label had one class only and was left out (0 for a label
   *  with one class in the whole set, evaluated at the fallback in every replicate). */
  singleClassReplicates: number[];
}

/** numpy.percentile's default ('linear'): position q * (n - 1) in the sorted sample. */
export function percentile(sorted: ArrayLike<number>, q: number): number {
  const n = sorted.length;
  if (n === 0) return NaN;
  const pos = q * (n - 1), lo = Math.floor(pos), hi = Math.min(lo + 1, n - 1);
  return sorted[lo]! + (sorted[hi]! - sorted[lo]!) * (pos - lo);
}

/** The replicates' volume weights (how often each of the n volumes was drawn), from one stream
 *  Rng(seed, 'bootstrap'): the same settings give the same draws, which is what pairs two
 *  evaluations of the same volumes (runtime/eval/paired.ts). The array is reused between yields. */
export function* resamples(n: number, settings: BootstrapSettings): Generator<Float64Array> {
  if (!(settings.samples >= 1) || !(settings.confidence > 0 && settings.confidence < 1)) {
    throw new Error(`bootstrap: bad settings ${JSON.stringify(settings)}`);
  }
  const rng = new Rng(settings.seed, 'bootstrap');
  const weights = new Float64Array(n);
  for (let b = 0; b < settings.samples; b++) {
    weights.fill(0);
    for (let i = 0; i < n; i++) weights[rng.int(n)]! += 1;
    yield weights;
  }
}

/** Every metric on one replicate; a label with one class in it is undefined (NaN) and flagged —
 *  unless the label has one class in the whole evaluated set: then every replicate is single-class
 *  and it is evaluated as the point estimate evaluates it (the rule's fallback threshold), so the
 *  means of the replicates average the same labels as the point estimate and its interval is an
 *  interval around it (skipping it would move every replicate mean off the point estimate). */
export function replicate(ranked: readonly RankedLabel[], rule: ThresholdRule, weights: Float64Array,
  fixedThresholds: readonly number[] | null = null): { labels: LabelMetrics[]; mean: MeanMetrics; singleClass: boolean[] } {
  const singleClass: boolean[] = [];
  const labels = ranked.map((r, l) => {
    const g = groupTotals(r, weights);
    singleClass.push((g.P === 0 || g.N === 0) && !oneClassOverall(r));
    return singleClass[l] ? UNDEFINED_LABEL : labelMetrics(g, rule, fixedThresholds?.[l]);
  });
  return { labels, mean: meanMetrics(labels), singleClass };
}

/** An interval of a sample of replicate values (NaN left out); null when none is defined. */
export function interval(values: number[], confidence: number): Interval | null {
  const xs = values.filter((x) => !Number.isNaN(x)).sort((a, b) => a - b);
  if (xs.length === 0) return null;
  const a = (1 - confidence) / 2;
  return [percentile(xs, a), percentile(xs, 1 - a)];
}

/**
 * `ranked[l]` is label l over the same N volumes. `fixedThresholds[l]`, when given, is used in
 * every replicate instead of re-selecting. Volumes are drawn from one stream Rng(seed, 'bootstrap').
 */
export function bootstrap(ranked: readonly RankedLabel[], rule: ThresholdRule, settings: BootstrapSettings,
  fixedThresholds: readonly number[] | null = null): BootstrapResult {
  const n = ranked[0]?.order.length ?? 0;
  const perLabel: Record<keyof LabelMetrics, number[]>[] = ranked.map(() => emptyColumns<keyof LabelMetrics>(['auroc', 'threshold', 'accuracy', 'precision', 'recall', 'specificity', 'f1', 'weightedF1']));
  const means = emptyColumns<keyof MeanMetrics>([...MEAN_METRIC_KEYS]);
  const singleClass = ranked.map(() => 0);
  for (const weights of resamples(n, settings)) {
    const r = replicate(ranked, rule, weights, fixedThresholds);
    r.labels.forEach((m, l) => {
      if (r.singleClass[l]) singleClass[l]! += 1;
      for (const k of Object.keys(m) as (keyof LabelMetrics)[]) perLabel[l]![k].push(m[k]);
    });
    for (const k of Object.keys(r.mean) as (keyof MeanMetrics)[]) means[k].push(r.mean[k]);
  }
  const c = settings.confidence;
  return {
    labels: perLabel.map((cols) => mapColumns(cols, (xs) => interval(xs, c))),
    mean: mapColumns(means, (xs) => interval(xs, c)),
    singleClassReplicates: singleClass,
  };
}

function oneClassOverall(r: RankedLabel): boolean {
  const t = r.truth;
  for (let i = 1; i < t.length; i++) if (t[i] !== t[0]) return false;
  return true;
}

const UNDEFINED_LABEL: LabelMetrics = { auroc: NaN, threshold: NaN, accuracy: NaN, precision: NaN, recall: NaN, specificity: NaN, f1: NaN, weightedF1: NaN };

function emptyColumns<K extends string>(keys: K[]): Record<K, number[]> {
  return Object.fromEntries(keys.map((k) => [k, [] as number[]])) as Record<K, number[]>;
}

function mapColumns<K extends string, T>(cols: Record<K, number[]>, f: (xs: number[]) => T): Record<K, T> {
  return Object.fromEntries(Object.entries(cols).map(([k, xs]) => [k, f(xs as number[])])) as Record<K, T>;
}
