// Classification metrics at a threshold, per label and averaged over labels.
//
// Which F1 is which (they differ, which is why CT-CLIP and MedCT-VLM numbers are not comparable):
//  - `f1` (per label): binary F1 of the positive class, 2TP / (2TP + FP + FN).
//  - `weightedF1` (per label): sklearn f1_score(average='weighted') on that label: the F1 of the
//    positive class and the F1 of the negative class (2TN / (2TN + FN + FP)), averaged with
//    weights = their supports (P and N). CT-CLIP reports this, averaged over labels.
//  - `macroF1` (over labels): the unweighted mean over labels of the binary `f1` (MedCT-VLM).
// Undefined ratios (0/0: no predicted positives for precision, etc.) are 0, like sklearn's
// zero_division default. AUROC of a single-class label is NaN, reported, and left out of means.
import type { Metric } from '../../compiler/ir/experiment.js';
import { aurocFromGroups, confusionSweep, type Confusion, type GroupTotals } from './ranking.js';
import { below, inclusive, selectThreshold, type ThresholdRule } from './threshold.js';

export interface LabelMetrics {
  auroc: number;
  threshold: number;
  accuracy: number;
  precision: number;
  recall: number;
  specificity: number;
  f1: number;
  weightedF1: number;
}

export interface MeanMetrics {
  /** Mean over labels whose AUROC is defined. */
  auroc: number;
  accuracy: number;
  precision: number;
  recall: number;
  specificity: number;
  /** Mean over labels of the binary F1 (MedCT-VLM's macro-F1). */
  macroF1: number;
  /** Mean over labels of the per-label support-weighted F1 (CT-CLIP's F1). */
  weightedF1: number;
}

/** MeanMetrics' fields, in report order (the columns a bootstrap or a paired change fills). */
export const MEAN_METRIC_KEYS: readonly (keyof MeanMetrics)[] = ['auroc', 'accuracy', 'precision', 'recall', 'specificity', 'macroF1', 'weightedF1'];

/** The metric names of the IR mapped to where their value lives: per label and in the mean. */
export const METRIC_FIELDS: Readonly<Record<Metric, { label: keyof LabelMetrics; mean: keyof MeanMetrics }>> = {
  auroc: { label: 'auroc', mean: 'auroc' },
  accuracy: { label: 'accuracy', mean: 'accuracy' },
  precision: { label: 'precision', mean: 'precision' },
  recall: { label: 'recall', mean: 'recall' },
  specificity: { label: 'specificity', mean: 'specificity' },
  macro_f1: { label: 'f1', mean: 'macroF1' },
  weighted_f1: { label: 'weightedF1', mean: 'weightedF1' },
};

const ratio = (a: number, b: number): number => (b === 0 ? 0 : a / b);

export function metricsFromConfusion(c: Confusion): Omit<LabelMetrics, 'auroc' | 'threshold'> {
  const { tp, fp, tn, fn } = c;
  const P = tp + fn, N = tn + fp;
  const f1 = ratio(2 * tp, 2 * tp + fp + fn);
  const f1Neg = ratio(2 * tn, 2 * tn + fn + fp);
  return {
    accuracy: ratio(tp + tn, P + N),
    precision: ratio(tp, tp + fp),
    recall: ratio(tp, P),
    specificity: ratio(tn, N),
    f1,
    weightedF1: ratio(P * f1 + N * f1Neg, P + N),
  };
}

/** Every per-label metric for one label's weighted groups; `threshold` overrides the rule when given. */
export function labelMetrics(g: GroupTotals, rule: ThresholdRule, threshold?: number): LabelMetrics {
  return labelMetricsAndConfusion(g, rule, threshold).metrics;
}

/** labelMetrics with the confusion counts at the threshold (what `degenerate` reads). */
export function labelMetricsAndConfusion(g: GroupTotals, rule: ThresholdRule, threshold?: number): { metrics: LabelMetrics; confusion: Confusion } {
  const t = threshold ?? selectThreshold(g, rule);
  // youden predicts present when P >= t (roc_curve's convention); the others when P > t.
  const [c] = confusionSweep(g, [inclusive(rule) ? below(t) : t]);
  return { metrics: { auroc: aurocFromGroups(g), threshold: t, ...metricsFromConfusion(c!) }, confusion: c! };
}

/** A threshold that predicts every volume negative (nothing present) or every volume positive. */
export type Degenerate = 'all_negative' | 'all_positive' | null;

export function degenerateOf(c: Confusion): Degenerate {
  if (c.tp + c.fp === 0) return 'all_negative';
  if (c.tn + c.fn === 0) return 'all_positive';
  return null;
}

export function meanMetrics(per: readonly LabelMetrics[]): MeanMetrics {
  const mean = (f: (m: LabelMetrics) => number): number => {
    const xs = per.map(f).filter((x) => !Number.isNaN(x));
    return xs.length === 0 ? NaN : xs.reduce((a, b) => a + b, 0) / xs.length;
  };
  return {
    auroc: mean((m) => m.auroc),
    accuracy: mean((m) => m.accuracy),
    precision: mean((m) => m.precision),
    recall: mean((m) => m.recall),
    specificity: mean((m) => m.specificity),
    macroF1: mean((m) => m.f1),
    weightedF1: mean((m) => m.weightedF1),
  };
}
