// Liveness-based placement of work buffers in one arena: buffers whose lifetimes overlap never
// share bytes; the rest reuse space. Greedy by size (largest first) at the lowest offset that
// fits, which is close to optimal on the long-lived-activation lifetimes training produces.

export interface Interval {
  bytes: number;
  /** First and last step the buffer is live, inclusive. */
  live: [number, number];
}

export const alignUp = (n: number, a: number): number => Math.ceil(n / a) * a;

export function overlaps(a: [number, number], b: [number, number]): boolean {
  return a[0] <= b[1] && b[0] <= a[1];
}

/** Offsets (same order as `items`) and the arena size they need. Pure and deterministic. */
export function placeBuffers(items: readonly Interval[], alignment: number): { offsets: number[]; peak: number } {
  const order = items.map((_, i) => i).sort((a, b) => items[b]!.bytes - items[a]!.bytes || items[a]!.live[0] - items[b]!.live[0] || a - b);
  const offsets = new Array<number>(items.length).fill(0);
  const placed: number[] = [];
  let peak = 0;
  for (const i of order) {
    const it = items[i]!;
    const size = alignUp(it.bytes, alignment);
    // Occupied ranges of placed buffers alive at the same time, by offset.
    const busy = placed.filter((j) => overlaps(items[j]!.live, it.live))
      .map((j) => [offsets[j]!, offsets[j]! + alignUp(items[j]!.bytes, alignment)] as [number, number])
      .sort((a, b) => a[0] - b[0]);
    let at = 0;
    for (const [s, e] of busy) {
      if (at + size <= s) break;
      at = Math.max(at, e);
    }
    offsets[i] = at;
    placed.push(i);
    peak = Math.max(peak, at + size);
  }
  return { offsets, peak };
}

/** Most bytes simultaneously live (aligned): a lower bound for any placement. */
export function liveLowerBound(items: readonly Interval[], alignment: number): number {
  const events: [number, number][] = [];
  for (const it of items) {
    events.push([it.live[0], alignUp(it.bytes, alignment)], [it.live[1] + 1, -alignUp(it.bytes, alignment)]);
  }
  events.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  let cur = 0, best = 0;
  for (const [, d] of events) { cur += d; best = Math.max(best, cur); }
  return best;
}
