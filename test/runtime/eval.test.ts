import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  auroc, rankLabel, groupTotals, selectThreshold, THRESHOLD_GRID, labelMetrics, meanMetrics, pairProbability,
  zeroShotScores, evaluateScores, renderTable, bootstrap, percentile, scoresCsv, type LabelMetrics,
} from '../../runtime/eval/index.js';
import { Rng } from '../../runtime/util/rng.js';
import { expectDiagnostic } from './helpers.js';

/** Independent AUROC: trapezoid rule over the ROC curve traced through every distinct score. */
function trapezoidAuroc(scores: number[], truth: number[]): number {
  const P = truth.filter((t) => t === 1).length, N = truth.length - P;
  if (P === 0 || N === 0) return NaN;
  const cuts = [...new Set(scores)].sort((a, b) => b - a);
  let area = 0, prevTpr = 0, prevFpr = 0;
  for (const c of cuts) {
    const tp = scores.filter((s, i) => s >= c && truth[i] === 1).length;
    const fp = scores.filter((s, i) => s >= c && truth[i] === 0).length;
    const tpr = tp / P, fpr = fp / N;
    area += ((fpr - prevFpr) * (tpr + prevTpr)) / 2;
    prevTpr = tpr; prevFpr = fpr;
  }
  return area;
}

const totals = (s: number[], t: number[]) => groupTotals(rankLabel(s, t), null);

describe('scoring', () => {
  it('P(present) = softmax(exp(T) * cos) over the pair', () => {
    // cos 1 and 0, scale exp(ln 2) = 2: e^2 / (e^2 + e^0)
    expect(pairProbability([3, 0], [1, 0], [0, 5], Math.log(2))).toBeCloseTo(Math.exp(2) / (Math.exp(2) + 1), 12);
    expect(pairProbability([0, 0], [1, 0], [0, 1], 4)).toBe(0.5); // zero latent: cos 0 for both
    // a huge scale must not overflow to NaN
    expect(pairProbability([1, 0], [0, 1], [1, 0], 1000)).toBe(0);
    const s = zeroShotScores([[1, 0], [0, 1]], [[1, 0], [0, 1]], [[0, 1], [1, 0]], 0);
    expect(s.map((r) => [...r].map((x) => +x.toFixed(6)))).toEqual([[0.731059, 0.268941], [0.268941, 0.731059]]);
    expectDiagnostic(() => zeroShotScores([[NaN, 0]], [[1, 0]], [[0, 1]], 0, { volumeNames: ['valid_1_a_1'], source: 'ckpt.safetensors' }), 'E5570', ['valid_1_a_1', 'ckpt.safetensors']);
  });
});

describe('AUROC', () => {
  it('hand cases, including ties and a single class', () => {
    expect(auroc([0.1, 0.4, 0.35, 0.8], [0, 0, 1, 1])).toBe(0.75);
    // pos 0.6 beats neg 0.2 (1) and ties neg 0.6 (1/2); pos 0.9 beats both (2): 3.5 / 4
    expect(auroc([0.2, 0.6, 0.6, 0.9], [0, 0, 1, 1])).toBe(0.875);
    expect(auroc([0.5, 0.5, 0.5, 0.5], [0, 1, 0, 1])).toBe(0.5);
    expect(auroc([0.9, 0.1], [0, 1])).toBe(0);
    expect(auroc([0.1, 0.2], [1, 1])).toBeNaN();
  });
  it('property: agrees with the trapezoid rule over the ROC curve', () => {
    fc.assert(fc.property(
      fc.array(fc.tuple(fc.integer({ min: 0, max: 12 }), fc.integer({ min: 0, max: 1 })), { minLength: 1, maxLength: 60 }),
      (pairs) => {
        const s = pairs.map(([x]) => x / 12), t = pairs.map(([, y]) => y);
        const a = auroc(s, t), b = trapezoidAuroc(s, t);
        if (Number.isNaN(b)) expect(a).toBeNaN();
        else expect(a).toBeCloseTo(b, 12);
      },
    ), { numRuns: 400, seed: 42 });
  });
});

