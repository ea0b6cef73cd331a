// The training loop against a recording stand-in executor: step counts, the schedule and scalars
// each step gets, what each step feeds, the seeded per-epoch shuffle, and the failure paths.
import { describe, expect, it } from 'vitest';
import type { TrainSpec } from '../../compiler/ir/experiment.js';
import { epochOrder, trainLoop, type StepRecord } from '../../runtime/run/train.js';
import { expectDiagnostic, fakeItems, planWithInputs, RecordingExecutor } from './helpers.js';

const P = 3, VOX = 8;
const plan = (b: number) => planWithInputs('train', {
  volume: { shape: [b, 1, 2, 2, 2], dtype: 'f32' }, input_ids: { shape: [2 * P, 4], dtype: 'i32' },
  attention_mask: { shape: [2 * P, 4], dtype: 'f32' }, targets: { shape: [b, P], dtype: 'f32' },
});
const text = { input_ids: new Int32Array(2 * P * 4), attention_mask: new Float32Array(2 * P * 4).fill(1) };
const spec = (o: Partial<TrainSpec> = {}): TrainSpec => ({
  loss: 'pair_mse', optimizer: { kind: 'adamw', lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.01 },
  schedule: { kind: 'cosine', warmupSteps: 2 }, epochs: 3, batchSize: 4, gradClip: 1, precision: 'fp32', trainBase: false, ...o,
});
const labels = Array.from({ length: 10 }, (_, i) => [i % 2, (i >> 1) % 2, i % 3 === 0 ? 1 : 0]);
/** The volume index a fed volume came from (fakeItems fills volume i with the value i). */
const fedVolumes = (v: Float32Array) => Array.from({ length: v.length / VOX }, (_, b) => v[b * VOX]!);

async function train(o: { seed?: number; spec?: TrainSpec; loss?: (i: number) => number } = {}) {
  const s = o.spec ?? spec();
  const exec = new RecordingExecutor(plan(s.batchSize), (name, _r, i) => {
    expect(name).toBe('loss');
    return Float32Array.of(o.loss ? o.loss(i) : 1 / (i + 1));
  });
  const steps: StepRecord[] = [];
  const summary = await trainLoop({ exec, items: fakeItems(labels, VOX), text, train: s, seed: o.seed ?? 5, source: 'exp.medct', onStep: (r) => steps.push(r) });
  return { exec, steps, summary };
}

