// Zero-shot (or fine-tuned) evaluation results: per-label metrics, their means, optional bootstrap
// intervals, as a JSON-ready object (undefined values are null, never NaN) and as a table.
import type { EvaluateSpec, Metric } from '../../compiler/ir/experiment.js';
import { bootstrap, type BootstrapSettings, type Interval } from './bootstrap.js';
import { groupTotals, rankLabel } from './ranking.js';
import { degenerateOf, labelMetricsAndConfusion, meanMetrics, METRIC_FIELDS, type Degenerate, type LabelMetrics, type MeanMetrics } from './metrics.js';
import type { ThresholdRule } from './threshold.js';

type Nullable<T> = { [K in keyof T]: number | null };

export interface LabelResult {
  label: string;
  positives: number;
  negatives: number;
  metrics: Nullable<LabelMetrics>;
  /** Bootstrap intervals per metric, when requested. */
  ci: Record<keyof LabelMetrics, Interval | null> | null;
  /** The threshold predicts every volume negative (`all_negative`) or positive (`all_positive`); null otherwise. */
  degenerate: Degenerate;
  /** Bootstrap resamples in which the label had one class: skipped for its intervals (null without a bootstrap). */
  singleClassResamples: number | null;
}

export interface EvalResults {
  volumes: number;
  threshold: ThresholdRule;
  labels: LabelResult[];
  mean: Nullable<MeanMetrics>;
  meanCi: Record<keyof MeanMetrics, Interval | null> | null;
  /** Labels with a single class in the evaluated set: AUROC undefined, left out of the mean. */
  aurocExcluded: string[];
  bootstrap: BootstrapSettings | null;
}

export interface EvalInput {
  /** Label names in column order. */
  labels: readonly string[];
  /** Per volume, per label: P(present). */
  scores: readonly ArrayLike<number>[];
  /** Per volume, per label: 0 or 1. */
  truth: readonly ArrayLike<number>[];
}

// NaN (undefined) and youden's +inf threshold (predict nothing) are null in JSON.
const orNull = (x: number): number | null => (Number.isFinite(x) ? x : null);
function nullable<T extends object>(o: T): Nullable<T> {
  return Object.fromEntries(Object.entries(o).map(([k, v]) => [k, orNull(v as number)])) as Nullable<T>;
}

export function evaluateScores(input: EvalInput, spec: Pick<EvaluateSpec, 'threshold' | 'bootstrap'>): EvalResults {
  const N = input.scores.length;
  if (input.truth.length !== N) throw new Error(`evaluateScores: ${N} score rows but ${input.truth.length} label rows`);
  const ranked = input.labels.map((_, l) => rankLabel(
    Float64Array.from(input.scores, (row) => row[l]!),
    Uint8Array.from(input.truth, (row) => row[l]!),
  ));
  const full = ranked.map((r) => labelMetricsAndConfusion(groupTotals(r, null), spec.threshold));
  const per = full.map((f) => f.metrics);
  const boot = spec.bootstrap ? bootstrap(ranked, spec.threshold, spec.bootstrap) : null;
  const labels = input.labels.map((label, l): LabelResult => {
    const pos = ranked[l]!.truth.reduce((a, b) => a + b, 0);
    return {
      label, positives: pos, negatives: N - pos, metrics: nullable(per[l]!), ci: boot ? boot.labels[l]! : null,
      degenerate: degenerateOf(full[l]!.confusion), singleClassResamples: boot ? boot.singleClassReplicates[l]! : null,
    };
  });
  return {
    volumes: N,
    threshold: spec.threshold,
    labels,
    mean: nullable(meanMetrics(per)),
    meanCi: boot ? boot.mean : null,
    aurocExcluded: input.labels.filter((_, l) => Number.isNaN(per[l]!.auroc)),
    bootstrap: spec.bootstrap ? { ...spec.bootstrap } : null,
  };
}

/** The threshold, marked `*` (predicts no volume present) or `+` (predicts every volume present)
 *  when it is degenerate; youden's +inf threshold shows as `inf*`. */
export function thresholdCell(l: Pick<LabelResult, 'metrics' | 'degenerate'>, num: (x: number | null) => string): string {
  const t = l.metrics.threshold === null && l.degenerate === 'all_negative' ? 'inf' : num(l.metrics.threshold);
  return `${t}${l.degenerate === 'all_negative' ? '*' : l.degenerate === 'all_positive' ? '+' : ''}`;
}