describe('thresholds', () => {
  it('grid is numpy.linspace(0, 1, 100)', () => {
    expect(THRESHOLD_GRID.length).toBe(100);
    expect(THRESHOLD_GRID[0]).toBe(0);
    expect(THRESHOLD_GRID[1]).toBe(1 / 99);
    expect(THRESHOLD_GRID[50]).toBe(50 * (1 / 99));
    expect(THRESHOLD_GRID[99]).toBe(1);
  });
  it('roc_corner: perfect separation anywhere in [0.4, 0.6): the tie goes to the largest, 59/99', () => {
    const g = totals([0.1, 0.4, 0.6, 0.9], [0, 0, 1, 1]);
    expect(selectThreshold(g, { kind: 'roc_corner' })).toBe(THRESHOLD_GRID[59]);
    // youden on the exact ROC: thresholds [inf, 0.9, 0.6, 0.1] (0.4 is collinear, dropped), J [0, .5, 1, 0].
    expect(selectThreshold(g, { kind: 'youden' })).toBe(0.6);
  });
  it('roc_corner: distance 1 at both ends (t < 0.3 and t >= 0.7), sqrt 2 between: larger end, t = 1', () => {
    const g = totals([0.3, 0.7], [1, 0]);
    expect(selectThreshold(g, { kind: 'roc_corner' })).toBe(1);
    // exact ROC: thresholds [inf, 0.7, 0.3], J [0, -1, 0]: the first maximum is +inf (predict nothing).
    expect(selectThreshold(g, { kind: 'youden' })).toBe(Infinity);
  });
  it('roc_corner vs youden disagree where the distance and J rank points differently', () => {
    // 10 positives, 10 negatives. Operating points reachable on the grid (TPR, FPR):
    // t in [0.2, 0.5): (1.0, 0.6): d = 0.6,  J = 0.4
    // t in [0.5, 0.8): (0.6, 0.1): d = sqrt(0.16 + 0.01) = 0.412, J = 0.5
    const s = [...Array(4).fill(0.1), ...Array(6).fill(0.9), ...Array(3).fill(0.3), ...Array(5).fill(0.6), 0.9, 0.95];
    const t = [...Array(4).fill(0), ...Array(6).fill(1), ...Array(3).fill(0), ...Array(5).fill(0), 0, 0];
    // negatives: 4 at 0.1, 3 at 0.3, 5 at 0.6, 2 at >= 0.9 -> 14; positives 6 at 0.9
    const g = totals(s, t);
    expect(g.P).toBe(6);
    expect(g.N).toBe(14);
    // t in [0.6, 0.9): TPR 1, FPR 2/14 -> d = 0.1429, J = 0.857 (best for both) -> largest grid t < 0.9 is 89/99
    expect(selectThreshold(g, { kind: 'roc_corner' })).toBe(THRESHOLD_GRID[89]);
    // exact ROC: P >= 0.9 gives TPR 1, FPR 2/14, the best J.
    expect(selectThreshold(g, { kind: 'youden' })).toBe(0.9);
    expect(selectThreshold(g, { kind: 'fixed', value: 0.25 })).toBe(0.25);
  });
  it('single-class label: threshold 0 (CT-CLIP never updates its initial value)', () => {
    expect(selectThreshold(totals([0.2, 0.8], [0, 0]), { kind: 'roc_corner' })).toBe(0);
  });
});