describe('trainLoop', () => {
  it('runs epochs x full batches with the scheduled lr, 1-based AdamW steps and per-step dropout seeds', async () => {
    const { exec, steps, summary } = await train();
    // 10 volumes, batch 4: 2 full batches per epoch (2 dropped), 3 epochs.
    expect(summary).toMatchObject({ steps: 6, epochs: 3, batchesPerEpoch: 2, firstLoss: 1, lastLoss: Math.fround(1 / 6) });
    expect(exec.runs).toHaveLength(6);
    expect(exec.runs.map((r) => r.scalars!.adamStep)).toEqual([1, 2, 3, 4, 5, 6]);
    // cosine with 2 warmup steps over 6: 0, lr/2, then lr·(1 + cos(pi·p))/2 for p = 0, 1/4, 1/2, 3/4.
    const want = [0, 0.5e-3, 1e-3, 0.853553390593e-3, 0.5e-3, 0.146446609407e-3];
    exec.runs.forEach((r, i) => expect(r.scalars!.lr).toBeCloseTo(want[i]!, 12));
    const seeds = exec.runs.map((r) => r.scalars!.dropoutSeed!);
    expect(new Set(seeds).size).toBe(6);
    for (const s of seeds) expect(Number.isInteger(s) && s >= 0 && s < 2 ** 32).toBe(true);
    expect(steps.map((s) => [s.epoch, s.batch])).toEqual([[1, 1], [1, 2], [2, 1], [2, 2], [3, 1], [3, 2]]);
    expect(steps.map((s) => s.loss)).toEqual([1, 1 / 2, 1 / 3, 1 / 4, 1 / 5, 1 / 6].map(Math.fround));
  });

  it('feeds each step its batch: volumes in order, targets from their labels, the prompts unchanged', async () => {
    const { exec, steps } = await train();
    for (const [i, r] of exec.runs.entries()) {
      const vols = fedVolumes(r.feeds.volume as Float32Array);
      expect(vols).toHaveLength(4);
      expect(steps[i]!.volumes).toEqual(vols.map((v) => `v${v}.nii.gz`));
      expect(Array.from(r.feeds.targets!)).toEqual(vols.flatMap((v) => labels[v]!));
      expect(r.feeds.input_ids).toBe(text.input_ids);
      expect(r.feeds.attention_mask).toBe(text.attention_mask);
    }
    // Within an epoch no volume repeats; each epoch's order is that epoch's seeded permutation.
    for (let e = 0; e < 3; e++) {
      const fed = [...fedVolumes(exec.runs[2 * e]!.feeds.volume as Float32Array), ...fedVolumes(exec.runs[2 * e + 1]!.feeds.volume as Float32Array)];
      expect(new Set(fed).size).toBe(8);
      expect(fed).toEqual(epochOrder(10, 5, e + 1).slice(0, 8));
    }
  });

  it('shuffles deterministically: same seed same order, another seed or epoch another order, always a permutation', async () => {
    const a = await train({ seed: 11 }), b = await train({ seed: 11 }), c = await train({ seed: 12 });
    const order = (x: typeof a) => x.exec.runs.map((r) => fedVolumes(r.feeds.volume as Float32Array));
    expect(order(a)).toEqual(order(b));
    expect(order(a)).not.toEqual(order(c));
    expect(a.exec.runs.map((r) => r.scalars!.dropoutSeed)).toEqual(b.exec.runs.map((r) => r.scalars!.dropoutSeed));
    expect(epochOrder(10, 11, 1)).not.toEqual(epochOrder(10, 11, 2));
    expect([...epochOrder(10, 11, 3)].sort((x, y) => x - y)).toEqual([...Array(10).keys()]);
  });

  it('stops at a non-finite loss with E5562 naming the step, and runs no further step', async () => {
    let seen = 0;
    for (const bad of [NaN, Infinity]) {
      const err = await expectDiagnostic(async () => {
        const r = await train({ loss: (i) => (i === 2 ? bad : 0.5) });
        seen = r.steps.length;
      }, 'E5562', [`is ${bad} at step 3`, 'epoch 2, batch 1']);
      expect(err.diagnostics[0]!.primary!.file).toBe('exp.medct');
    }
    expect(seen).toBe(0);
    // The stand-in ran exactly three steps before the loop stopped.
    const exec = new RecordingExecutor(plan(4), (_n, _r, i) => Float32Array.of(i === 2 ? NaN : 0.5));
    const steps: StepRecord[] = [];
    await expect(trainLoop({ exec, items: fakeItems(labels, VOX), text, train: spec(), seed: 1, source: 's', onStep: (r) => steps.push(r) })).rejects.toThrow();
    expect(exec.runs).toHaveLength(3);
    expect(steps).toHaveLength(2);
  });

  it('rejects a split smaller than one batch (E5564) and a warmup longer than the run (E5560)', async () => {
    await expectDiagnostic(() => train({ spec: spec({ batchSize: 11 }) }), 'E5564', ['10 volume(s), fewer than one batch of 11']);
    await expectDiagnostic(() => train({ spec: spec({ schedule: { kind: 'linear', warmupSteps: 7 } }) }), 'E5560', ['7 steps', '6 training steps']);
  });

  it('checks the first feeds against the plan: a plan for another batch size is an internal error', async () => {
    const exec = new RecordingExecutor(plan(2), () => Float32Array.of(1));
    await expect(trainLoop({ exec, items: fakeItems(labels, VOX), text, train: spec(), seed: 1, source: 's' })).rejects.toThrow(/feed `volume`.*\[2, 1, 2, 2, 2\]/);
    expect(exec.runs).toHaveLength(0);
  });
});
