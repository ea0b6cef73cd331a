// The exact ROC and `youden` against scikit-learn (fixtures/roc_sklearn.json, written by
// fixtures/make_roc.py with Debian's python3-sklearn, so CI needs no Python), the degenerate
// threshold flag, and the bootstrap's skip-and-count of single-class resamples.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { bootstrap } from '../../runtime/eval/bootstrap.js';
import { evaluateScores, renderTable } from '../../runtime/eval/evaluate.js';
import { groupTotals, rankLabel } from '../../runtime/eval/ranking.js';
import { labelMetrics } from '../../runtime/eval/metrics.js';
import { below, rocCurve, selectThreshold, youdenThreshold } from '../../runtime/eval/threshold.js';

interface Case { scores: number[]; truth: number[]; weights: number[] | null; fpr: number[]; tpr: number[]; thresholds: (number | null)[]; youdenIndex: number; youden: number | null }
const oracle = JSON.parse(readFileSync('test/runtime/fixtures/roc_sklearn.json', 'utf8')) as { sklearn: string; cases: Case[] };

describe('rocCurve and youden = scikit-learn roc_curve', () => {
  it(`${oracle.cases.length} seeded cases (sklearn ${oracle.sklearn})`, () => {
    expect(oracle.cases.length).toBeGreaterThanOrEqual(40);
    let infinite = 0;
    for (const [i, c] of oracle.cases.entries()) {
      const g = groupTotals(rankLabel(c.scores, c.truth), c.weights);
      const roc = rocCurve(g);
      expect(roc.thresholds.slice(1), `case ${i}`).toEqual(c.thresholds.slice(1));
      expect(roc.thresholds[0]).toBe(Infinity);
      for (let k = 0; k < c.fpr.length; k++) {
        expect(roc.fpr[k], `case ${i} fpr[${k}]`).toBeCloseTo(c.fpr[k]!, 12);
        expect(roc.tpr[k], `case ${i} tpr[${k}]`).toBeCloseTo(c.tpr[k]!, 12);
      }
      expect(roc.fpr.length).toBe(c.fpr.length);
      const t = youdenThreshold(g);
      if (c.youden === null) { infinite++; expect(t, `case ${i}`).toBe(Infinity); } else expect(t, `case ${i}`).toBe(c.youden);
      expect(selectThreshold(g, { kind: 'youden' })).toBe(t);
    }
    expect(infinite).toBeGreaterThan(0); // the +inf case is covered
  });

  it('youden predicts present when P >= t: the metrics at t are the ROC point sklearn picked', () => {
    for (const c of oracle.cases.filter((x) => x.weights === null && x.youden !== null)) {
      const g = groupTotals(rankLabel(c.scores, c.truth), null);
      const m = labelMetrics(g, { kind: 'youden' });
      const P = c.truth.filter((y) => y === 1).length;
      const tp = c.scores.filter((s, i) => c.truth[i] === 1 && s >= c.youden!).length;
      expect(m.recall).toBeCloseTo(tp / P, 12);
      expect(m.recall).toBeCloseTo(c.tpr[c.youdenIndex]!, 12);
      expect(1 - m.specificity).toBeCloseTo(c.fpr[c.youdenIndex]!, 12);
    }
  });

  it('below(x) is the next double down', () => {
    expect(below(0.5)).toBeLessThan(0.5);
    expect(0.5 - below(0.5)).toBe(2 ** -54);
    expect(below(1) < 1 && below(1) > 1 - 1e-15).toBe(true);
    expect(below(Infinity)).toBe(Infinity);
  });
});

