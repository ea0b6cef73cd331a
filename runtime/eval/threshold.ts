// Per-label decision thresholds. Every rule predicts positive when P(present) > t (strict), as
// CT-CLIP's evaluation does.
import type { EvaluateSpec } from '../../compiler/ir/experiment.js';
import { confusionSweep, type GroupTotals } from './ranking.js';

export type ThresholdRule = EvaluateSpec['threshold'];

/** numpy.linspace(0, 1, 100) bit for bit: i * (1/99), with the last point exactly 1. */
export const THRESHOLD_GRID: Float64Array = (() => {
  const step = 1 / 99;
  const g = Float64Array.from({ length: 100 }, (_, i) => i * step);
  g[99] = 1;
  return g;
})();

/**
 * - 'roc_corner' (CT-CLIP's find_threshold, the faithful default): over THRESHOLD_GRID keep the t
 *   minimising sqrt((1 - TPR)^2 + FPR^2), scanning upwards with `<=` so ties go to the larger t;
 *   predict present when P > t.
 * - 'youden': Youden's J = TPR - FPR maximised on the exact ROC: scikit-learn's
 *   `roc_curve(y, s)` (drop_intermediate=True) and `thresholds[argmax(tpr - fpr)]` (the first
 *   maximum, i.e. the largest such threshold); predict present when P >= t, as roc_curve does.
 *   When J is nowhere above 0 that is roc_curve's first threshold, +inf (predict nothing):
 *   Infinity here, null in metrics.json, and the label is flagged degenerate.
 * - 'fixed': the given value.
 * A label with a single class has no TPR or FPR (0/0); CT-CLIP's loop then never updates its
 * initial value, so the threshold is 0, and so it is here (for youden as well).
 */
export function selectThreshold(g: GroupTotals, rule: ThresholdRule): number {
  if (rule.kind === 'fixed') return rule.value;
  if (g.P === 0 || g.N === 0) return 0;
  if (rule.kind === 'youden') return youdenThreshold(g);
  const sweep = confusionSweep(g, THRESHOLD_GRID);
  let best = 0, bestValue = Infinity;
  for (let i = 0; i < sweep.length; i++) {
    const c = sweep[i]!;
    const tpr = c.tp / (c.tp + c.fn), fpr = c.fp / (c.fp + c.tn);
    const d = Math.sqrt((1 - tpr) ** 2 + fpr ** 2);
    if (d <= bestValue) { bestValue = d; best = THRESHOLD_GRID[i]!; }
  }
  return best;
}

/** Does the rule predict present when P >= t (youden, as roc_curve) rather than P > t? */
export const inclusive = (rule: ThresholdRule): boolean => rule.kind === 'youden';

export interface RocCurve { fpr: number[]; tpr: number[]; thresholds: number[] }

/**
 * scikit-learn's `roc_curve(y_true, y_score, sample_weight=w)` with drop_intermediate=True, on a
 * label's weighted groups: thresholds descending from +inf (sklearn >= 1.3), each point
 * "predict present when score >= threshold"; volumes of weight 0 are left out, as sklearn does.
 * Needs both classes (FPR and TPR are 0/0 otherwise).
 */
export function rocCurve(g: GroupTotals): RocCurve {
  const tps: number[] = [], fps: number[] = [], thr: number[] = [];
  let tp = 0, fp = 0;
  for (let k = g.score.length - 1; k >= 0; k--) {
    if (g.pos[k]! === 0 && g.neg[k]! === 0) continue;
    tp += g.pos[k]!; fp += g.neg[k]!;
    tps.push(tp); fps.push(fp); thr.push(g.score[k]!);
  }
  let keep = tps.map((_, i) => i);
  if (tps.length > 2) {
    keep = keep.filter((i) => i === 0 || i === tps.length - 1
      || fps[i + 1]! - 2 * fps[i]! + fps[i - 1]! !== 0 || tps[i + 1]! - 2 * tps[i]! + tps[i - 1]! !== 0);
  }
  const T = tp, F = fp;
  return {
    fpr: [0, ...keep.map((i) => fps[i]! / F)],
    tpr: [0, ...keep.map((i) => tps[i]! / T)],
    thresholds: [Infinity, ...keep.map((i) => thr[i]!)],
  };
}

/** `thresholds[argmax(tpr - fpr)]` on the exact ROC (numpy's argmax: the first maximum). */
export function youdenThreshold(g: GroupTotals): number {
  const roc = rocCurve(g);
  let best = 0;
  for (let i = 1; i < roc.thresholds.length; i++) if (roc.tpr[i]! - roc.fpr[i]! > roc.tpr[best]! - roc.fpr[best]!) best = i;
  return roc.thresholds[best]!;
}

/** The largest double below x: "score > below(t)" is "score >= t". */
export function below(x: number): number {
  if (!Number.isFinite(x)) return x;
  if (x === 0) return -Number.MIN_VALUE;
  const b = new Float64Array([x]);
  const u = new BigInt64Array(b.buffer);
  u[0] = u[0]! + (x > 0 ? -1n : 1n);
  return b[0]!;
}
