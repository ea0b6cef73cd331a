// The report's charts from a run folder's files: per-pathology ROC curves before and after
// (scikit-learn's roc_curve on scores.baseline.csv / scores.csv, runtime/eval/threshold.ts), and
// the training curves (loss, learning rate, gradient norm) from train_log.jsonl.
import { groupTotals, rankLabel } from '../../runtime/eval/index.js';
import { rocCurve } from '../../runtime/eval/threshold.js';
import { yRange, type Chart, type Series } from './chart.js';
import type { RunFolder, TrainLogLine } from './folder.js';
import type { ScoreTable } from '../review/metrics.js';

export const COLORS = { before: '#7b8794', after: '#d9480f', loss: '#1c7ed6', smooth: '#0b3d6e', lr: '#2b8a3e', grad: '#7048e8' } as const;

const ROC_SIZE = { width: 300, height: 262 };

/** The ROC of label `l` of a score table; null when the label has one class (no curve exists). */
function roc(t: ScoreTable, l: number): { points: [number, number][]; auc: number } | null {
  const r = rankLabel(Float64Array.from(t.scores, (row) => row[l]!), Uint8Array.from(t.truth, (row) => row[l]!));
  const g = groupTotals(r, null);
  if (g.P === 0 || g.N === 0) return null;
  const c = rocCurve(g);
  const points = c.fpr.map((x, i): [number, number] => [x, c.tpr[i]!]);
  let auc = 0;
  for (let i = 1; i < points.length; i++) auc += (points[i]![0] - points[i - 1]![0]) * (points[i]![1] + points[i - 1]![1]) / 2;
  return { points, auc };
}

export const chartId = (kind: string, label: string): string => `${kind}-${label.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '')}`;

/** One ROC chart per label of scores.csv, the baseline's curve beside the final one when present. */
export function rocCharts(f: Pick<RunFolder, 'scores' | 'baselineScores' | 'metrics'>): Chart[] {
  const t = f.scores;
  if (!t) return [];
  const beforeName = 'before', afterName = f.metrics?.finalModel === 'base' ? 'base model' : 'after';
  return t.labels.map((label, l) => {
    const series: Series[] = [];
    const after = roc(t, l);
    const bl = f.baselineScores ? f.baselineScores.labels.indexOf(label) : -1;
    const before = bl >= 0 ? roc(f.baselineScores!, bl) : null;
    if (before) series.push({ name: `${beforeName} ${before.auc.toFixed(3)}`, color: COLORS.before, points: before.points, dash: true });
    if (after) series.push({ name: `${afterName} ${after.auc.toFixed(3)}`, color: COLORS.after, points: after.points });
    return {
      id: chartId('roc', label), title: label, xLabel: 'false positive rate', yLabel: 'true positive rate', ...ROC_SIZE,
      x: [0, 1], y: [0, 1], series, diagonal: true, legendAt: 'bottom', empty: after ? undefined : 'one class only: no ROC curve',
    } satisfies Chart;
  });
}

/** Trailing moving average over `w` steps (the first points average what there is). */
export function movingAverage(ys: readonly number[], w: number): number[] {
  const out: number[] = [];
  let s = 0;
  for (let i = 0; i < ys.length; i++) {
    s += ys[i]!;
    if (i >= w) s -= ys[i - w]!;
    out.push(s / Math.min(i + 1, w));
  }
  return out;
}

const TRAIN_SIZE = { width: 420, height: 262 };

/** Loss (per step and smoothed), learning rate and gradient norm against the step. */
export function trainingCharts(log: readonly TrainLogLine[], gradClip: number | null = null): Chart[] {
  if (log.length === 0) return [];
  const steps = log.map((l) => l.step);
  const x: [number, number] = [Math.min(...steps), Math.max(Math.max(...steps), Math.min(...steps) + 1)];
  const w = Math.max(1, Math.round(log.length / 40));
  const loss: Series[] = [{ name: 'per step', color: COLORS.loss, points: log.map((l) => [l.step, l.loss]), width: 1 }];
  if (w > 1) loss.push({ name: `mean of ${w} steps`, color: COLORS.smooth, points: movingAverage(log.map((l) => l.loss), w).map((v, i) => [steps[i]!, v]), width: 2 });
  const lr: Series[] = [{ name: 'learning rate', color: COLORS.lr, points: log.map((l) => [l.step, l.lr]) }];
  const recorded = log.filter((l) => typeof l.gradNorm === 'number');
  const grad: Series[] = recorded.length ? [{ name: 'before clipping', color: COLORS.grad, points: recorded.map((l) => [l.step, l.gradNorm!]), width: 1.25 }] : [];
  // train.grad_clip: gradients above the line were scaled down to it.
  if (recorded.length && gradClip !== null) grad.push({ name: `grad_clip ${gradClip}`, color: '#c92a2a', points: [[x[0], gradClip], [x[1], gradClip]], dash: true, width: 1.25 });
  return [
    { id: 'train-loss', title: 'training loss', xLabel: 'step', yLabel: 'loss', ...TRAIN_SIZE, x, y: yRange(loss), series: loss },
    { id: 'train-lr', title: 'learning rate', xLabel: 'step', yLabel: 'learning rate', ...TRAIN_SIZE, x, y: yRange(lr, { zero: true }), series: lr, legend: false },
    {
      id: 'train-grad-norm', title: 'gradient norm (global L2, before grad_clip)', xLabel: 'step', yLabel: 'gradient norm', ...TRAIN_SIZE, x,
      y: yRange(grad, { zero: true }), series: grad, legend: grad.length > 1, empty: recorded.length ? undefined : 'not recorded in this train_log.jsonl',
    },
  ];
}
