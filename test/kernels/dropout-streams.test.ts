// Properties of the per-stream dropout mask (runtime/device/cpu/rng.ts, mirrored by every target;
// parity.test.ts checks the generated kernels against it with non-zero streams): each stream keeps
// a fraction ≈ 1-p of the elements, and two streams' masks agree only as often as independent
// draws would (p² + (1-p)²).
import { describe, it, expect } from 'vitest';
import { dropoutKeep, streamSeed } from '../../runtime/device/cpu/rng.js';
import { DROPOUT_SEED } from './inputs.js';

const N = 8192, STREAMS = 64;
const mask = (p: number, seed: number, stream: number): Uint8Array =>
  Uint8Array.from({ length: N }, (_, i) => (dropoutKeep(p, streamSeed(seed, stream), i) > 0 ? 1 : 0));

describe('dropout streams', () => {
  for (const p of [0.1, 0.5]) {
    it(`keep a fraction 1-p of the elements per stream and overall (p = ${p})`, () => {
      const sd = Math.sqrt(p * (1 - p) / N);
      let total = 0;
      for (let s = 0; s < STREAMS; s++) {
        const kept = mask(p, DROPOUT_SEED, s).reduce((a, v) => a + v, 0);
        expect(Math.abs(kept / N - (1 - p)), `stream ${s}`).toBeLessThan(5 * sd);
        total += kept;
      }
      expect(Math.abs(total / (N * STREAMS) - (1 - p))).toBeLessThan(5 * sd / Math.sqrt(STREAMS));
    });
    it(`draw masks that agree between streams only as independent ones would (p = ${p})`, () => {
      const want = p * p + (1 - p) * (1 - p), sd = Math.sqrt(want * (1 - want) / N);
      const masks = Array.from({ length: 16 }, (_, s) => mask(p, DROPOUT_SEED, s));
      for (let a = 0; a < masks.length; a++) for (let b = a + 1; b < masks.length; b++) {
        let agree = 0;
        for (let i = 0; i < N; i++) agree += masks[a]![i] === masks[b]![i] ? 1 : 0;
        expect(Math.abs(agree / N - want), `streams ${a}, ${b}`).toBeLessThan(5 * sd);
      }
    });
  }
  it('keeps a stream\'s mask a function of (seed, stream, index) only', () => {
    expect(mask(0.3, 7, 5)).toEqual(mask(0.3, 7, 5));
    expect(mask(0.3, 7, 5)).not.toEqual(mask(0.3, 8, 5));
    expect(mask(0.3, 7, 5)).not.toEqual(mask(0.3, 7, 6));
  });
});
