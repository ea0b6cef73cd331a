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
 * - 'roc_corner' (CT-CLIP's find_threshold): over THRESHOLD_GRID keep the t minimising
 *   sqrt((1 - TPR)^2 + FPR^2), scanning upwards with `<=` so ties go to the larger t.
 * - 'youden': maximise TPR - FPR over the same grid, ties to the larger t.
 * - 'fixed': the given value.
 * A label with a single class has no TPR or FPR (0/0); CT-CLIP's loop then never updates its
 * initial value, so the threshold is 0, and so it is here.
 */
export function selectThreshold(g: GroupTotals, rule: ThresholdRule): number {
  if (rule.kind === 'fixed') return rule.value;
  if (g.P === 0 || g.N === 0) return 0;
  const sweep = confusionSweep(g, THRESHOLD_GRID);
  let best = 0, bestValue = rule.kind === 'roc_corner' ? Infinity : -Infinity;
  for (let i = 0; i < sweep.length; i++) {
    const c = sweep[i]!;
    const tpr = c.tp / (c.tp + c.fn), fpr = c.fp / (c.fp + c.tn);
    if (rule.kind === 'roc_corner') {
      const d = Math.sqrt((1 - tpr) ** 2 + fpr ** 2);
      if (d <= bestValue) { bestValue = d; best = THRESHOLD_GRID[i]!; }
    } else {
      const j = tpr - fpr;
      if (j >= bestValue) { bestValue = j; best = THRESHOLD_GRID[i]!; }
    }
  }
  return best;
}
