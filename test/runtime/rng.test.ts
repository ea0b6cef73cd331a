import { describe, expect, it } from 'vitest';
import { Rng, splitmix64 } from '../../runtime/util/index.js';
import { initWeights } from '../../runtime/exec/init.js';

describe('Rng', () => {
  it('matches the reference algorithms (known answers)', () => {
    // splitmix64 from state 0: the first output quoted with Vigna's reference code.
    expect(splitmix64(0n)[1]).toBe(0xe220a8397b1dcdafn);
    // xoshiro128** from state {1, 2, 3, 4}: the reference C implementation's first six outputs.
    const r = Rng.fromState({ s: [1, 2, 3, 4], spare: null });
    expect(Array.from({ length: 6 }, () => r.nextU32())).toEqual([11520, 0, 5927040, 70819200, 2031721883, 1637235492]);
    // Seeding: splitmix64(42) twice, each output split low word then high word (computed in Python).
    const s = new Rng(42);
    expect(s.state().s).toEqual([803958421, 3184996902, 2993090819, 686809907]);
    expect(Array.from({ length: 4 }, () => s.nextU32())).toEqual([1776835114, 4165204688, 17111135, 2317295270]);
  });

  it('is deterministic, resumable from a snapshot, and labels give different streams', () => {
    const a = new Rng(7, 'dropout'), b = new Rng(7, 'dropout'), c = new Rng(7, 'init');
    const xs = Array.from({ length: 5 }, () => a.normal());
    expect(Array.from({ length: 5 }, () => b.normal())).toEqual(xs);
    expect(c.uniform()).not.toBe(new Rng(7, 'dropout').uniform());
    a.normal(); // leaves a spare normal pending
    const snap = Rng.fromState(a.state());
    expect([snap.normal(), snap.uniform()]).toEqual([a.normal(), a.uniform()]);
  });

  it('uniform, int and normal have the right distributions', () => {
    const r = new Rng(123);
    const n = 200_000;
    let sum = 0, sq = 0, min = 1, max = 0;
    for (let i = 0; i < n; i++) { const u = r.uniform(); sum += u; sq += u * u; min = Math.min(min, u); max = Math.max(max, u); }
    expect(sum / n).toBeCloseTo(0.5, 2);
    expect(sq / n - (sum / n) ** 2).toBeCloseTo(1 / 12, 2);
    expect(min).toBeGreaterThanOrEqual(0);
    expect(max).toBeLessThan(1);
    const counts = new Array(6).fill(0);
    for (let i = 0; i < 60_000; i++) counts[r.int(6)]++;
    for (const c of counts) expect(Math.abs(c - 10_000)).toBeLessThan(400); // ~4 sigma
    let m = 0, v = 0, tail = 0;
    for (let i = 0; i < n; i++) { const z = r.normal(2, 3); m += z; v += (z - 2) ** 2; if (Math.abs(z - 2) > 3 * 1.96) tail++; }
    expect(m / n).toBeCloseTo(2, 1);
    expect(Math.sqrt(v / n)).toBeCloseTo(3, 1);
    expect(tail / n).toBeCloseTo(0.05, 2);
  });

  it('shuffle is a permutation', () => {
    const xs = Array.from({ length: 50 }, (_, i) => i);
    const s = new Rng(1).shuffle([...xs]);
    expect(s).not.toEqual(xs);
    expect([...s].sort((a, b) => a - b)).toEqual(xs);
  });

  it('initWeights fills uniform inits within their bound and normal inits with their std', () => {
    // The compiler picks the bounds (kaiming_uniform(a=sqrt(5)): 1/sqrt(fan_in); gaussian LoRA A: std 1/r).
    const w = initWeights([
      { name: 'w', shape: [40_000], init: { kind: 'uniform', bound: 1 / 8 }, role: 'param' },
      { name: 'g', shape: [4, 10_000], init: { kind: 'normal', std: 0.25 }, role: 'param' },
    ], 3);
    const u = w.get('w')!, bound = 1 / 8;
    expect(Math.max(...u)).toBeLessThanOrEqual(bound);
    expect(Math.min(...u)).toBeGreaterThanOrEqual(-bound);
    expect(Math.max(...u)).toBeGreaterThan(bound * 0.99);
    const g = w.get('g')!;
    expect(g.length).toBe(40_000);
    expect(Math.sqrt(g.reduce((s, x) => s + x * x, 0) / g.length)).toBeCloseTo(0.25, 2);
  });
});