describe('metrics at a threshold', () => {
  // preds at t = 0.5 (strict >): [0, 1, 1, 1, 0] vs truth [0, 1, 0, 1, 1]: TP 2, FP 1, FN 1, TN 1
  const s = [0.2, 0.6, 0.7, 0.9, 0.3], t = [0, 1, 0, 1, 1];
  it('hand values for every metric and both F1 variants', () => {
    const m = labelMetrics(totals(s, t), { kind: 'fixed', value: 0.5 });
    expect(m.accuracy).toBeCloseTo(3 / 5, 12);
    expect(m.precision).toBeCloseTo(2 / 3, 12);
    expect(m.recall).toBeCloseTo(2 / 3, 12);
    expect(m.specificity).toBeCloseTo(1 / 2, 12);
    expect(m.f1).toBeCloseTo(2 / 3, 12); // 2TP / (2TP + FP + FN) = 4/6
    // negative-class F1 = 2TN / (2TN + FN + FP) = 2/4; weighted by supports 3 and 2: (3*2/3 + 2*1/2) / 5
    expect(m.weightedF1).toBeCloseTo(0.6, 12);
    // AUROC: positives 0.6, 0.9, 0.3 vs negatives 0.2, 0.7 -> (1 + 2 + 1) / 6
    expect(m.auroc).toBeCloseTo(4 / 6, 12);
  });
  it('the comparison is strict: a score equal to the threshold is negative', () => {
    const m = labelMetrics(totals(s, t), { kind: 'fixed', value: 0.6 });
    expect(m.recall).toBeCloseTo(1 / 3, 12); // only 0.9
    expect(m.precision).toBeCloseTo(1 / 2, 12); // 0.7 and 0.9 predicted
  });
  it('zero division gives 0, and macro-F1 is the plain mean of binary F1 over labels', () => {
    const none = labelMetrics(totals([0.1, 0.2, 0.3], [0, 1, 1]), { kind: 'fixed', value: 0.9 });
    expect(none.precision).toBe(0);
    expect(none.f1).toBe(0);
    // all predicted negative: TP 0, FP 0, FN 2, TN 1; negative-class F1 = 2*1 / (2*1 + 2 + 0) = 1/2
    expect(none.weightedF1).toBeCloseTo((2 * 0 + 1 * 0.5) / 3, 12);
    const a = labelMetrics(totals(s, t), { kind: 'fixed', value: 0.5 });
    const mean = meanMetrics([a, none]);
    expect(mean.macroF1).toBeCloseTo((2 / 3 + 0) / 2, 12);
    const single = labelMetrics(totals([0.1, 0.2], [1, 1]), { kind: 'roc_corner' });
    expect(meanMetrics([a, single]).auroc).toBeCloseTo(a.auroc, 12); // NaN left out
  });
});

describe('bootstrap', () => {
  it('percentile matches numpy (linear interpolation)', () => {
    expect(percentile([1, 2, 3, 4], 0.25)).toBe(1.75);
    expect(percentile([1, 2, 3, 4], 0.975)).toBeCloseTo(3.925, 12);
    expect(percentile([5], 0.5)).toBe(5);
  });
  it('agrees with a brute-force bootstrap that materialises each resample', () => {
    const rng = new Rng(9);
    const n = 40;
    const s = Array.from({ length: n }, () => Math.round(rng.uniform() * 20) / 20);
    const t = s.map((x) => (rng.uniform() < 0.3 + 0.5 * x ? 1 : 0));
    const settings = { samples: 200, confidence: 0.9, seed: 5 };
    const got = bootstrap([rankLabel(s, t)], { kind: 'roc_corner' }, settings);
    // Same draws: Rng(seed, 'bootstrap'), n uniform indices per replicate.
    const draw = new Rng(5, 'bootstrap');
    const aucs: number[] = [];
    for (let b = 0; b < settings.samples; b++) {
      const idx = Array.from({ length: n }, () => draw.int(n));
      const a = trapezoidAuroc(idx.map((i) => s[i]!), idx.map((i) => t[i]!));
      if (!Number.isNaN(a)) aucs.push(a);
    }
    aucs.sort((a, b) => a - b);
    const lo = percentile(aucs, 0.05), hi = percentile(aucs, 0.95);
    expect(got.labels[0]!.auroc![0]).toBeCloseTo(lo, 12);
    expect(got.labels[0]!.auroc![1]).toBeCloseTo(hi, 12);
    expect(got.mean.auroc![0]).toBeCloseTo(lo, 12);
    const again = bootstrap([rankLabel(s, t)], { kind: 'roc_corner' }, settings);
    expect(again).toEqual(got);
    const other = bootstrap([rankLabel(s, t)], { kind: 'roc_corner' }, { ...settings, seed: 6 });
    expect(other.labels[0]!.auroc).not.toEqual(got.labels[0]!.auroc);
  });
});