describe('degenerate thresholds', () => {
  // A separates; B's positives score below its negatives (no threshold does better than chance);
  // C is mixed.
  const labels = ['A', 'B', 'C'];
  const rows = [
    { s: [0.9, 0.995, 0.2], y: [1, 0, 1] },
    { s: [0.8, 0.996, 0.3], y: [1, 0, 1] },
    { s: [0.1, 0.991, 0.4], y: [0, 1, 1] },
    { s: [0.2, 0.992, 0.5], y: [0, 1, 0] },
  ];
  const input = { labels, scores: rows.map((r) => r.s), truth: rows.map((r) => r.y) };

  it('flags all-negative and all-positive predictions and marks them in the table', () => {
    const r = evaluateScores(input, { threshold: { kind: 'fixed', value: 0.35 }, bootstrap: null });
    // A: 0.9, 0.8 > 0.35 only; B: every score > 0.35 (all positive); C: 0.4, 0.5 > 0.35.
    expect(r.labels.map((l) => l.degenerate)).toEqual([null, 'all_positive', null]);
    const hi = evaluateScores(input, { threshold: { kind: 'fixed', value: 1 }, bootstrap: null });
    expect(hi.labels.map((l) => l.degenerate)).toEqual(['all_negative', 'all_negative', 'all_negative']);
    const text = renderTable(hi, { metrics: ['auroc', 'accuracy'] });
    expect(text).toContain('1.000*');
    expect(text).toContain('* degenerate threshold, predicts no volume present (accuracy = share of negatives, F1 0): A, B, C');
    expect(renderTable(r, { metrics: ['accuracy'], format: 'markdown' })).toMatch(/\| B \| 2\/4 \| 0\.350\+ \|/);
  });

  it("youden's +inf threshold (J never above 0) is null in JSON and flagged all_negative", () => {
    // B: positives score below negatives everywhere: J <= 0 at every ROC point.
    const r = evaluateScores(input, { threshold: { kind: 'youden' }, bootstrap: null });
    const b = r.labels[1]!;
    expect(b.metrics.threshold).toBeNull();
    expect(b.degenerate).toBe('all_negative');
    expect(b.metrics.recall).toBe(0);
    expect(JSON.parse(JSON.stringify(r)).labels[1].metrics.threshold).toBeNull();
    expect(renderTable(r, { metrics: ['accuracy'] })).toMatch(/B\s+2\/4\s+inf\*/);
    expect(r.labels[0]!.degenerate).toBeNull();
    expect(r.labels[0]!.metrics.threshold).toBe(0.8); // sklearn: thresholds [inf, 0.9, 0.8, 0.1]; J max at 0.8
  });
});

describe('bootstrap: single-class resamples are skipped and counted', () => {
  it('a rare label: its skipped replicates are counted and none of them is evaluated at threshold 0', () => {
    // 12 volumes, one positive: many resamples miss it.
    const n = 12;
    const scores = Array.from({ length: n }, (_, i) => [i / n, (i * 7 % n) / n]);
    const truth = Array.from({ length: n }, (_, i) => [i === n - 1 ? 1 : 0, i % 2]);
    const ranked = [0, 1].map((l) => rankLabel(scores.map((r) => r[l]!), truth.map((r) => r[l]!)));
    const b = bootstrap(ranked, { kind: 'roc_corner' }, { samples: 400, confidence: 0.95, seed: 3 });
    // Independent count: replay the resamples' draws? Instead: P(miss the positive) = (11/12)^12 ~ 0.35.
    expect(b.singleClassReplicates[0]).toBeGreaterThan(400 * 0.25);
    expect(b.singleClassReplicates[0]).toBeLessThan(400 * 0.45);
    expect(b.singleClassReplicates[1]).toBe(0);
    // The one positive scores highest: every replicate that has it separates it perfectly, so
    // recall is 1 in all of them; a replicate evaluated at the fallback threshold 0 would not have
    // accuracy 1, and a skipped one would have recall 0 — neither reaches the interval.
    expect(b.labels[0]!.recall).toEqual([1, 1]);
    expect(b.labels[0]!.accuracy).toEqual([1, 1]);
    const r = evaluateScores({ labels: ['rare', 'half'], scores, truth }, { threshold: { kind: 'roc_corner' }, bootstrap: { samples: 400, confidence: 0.95, seed: 3 } });
    expect(r.labels[0]!.singleClassResamples).toBe(b.singleClassReplicates[0]);
    expect(renderTable(r, { metrics: ['accuracy'] })).toContain(`single-class resamples skipped for that label's intervals (skip and count): rare ${b.singleClassReplicates[0]}/400`);
  });
});
