// "Did you mean": the closest known name by edit distance, close enough to be a plausible typo.

export function editDistance(a: string, b: string): number {
  if (a === b) return 0;
  // Optimal string alignment: a transposition (`rnak` -> `rank`) counts as one edit.
  let before: number[] = [];
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) {
      let d = Math.min(prev[j]! + 1, cur[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d = Math.min(d, before[j - 2]! + 1);
      cur[j] = d;
    }
    before = prev;
    prev = cur;
  }
  return prev[b.length]!;
}

/** The best candidate within max(1, len/3) edits (case-insensitive match counts as one), or null. */
export function didYouMean(name: string, candidates: Iterable<string>): string | null {
  let best: string | null = null, bestD = Infinity;
  const limit = Math.max(1, Math.floor(name.length / 3));
  for (const c of candidates) {
    const d = c.toLowerCase() === name.toLowerCase() ? 0.5 : editDistance(name, c);
    if (d < bestD || (d === bestD && best !== null && c < best)) { best = c; bestD = d; }
  }
  return bestD <= limit ? best : null;
}
