import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { learningRate, makeSchedule } from '../../runtime/train/schedule.js';
import { AdamW, adamwStep, clipGradNorm, newAdamWState } from '../../runtime/train/optimizer-ref.js';
import { expectDiagnostic } from './helpers.js';

describe('learning-rate schedules', () => {
  const cos = { kind: 'cosine' as const, warmupSteps: 2 };
  it('cosine with linear warmup (W=2, T=10), hand values', () => {
    const lr = (s: number): number => learningRate(cos, 1, s, 10);
    expect(lr(0)).toBe(0);
    expect(lr(1)).toBe(0.5);
    expect(lr(2)).toBe(1);
    expect(lr(4)).toBeCloseTo(0.5 * (1 + Math.SQRT1_2), 12); // p = 2/8: cos(pi/4)
    expect(lr(6)).toBeCloseTo(0.5, 12); // p = 1/2
    expect(lr(10)).toBeCloseTo(0, 12);
    expect(lr(15)).toBeCloseTo(0, 12);
  });
  it('linear and constant, with and without warmup', () => {
    expect(learningRate({ kind: 'linear', warmupSteps: 2 }, 2, 4, 10)).toBeCloseTo(1.5, 12); // 2 * (1 - 2/8)
    expect(learningRate({ kind: 'linear', warmupSteps: 2 }, 2, 6, 10)).toBeCloseTo(1, 12);
    expect(learningRate({ kind: 'linear', warmupSteps: 0 }, 2, 0, 10)).toBe(2);
    expect(learningRate({ kind: 'linear', warmupSteps: 0 }, 2, 9, 10)).toBeCloseTo(0.2, 12);
    expect(learningRate({ kind: 'constant', warmupSteps: 4 }, 3, 1, 10)).toBe(0.75);
    expect(learningRate({ kind: 'constant', warmupSteps: 4 }, 3, 9, 10)).toBe(3);
    expect(learningRate({ kind: 'cosine', warmupSteps: 0 }, 1, 0, 1)).toBe(1);
  });
  it('rejects a warmup longer than training (E5560)', () => {
    expectDiagnostic(() => makeSchedule({ kind: 'cosine', warmupSteps: 50 }, 1e-4, 20, 'exp.medct'), 'E5560', ['50', '20', 'exp.medct']);
    expect(makeSchedule(cos, 1, 10)(6)).toBeCloseTo(0.5, 12);
  });
});

describe('reference AdamW (PyTorch semantics)', () => {
  const cfg = { lr: 0.1, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.01 };
  it('first two steps match hand computation', () => {
    // p0 = 1, g1 = 0.5, g2 = -1.
    // step 1: p = 1*(1 - 0.1*0.01) = 0.999; m = 0.05; v = 0.00025; m^ = 0.5; v^ = 0.25;
    //         p -= 0.1 * 0.5 / (0.5 + 1e-8)  ->  0.899000002
    // step 2: p = 0.899000002 * 0.999 = 0.898101002; m = -0.055; v = 0.00124975;
    //         m^ = -0.055/0.19; v^ = 0.00124975/0.001999; p -= 0.1 * m^ / (sqrt(v^) + 1e-8) -> 0.934711354
    const p = Float32Array.of(1, 2), s = newAdamWState(2);
    adamwStep(p, Float32Array.of(0.5, 0), s, cfg);
    expect(s.step).toBe(1);
    expect(p[0]).toBeCloseTo(0.899000002, 6);
    expect(p[1]).toBeCloseTo(2 * 0.999, 6); // zero gradient: decay only
    expect(s.m[0]).toBeCloseTo(0.05, 7);
    expect(s.v[0]).toBeCloseTo(0.00025, 9);
    adamwStep(p, Float32Array.of(-1, 0), s, cfg);
    expect(p[0]).toBeCloseTo(0.934711354, 6);
    expect(p[1]).toBeCloseTo(2 * 0.999 * 0.999, 6);
    expect(s.m[0]).toBeCloseTo(-0.055, 7);
    expect(s.v[0]).toBeCloseTo(0.00124975, 9);
  });
  it('per-tensor weight decay override and scheduled lr', () => {
    const opt = new AdamW(cfg);
    const a = { name: 'w', value: Float32Array.of(1), grad: Float32Array.of(0) };
    const b = { name: 'bias', value: Float32Array.of(1), grad: Float32Array.of(0), weightDecay: 0 };
    opt.step([a, b], 0.5);
    expect(a.value[0]).toBeCloseTo(1 - 0.5 * 0.01, 7);
    expect(b.value[0]).toBe(1);
    expect(opt.state.get('w')!.step).toBe(1);
  });
  it('the update size is about lr in the first step regardless of gradient scale (bias correction)', () => {
    for (const g of [1e-6, 1, 1e3]) {
      const p = Float32Array.of(0);
      adamwStep(p, Float32Array.of(g), newAdamWState(1), { ...cfg, weightDecay: 0, eps: 0 });
      expect(p[0]).toBeCloseTo(-0.1, 6);
    }
  });
});

describe('clipGradNorm (torch clip_grad_norm_)', () => {
  it('scales by maxNorm / (total + 1e-6) when over the limit and returns the norm before clipping', () => {
    const g1 = Float32Array.of(3, 4), g2 = Float32Array.of(12);
    expect(clipGradNorm([g1, g2], 6.5)).toBe(13);
    const c = 6.5 / (13 + 1e-6);
    expect([...g1, ...g2].map((x) => +x.toFixed(6))).toEqual([3 * c, 4 * c, 12 * c].map((x) => +x.toFixed(6)));
  });
  it('leaves gradients under the limit untouched', () => {
    const g = Float32Array.of(0.3, -0.4);
    expect(clipGradNorm([g], 1)).toBeCloseTo(0.5, 7);
    expect([...g]).toEqual([Math.fround(0.3), Math.fround(-0.4)]);
  });
  it('non-finite norm: returned, or E5561 on request', () => {
    expect(clipGradNorm([Float32Array.of(NaN, 1)], 1)).toBeNaN();
    expectDiagnostic(() => clipGradNorm([Float32Array.of(Infinity)], 1, { errorIfNonfinite: true, source: 'run.medct' }), 'E5561', ['Infinity', 'run.medct']);
  });
});

describe('clipGradNorm (property)', () => {
  it('after clipping, the global norm is at most maxNorm and directions are kept', () => {
    fc.assert(fc.property(
      fc.array(fc.array(fc.float({ min: -100, max: 100, noNaN: true }), { minLength: 1, maxLength: 8 }), { minLength: 1, maxLength: 4 }),
      fc.float({ min: Math.fround(0.01), max: 50, noNaN: true }),
      (arrays, maxNorm) => {
        const grads = arrays.map((a) => Float32Array.from(a));
        const before = grads.map((g) => Float32Array.from(g));
        const total = clipGradNorm(grads, maxNorm);
        const after = Math.sqrt(grads.reduce((s, g) => s + g.reduce((a, x) => a + x * x, 0), 0));
        expect(after).toBeLessThanOrEqual(Math.min(total, maxNorm) * (1 + 1e-6) + 1e-12);
        const c = Math.min(1, maxNorm / (total + 1e-6));
        grads.forEach((g, i) => g.forEach((x, j) => expect(x).toBeCloseTo(before[i]![j]! * c, 4)));
      },
    ), { numRuns: 200, seed: 3 });
  });
});