/** The legend of the marks, naming the labels; [] when no threshold is degenerate. */
export function degenerateNotes(r: Pick<EvalResults, 'labels'>): string[] {
  const neg = r.labels.filter((l) => l.degenerate === 'all_negative').map((l) => l.label);
  const pos = r.labels.filter((l) => l.degenerate === 'all_positive').map((l) => l.label);
  const out: string[] = [];
  if (neg.length) out.push(`* degenerate threshold, predicts no volume present (accuracy = share of negatives, F1 0): ${neg.join(', ')}`);
  if (pos.length) out.push(`+ degenerate threshold, predicts every volume present: ${pos.join(', ')}`);
  return out;
}

const HEADINGS: Record<Metric, string> = {
  auroc: 'AUROC', accuracy: 'Acc', precision: 'Prec', recall: 'Recall', specificity: 'Spec', macro_f1: 'F1', weighted_f1: 'wF1',
};
const ALL_METRICS: Metric[] = ['auroc', 'accuracy', 'precision', 'recall', 'specificity', 'macro_f1', 'weighted_f1'];

/**
 * Renders results as an aligned text table or GitHub markdown: one row per label, then the mean
 * row (the F1 column's mean is the macro-F1; wF1's is CT-CLIP's averaged weighted F1).
 */
export function renderTable(r: EvalResults, opts: { format?: 'text' | 'markdown'; metrics?: readonly Metric[]; digits?: number } = {}): string {
  const metrics = opts.metrics ?? ALL_METRICS;
  const digits = opts.digits ?? 3;
  const num = (x: number | null): string => (x === null ? '—' : x.toFixed(digits));
  const withCi = (x: number | null, ci: Interval | null | undefined): string => (ci ? `${num(x)} [${num(ci[0])}, ${num(ci[1])}]` : num(x));
  const showThreshold = metrics.some((m) => m !== 'auroc');
  const head = ['Label', 'Pos/N', ...(showThreshold ? ['Thr'] : []), ...metrics.map((m) => HEADINGS[m])];
  const rows = r.labels.map((l) => [
    l.label, `${l.positives}/${l.positives + l.negatives}`,
    ...(showThreshold ? [thresholdCell(l, num)] : []),
    ...metrics.map((m) => withCi(l.metrics[METRIC_FIELDS[m].label], l.ci?.[METRIC_FIELDS[m].label])),
  ]);
  rows.push([
    `Mean (${r.labels.length} labels)`, `${r.volumes} vols`, ...(showThreshold ? [''] : []),
    ...metrics.map((m) => withCi(r.mean[METRIC_FIELDS[m].mean], r.meanCi?.[METRIC_FIELDS[m].mean])),
  ]);
  const notes: string[] = [];
  if (r.aurocExcluded.length > 0) notes.push(`AUROC undefined (one class only), left out of the mean: ${r.aurocExcluded.join(', ')}`);
  if (r.bootstrap) notes.push(`[lo, hi]: ${Math.round(r.bootstrap.confidence * 100)}% percentile bootstrap, ${r.bootstrap.samples} resamples, seed ${r.bootstrap.seed}`);
  const rule = r.threshold.kind === 'fixed' ? `fixed ${r.threshold.value}` : r.threshold.kind;
  notes.push(`threshold: ${rule}; predict present when P(present) ${r.threshold.kind === 'youden' ? '>=' : '>'} threshold${r.threshold.kind === 'youden' ? ' (exact ROC, scikit-learn roc_curve)' : r.threshold.kind === 'roc_corner' ? ' (CT-CLIP grid linspace(0, 1, 100))' : ''}`);
  notes.push(...degenerateNotes(r));
  const skipped = r.labels.filter((l) => (l.singleClassResamples ?? 0) > 0);
  if (r.bootstrap && skipped.length) {
    notes.push(`single-class resamples skipped for that label's intervals (skip and count): ${skipped.map((l) => `${l.label} ${l.singleClassResamples}/${r.bootstrap!.samples}`).join(', ')}`);
  }

  if (opts.format === 'markdown') {
    const line = (cells: string[]): string => `| ${cells.map((c) => c.replace(/\|/g, '\\|')).join(' | ')} |`;
    return [line(head), line(head.map((_, i) => (i < 2 ? '---' : '---:'))), ...rows.map(line), '', ...notes.map((n) => `- ${n}`)].join('\n') + '\n';
  }
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]!.length)));
  const fmt = (cells: string[]): string => cells.map((c, i) => (i < 2 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ').trimEnd();
  const rule2 = widths.map((w) => '-'.repeat(w)).join('  ');
  return [fmt(head), rule2, ...rows.slice(0, -1).map(fmt), rule2, fmt(rows[rows.length - 1]!), '', ...notes].join('\n') + '\n';
}
