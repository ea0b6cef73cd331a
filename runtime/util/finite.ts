// Non-finite values in user files (voxels, weights, adapters) and sizes no machine can hold: the
// counts and limits the loaders put in their diagnostics, before anything computes with the data.
import { constants as bufferConstants } from 'node:buffer';
import { totalmem } from 'node:os';

export interface NonFinite {
  nan: number;
  infinite: number;
  /** Index of the first non-finite value. */
  first: number;
}

/** Counts NaN and ±Infinity in `a·v + b` over `v` (a = 1, b = 0: the values themselves); null when all are finite. */
export function nonFinite(v: ArrayLike<number>, a = 1, b = 0): NonFinite | null {
  let nan = 0, infinite = 0, first = -1;
  for (let i = 0; i < v.length; i++) {
    const x = a * v[i]! + b;
    // x - x is 0 for every finite x and NaN for NaN and ±Infinity: one comparison on the fast path.
    if (x - x !== 0) {
      if (first < 0) first = i;
      if (x !== x) nan++; else infinite++;
    }
  }
  return first < 0 ? null : { nan, infinite, first };
}

/** "3 NaN and 1 infinite of 4096 values (the first at element 17)". */
export function describeNonFinite(n: NonFinite, total: number, what = 'values', at = 'element'): string {
  const parts = [n.nan ? `${n.nan} NaN` : '', n.infinite ? `${n.infinite} infinite` : ''].filter((x) => x);
  return `${parts.join(' and ')} of ${total} ${what} (the first at ${at} ${n.first})`;
}

/** The most bytes medctc allocates for one input: half the machine's memory, and never more than
 *  one Node buffer can hold. A header or setting that needs more is refused before allocating. */
export function allocationLimitBytes(): number {
  return Math.min(totalmem() / 2, bufferConstants.MAX_LENGTH);
}

export const gib = (bytes: number): string => `${(bytes / 2 ** 30).toFixed(bytes < 2 ** 30 ? 3 : 1)} GiB`;