describe('results object and table', () => {
  const labels = ['Emphysema', 'Atelectasis', 'Rare'];
  const scores = [[0.9, 0.65, 0.5], [0.8, 0.7, 0.4], [0.3, 0.6, 0.3], [0.1, 0.1, 0.2]];
  const truth = [[1, 0, 0], [1, 1, 0], [0, 1, 0], [0, 0, 0]];
  const r = evaluateScores({ labels, scores, truth }, { threshold: { kind: 'roc_corner' }, bootstrap: { samples: 50, confidence: 0.95, seed: 1 } });
  it('per-label values, means, and the single-class label reported', () => {
    expect(r.volumes).toBe(4);
    // Atelectasis: positives 0.7, 0.6 vs negatives 0.65, 0.1 -> (2 + 1) / 4
    expect(r.labels.map((l) => l.metrics.auroc)).toEqual([1, 0.75, null]);
    expect(r.labels.map((l) => [l.positives, l.negatives])).toEqual([[2, 2], [2, 2], [0, 4]]);
    expect(r.aurocExcluded).toEqual(['Rare']);
    expect(r.mean.auroc).toBeCloseTo(0.875, 12);
    const f1s = r.labels.map((l) => l.metrics.f1 as number);
    expect(r.mean.macroF1).toBeCloseTo((f1s[0]! + f1s[1]! + f1s[2]!) / 3, 12);
    expect(r.labels[0]!.metrics.threshold).toBe(THRESHOLD_GRID[79]); // perfect for t in [0.3, 0.8): largest grid point 79/99
  });
  it('a label with one class overall enters every replicate as it enters the point estimate', () => {
    // 'Rare' has no positive: CT-CLIP's grid rule falls back to threshold 0 (every volume predicted
    // present), accuracy 0, on all volumes and on every resample. So each replicate's mean accuracy
    // is half the other label's, and the mean's interval is half that label's interval; skipping
    // 'Rare' in the replicates only would put the point estimate (which averages both) outside it.
    const rng = new Rng(5, 'single-class-overall');
    const n = 40;
    const sc = Array.from({ length: n }, () => [rng.uniform(), rng.uniform()]);
    const tr = Array.from({ length: n }, (_, i) => [i % 2, 0]);
    const q = evaluateScores({ labels: ['Common', 'Rare'], scores: sc, truth: tr },
      { threshold: { kind: 'roc_corner' }, bootstrap: { samples: 200, confidence: 0.95, seed: 3 } });
    expect(q.labels[1]!.metrics.accuracy).toBe(0);
    expect(q.labels[0]!.singleClassResamples).toBe(0);
    expect(q.labels[1]!.singleClassResamples).toBe(0);
    expect(q.mean.accuracy).toBeCloseTo(q.labels[0]!.metrics.accuracy! / 2, 12);
    const [lo, hi] = q.labels[0]!.ci!.accuracy!;
    expect(q.meanCi!.accuracy![0]).toBeCloseTo(lo / 2, 12);
    expect(q.meanCi!.accuracy![1]).toBeCloseTo(hi / 2, 12);
    expect(q.mean.accuracy!).toBeGreaterThanOrEqual(q.meanCi!.accuracy![0]);
    expect(q.mean.accuracy!).toBeLessThanOrEqual(q.meanCi!.accuracy![1]);
    expect(renderTable(q)).not.toContain('single-class resamples skipped');
  });
  it('JSON has no NaN and round-trips', () => {
    const json = JSON.stringify(r);
    expect(json).not.toContain('NaN');
    expect(JSON.parse(json)).toEqual(r);
  });
  it('renders text and markdown tables', () => {
    const text = renderTable(r, { metrics: ['auroc', 'weighted_f1'] });
    const lines = text.split('\n');
    expect(lines[0]).toMatch(/^Label\s+Pos\/N\s+Thr\s+AUROC\s+wF1$/);
    expect(text).toContain('Emphysema');
    expect(text).toMatch(/Rare\s+0\/4\s+0\.000\+\s+—/); // threshold 0 on a label without positives: every volume predicted present
    expect(text).toMatch(/Mean \(3 labels\)\s+4 vols\s+0\.875 \[/);
    expect(text).toContain('left out of the mean: Rare');
    const md = renderTable(r, { format: 'markdown', metrics: ['auroc'] });
    expect(md.split('\n').slice(0, 2)).toEqual(['| Label | Pos/N | AUROC |', '| --- | --- | ---: |']);
    expect(md).toContain('| Emphysema | 2/4 | 1.000 [1.000, 1.000] |');
  });
});

// keep the type import honest
const _t: keyof LabelMetrics = 'f1';
void _t;

describe('against an independent Python oracle (scipy Mann-Whitney, CT-CLIP find_threshold loop)', () => {
  type Ref = { name: string; scores: number[]; truth: number[] } & Record<'auroc' | 'threshold' | 'accuracy' | 'precision' | 'recall' | 'specificity' | 'f1' | 'weightedF1', number>;
  const ref = JSON.parse(readFileSync(new URL('./fixtures/eval_reference.json', import.meta.url), 'utf8')) as { labels: Ref[] };
  for (const l of ref.labels) {
    it(`label "${l.name}"`, () => {
      const m = labelMetrics(totals(l.scores, l.truth), { kind: 'roc_corner' });
      expect(m.threshold).toBe(l.threshold);
      for (const k of ['auroc', 'accuracy', 'precision', 'recall', 'specificity', 'f1', 'weightedF1'] as const) {
        expect(m[k], k).toBeCloseTo(l[k], 12);
      }
    });
  }
});

describe('scores CSV', () => {
  it('writes exact scores and truth per volume, quoting where needed', () => {
    const csv = scoresCsv(['v1', 'a,b'], ['Lung nodule', 'Emphysema'], [[0.1, 1 / 3], [0.5, 0]], [[0, 1], [1, 0]]);
    expect(csv).toBe('VolumeName,Lung nodule,Lung nodule (truth),Emphysema,Emphysema (truth)\nv1,0.1,0,0.3333333333333333,1\n"a,b",0.5,1,0,0\n');
  });
});

describe('threshold search vs a naive loop (property)', () => {
  /** CT-CLIP's loop, literally: per threshold, classify every sample. */
  function naive(scores: number[], truth: number[], kind: 'roc_corner' | 'youden'): number {
    let best = 0, bestValue = kind === 'roc_corner' ? 10000 : -Infinity;
    for (let i = 0; i < 100; i++) {
      const t = i === 99 ? 1 : i * (1 / 99);
      let tp = 0, fp = 0, tn = 0, fn = 0;
      scores.forEach((s, j) => {
        const p = s > t;
        if (truth[j] === 1) { if (p) tp++; else fn++; } else if (p) fp++; else tn++;
      });
      const tpr = tp / (tp + fn), fpr = fp / (fp + tn);
      const v = kind === 'roc_corner' ? Math.sqrt((1 - tpr) ** 2 + fpr ** 2) : tpr - fpr;
      if (kind === 'roc_corner' ? v <= bestValue : v >= bestValue) { bestValue = v; best = t; }
    }
    return best;
  }
  /** Youden on the exact ROC, literally: every distinct score as a threshold (P >= t), from the top, first maximum; +inf first. */
  function naiveYouden(scores: number[], truth: number[]): number {
    const P = truth.filter((y) => y === 1).length, N = truth.length - P;
    if (P === 0 || N === 0) return 0;
    let best = Infinity, bestJ = 0;
    for (const t of [...new Set(scores)].sort((a, b) => b - a)) {
      const tpr = scores.filter((s, j) => truth[j] === 1 && s >= t).length / P;
      const fpr = scores.filter((s, j) => truth[j] === 0 && s >= t).length / N;
      if (tpr - fpr > bestJ) { bestJ = tpr - fpr; best = t; }
    }
    return best;
  }
  it('same threshold for both rules on random data with ties and grid-point scores', () => {
    fc.assert(fc.property(
      fc.array(fc.tuple(fc.oneof(fc.integer({ min: 0, max: 99 }).map((i) => i * (1 / 99)), fc.double({ min: 0, max: 1, noNaN: true })), fc.integer({ min: 0, max: 1 })), { minLength: 2, maxLength: 40 }),
      (pairs) => {
        const s = pairs.map(([x]) => x), t = pairs.map(([, y]) => y);
        const g = totals(s, t);
        expect(selectThreshold(g, { kind: 'roc_corner' })).toBe(naive(s, t, 'roc_corner'));
        expect(selectThreshold(g, { kind: 'youden' })).toBe(naiveYouden(s, t));
      },
    ), { numRuns: 300, seed: 11 });
  });
});
