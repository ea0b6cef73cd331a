// Per-label score ranking shared by AUROC, threshold search and the bootstrap. Scores are sorted
// once per label into groups of equal score; a bootstrap replicate is then just a weight per
// volume (how many times it was drawn), so every metric is an O(N) pass over the groups instead of
// a fresh sort per replicate.

export interface RankedLabel {
  /** Volume indices in ascending score order. */
  order: Int32Array;
  /** For each group of equal scores: its exclusive end in `order` (groups are contiguous). */
  groupEnd: Int32Array;
  groupScore: Float64Array;
  truth: Uint8Array;
}

/** Weighted positive/negative mass per score group, ascending by score. */
export interface GroupTotals {
  score: Float64Array;
  pos: Float64Array;
  neg: Float64Array;
  /** Total positive and negative weight. */
  P: number;
  N: number;
}

/** Sorts one label's scores. `truth` must be 0/1 and scores finite (checked: violations are bugs upstream). */
export function rankLabel(scores: ArrayLike<number>, truth: ArrayLike<number>): RankedLabel {
  const n = scores.length;
  if (truth.length !== n) throw new Error(`rankLabel: ${n} scores but ${truth.length} labels`);
  const t = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    if (truth[i] !== 0 && truth[i] !== 1) throw new Error(`rankLabel: label ${i} is ${truth[i]}, not 0/1`);
    if (!Number.isFinite(scores[i])) throw new Error(`rankLabel: score ${i} is ${scores[i]}`);
    t[i] = truth[i]!;
  }
  const order = Int32Array.from({ length: n }, (_, i) => i).sort((a, b) => scores[a]! - scores[b]! || a - b);
  const ends: number[] = [], values: number[] = [];
  for (let i = 0; i < n; i++) {
    const s = scores[order[i]!]!;
    if (i > 0 && s === values[values.length - 1]) ends[ends.length - 1] = i + 1;
    else { ends.push(i + 1); values.push(s); }
  }
  return { order, groupEnd: Int32Array.from(ends), groupScore: Float64Array.from(values), truth: t };
}

/** Group totals with per-volume `weights` (null = every volume once). */
export function groupTotals(r: RankedLabel, weights: ArrayLike<number> | null): GroupTotals {
  const G = r.groupEnd.length;
  const pos = new Float64Array(G), neg = new Float64Array(G);
  let P = 0, N = 0, start = 0;
  for (let g = 0; g < G; g++) {
    let p = 0, q = 0;
    for (let k = start; k < r.groupEnd[g]!; k++) {
      const v = r.order[k]!;
      const w = weights === null ? 1 : weights[v]!;
      if (r.truth[v] === 1) p += w; else q += w;
    }
    pos[g] = p; neg[g] = q; P += p; N += q;
    start = r.groupEnd[g]!;
  }
  return { score: r.groupScore, pos, neg, P, N };
}

/**
 * AUROC as the Mann-Whitney statistic: the probability that a random positive scores above a random
 * negative, ties counting one half. NaN when the label has only one class (no ROC curve exists).
 */
export function aurocFromGroups(g: GroupTotals): number {
  if (g.P === 0 || g.N === 0) return NaN;
  let negBelow = 0, num = 0;
  for (let i = 0; i < g.score.length; i++) {
    num += g.pos[i]! * (negBelow + 0.5 * g.neg[i]!);
    negBelow += g.neg[i]!;
  }
  return num / (g.P * g.N);
}

/** AUROC of one label from raw scores and 0/1 truth (see aurocFromGroups); NaN for a single class. */
export function auroc(scores: ArrayLike<number>, truth: ArrayLike<number>): number {
  return aurocFromGroups(groupTotals(rankLabel(scores, truth), null));
}

export interface Confusion { tp: number; fp: number; tn: number; fn: number }

/**
 * Confusion counts for "predict positive when score > t" at each threshold of `thresholds`
 * (must be ascending), in one merged pass over the groups.
 */
export function confusionSweep(g: GroupTotals, thresholds: ArrayLike<number>): Confusion[] {
  const out: Confusion[] = [];
  let k = 0, posLE = 0, negLE = 0;
  for (let j = 0; j < thresholds.length; j++) {
    const t = thresholds[j]!;
    if (j > 0 && t < thresholds[j - 1]!) throw new Error('confusionSweep: thresholds must ascend');
    while (k < g.score.length && g.score[k]! <= t) { posLE += g.pos[k]!; negLE += g.neg[k]!; k++; }
    out.push({ tp: g.P - posLE, fn: posLE, fp: g.N - negLE, tn: negLE });
  }
  return out;
}
