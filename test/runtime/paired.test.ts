// The paired bootstrap of a change (runtime/eval/paired.ts) against a literal second
// implementation: the same volume draws (Rng(seed, 'bootstrap'), n draws per replicate), AUROC by
// counting ordered positive/negative pairs on the drawn multiset, labels with one class left out
// of that replicate's mean, numpy's linear percentile of the per-replicate changes.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { pairedChange } from '../../runtime/eval/paired.js';
import { Rng } from '../../runtime/util/rng.js';

/** AUROC of a weighted sample by pair counting (ties count one half); NaN with one class. */
function naiveAuroc(scores: number[], truth: number[], w: number[]): number {
  let num = 0, den = 0;
  for (let i = 0; i < scores.length; i++) {
    if (truth[i] !== 1 || w[i] === 0) continue;
    for (let j = 0; j < scores.length; j++) {
      if (truth[j] !== 0 || w[j] === 0) continue;
      const pair = w[i]! * w[j]!;
      den += pair;
      num += pair * (scores[i]! > scores[j]! ? 1 : scores[i] === scores[j] ? 0.5 : 0);
    }
  }
  return den === 0 ? NaN : num / den;
}

function meanAuroc(rows: number[][], truth: number[][], w: number[]): number {
  const L = truth[0]!.length;
  const xs: number[] = [];
  for (let l = 0; l < L; l++) {
    const a = naiveAuroc(rows.map((r) => r[l]!), truth.map((t) => t[l]!), w);
    if (!Number.isNaN(a)) xs.push(a);
  }
  return xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : NaN;
}

function npPercentile(sorted: number[], q: number): number {
  const pos = q * (sorted.length - 1), lo = Math.floor(pos), hi = Math.min(lo + 1, sorted.length - 1);
  return sorted[lo]! + (sorted[hi]! - sorted[lo]!) * (pos - lo);
}

function naivePaired(before: number[][], after: number[][], truth: number[][], samples: number, seed: number, confidence: number) {
  const n = truth.length;
  const rng = new Rng(seed, 'bootstrap');
  const d: number[] = [];
  for (let b = 0; b < samples; b++) {
    const w = new Array<number>(n).fill(0);
    for (let i = 0; i < n; i++) w[rng.int(n)]! += 1;
    const x = meanAuroc(after, truth, w) - meanAuroc(before, truth, w);
    if (!Number.isNaN(x)) d.push(x);
  }
  d.sort((a, b) => a - b);
  const a = (1 - confidence) / 2;
  const ones = new Array<number>(n).fill(1);
  return { change: meanAuroc(after, truth, ones) - meanAuroc(before, truth, ones), ci: [npPercentile(d, a), npPercentile(d, 1 - a)], atMostZero: d.filter((x) => x <= 0).length / d.length };
}

describe('pairedChange', () => {
  it('= the literal resampling loop on random scores (mean AUROC change, interval, share <= 0)', () => {
    fc.assert(fc.property(
      fc.integer({ min: 6, max: 30 }), fc.integer({ min: 1, max: 3 }), fc.integer({ min: 0, max: 1000 }),
      (n, L, seed) => {
        const r = new Rng(seed, 'data');
        const truth = Array.from({ length: n }, () => Array.from({ length: L }, () => (r.uniform() < 0.4 ? 1 : 0)));
        // Scores on a coarse grid, so ties occur.
        const before = truth.map((t) => t.map((y) => Math.round(10 * (0.3 * y + r.uniform())) / 10));
        const after = truth.map((t) => t.map((y) => Math.round(10 * (0.6 * y + r.uniform())) / 10));
        const got = pairedChange(before, after, truth, { kind: 'roc_corner' }, { samples: 60, confidence: 0.9, seed });
        const want = naivePaired(before, after, truth, 60, seed, 0.9);
        if (Number.isNaN(want.change)) { expect(got.mean.auroc.change).toBeNull(); return; }
        expect(got.mean.auroc.change!).toBeCloseTo(want.change, 12);
        expect(got.mean.auroc.ci![0]).toBeCloseTo(want.ci[0]!, 12);
        expect(got.mean.auroc.ci![1]).toBeCloseTo(want.ci[1]!, 12);
        expect(got.mean.auroc.atMostZero!).toBeCloseTo(want.atMostZero, 12);
      },
    ), { numRuns: 40, seed: 3 });
  });

  it('the same scores twice: every change and interval is exactly 0', () => {
    const r = new Rng(5, 'same');
    const truth = Array.from({ length: 40 }, () => [r.uniform() < 0.5 ? 1 : 0, r.uniform() < 0.3 ? 1 : 0]);
    const s = truth.map((t) => t.map((y) => 0.2 * y + r.uniform()));
    const got = pairedChange(s, s, truth, { kind: 'roc_corner' }, { samples: 50, confidence: 0.95, seed: 1 });
    for (const m of Object.values(got.mean)) {
      expect(m.change).toBe(0);
      expect(m.ci).toEqual([0, 0]);
      expect(m.atMostZero).toBe(1);
    }
  });

  it('pairing narrows the interval: a small uniform gain is significant paired, not from two separate intervals', () => {
    const r = new Rng(9, 'gain');
    const n = 200;
    const truth = Array.from({ length: n }, () => [r.uniform() < 0.3 ? 1 : 0]);
    const base = truth.map((t) => [0.5 * t[0]! + r.uniform()]);
    // The adapted model: the same scores, positives nudged up a little.
    const after = base.map((s, i) => [s[0]! + 0.08 * truth[i]![0]!]);
    const got = pairedChange(base, after, truth, { kind: 'roc_corner' }, { samples: 300, confidence: 0.95, seed: 2 });
    expect(got.mean.auroc.change!).toBeGreaterThan(0);
    expect(got.mean.auroc.ci![0]).toBeGreaterThan(0);
    // Unpaired, the two 95% intervals of the AUROC itself overlap (each is several points wide).
    const ones = new Array<number>(n).fill(1);
    const a = naiveAuroc(base.map((x) => x[0]!), truth.map((t) => t[0]!), ones);
    const b = naiveAuroc(after.map((x) => x[0]!), truth.map((t) => t[0]!), ones);
    expect(b - a).toBeCloseTo(got.mean.auroc.change!, 12);
    expect(got.mean.auroc.ci![1] - got.mean.auroc.ci![0]).toBeLessThan(0.05);
  });
});
