// The training loop against a recording stand-in executor: step counts, the schedule and scalars
// each step gets, what each step feeds, the seeded per-epoch shuffle, and the failure paths.
import { describe, expect, it } from 'vitest';
import type { TrainSpec } from '../../compiler/ir/experiment.js';
import { epochOrder, lossSentence, trainLoop, type StepRecord, type TrainPosition, type TrainStart } from '../../runtime/run/train.js';
import { expectDiagnostic, fakeItems, planWithInputs, RecordingExecutor } from './helpers.js';
import { sampleReport } from '../../runtime/train/sentences.js';
import { startOf, type Checkpoint } from '../../runtime/run/checkpoint.js';

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

async function train(o: { seed?: number; spec?: TrainSpec; loss?: (i: number) => number; start?: TrainStart; onCheckpoint?: (p: TrainPosition) => Promise<void> } = {}) {
  const s = o.spec ?? spec();
  const exec = new RecordingExecutor(plan(s.batchSize), (name, _r, i) => {
    expect(name).toBe('loss');
    return Float32Array.of(o.loss ? o.loss(i) : 1 / (i + 1));
  });
  const steps: StepRecord[] = [];
  const summary = await trainLoop({
    exec, items: fakeItems(labels, VOX), text, train: s, seed: o.seed ?? 5, source: 'exp.medct', onStep: (r) => steps.push(r),
    ...(o.start ? { start: o.start } : {}), ...(o.onCheckpoint ? { onCheckpoint: o.onCheckpoint } : {}),
  });
  return { exec, steps, summary };
}

describe('trainLoop: accumulation and resuming', () => {
  it('accumulate 2: each step feeds the two halves of the step batch as micro-batches 0 and 1, the optimizer on the last', async () => {
    const whole = await train({ spec: spec({ batchSize: 4 }) });
    const acc = await train({ spec: spec({ batchSize: 2, accumulate: 2 }), loss: (i) => (i % 2 === 0 ? 1 : 3) });
    expect(acc.summary).toMatchObject({ steps: 6, batchesPerEpoch: 2 });
    expect(acc.exec.runs).toHaveLength(12);
    acc.exec.runs.forEach((r, i) => {
      const w = whole.exec.runs[i >> 1]!;
      expect(fedVolumes(r.feeds.volume as Float32Array)).toEqual(fedVolumes(w.feeds.volume as Float32Array).slice(2 * (i % 2), 2 * (i % 2) + 2));
      expect(r.opts).toEqual({ gradNorm: i % 2 === 1, micro: { index: i % 2, count: 2 } });
      expect(r.scalars!.adamStep).toBe(w.scalars!.adamStep);
      expect(r.scalars!.lr).toBe(w.scalars!.lr);
    });
    // Micro-batch 0 keeps the step's dropout seed (the log's); micro-batch 1 draws another.
    expect(acc.exec.runs.filter((_, i) => i % 2 === 0).map((r) => r.scalars!.dropoutSeed)).toEqual(whole.exec.runs.map((r) => r.scalars!.dropoutSeed));
    expect(acc.exec.runs[1]!.scalars!.dropoutSeed).not.toBe(acc.exec.runs[0]!.scalars!.dropoutSeed);
    // The step's loss is the micro-batches' mean, and its volumes are all four.
    expect(acc.steps.map((s) => s.loss)).toEqual(Array(6).fill(2));
    expect(acc.steps.map((s) => s.volumes)).toEqual(whole.steps.map((s) => s.volumes));
  });

  it('a start position continues the uninterrupted sequence of batches, scalars and checkpoints', async () => {
    const marks: TrainPosition[] = [];
    const full = await train({ spec: spec({ checkpointEvery: 2 }), onCheckpoint: async (p) => { marks.push(p); } });
    expect(marks.map((m) => [m.step, m.epoch, m.batch])).toEqual([[2, 1, 2], [4, 2, 2], [6, 3, 2]]);
    // Resume after step 3 (epoch 2, batch 1 done), e.g. from a checkpoint_every 3 checkpoint.
    const later: TrainPosition[] = [];
    const rest = await train({ spec: spec({ checkpointEvery: 2 }), start: { step: 3, firstLoss: 1, lastLoss: 1 / 3, elapsed: 5 }, loss: (i) => 1 / (i + 4), onCheckpoint: async (p) => { later.push(p); } });
    expect(rest.exec.runs).toHaveLength(3);
    expect(rest.exec.runs.map((r) => r.scalars)).toEqual(full.exec.runs.slice(3).map((r) => r.scalars));
    expect(rest.exec.runs.map((r) => fedVolumes(r.feeds.volume as Float32Array))).toEqual(full.exec.runs.slice(3).map((r) => fedVolumes(r.feeds.volume as Float32Array)));
    expect(rest.steps.map((s) => [s.step, s.epoch, s.batch, s.loss])).toEqual(full.steps.slice(3).map((s) => [s.step, s.epoch, s.batch, s.loss]));
    expect(later.map((m) => m.step)).toEqual([4, 6]);
    expect(rest.summary).toMatchObject({ steps: 6, firstLoss: 1, lastLoss: Math.fround(1 / 6) });
    expect(rest.steps[0]!.elapsed).toBeGreaterThanOrEqual(5);
    // Resuming after the last step runs nothing and reports the checkpoint's losses.
    const done = await train({ start: { step: 6, firstLoss: 1, lastLoss: 0.25, elapsed: 1 } });
    expect(done.exec.runs).toHaveLength(0);
    expect(done.summary).toMatchObject({ steps: 6, firstLoss: 1, lastLoss: 0.25 });
  });
});

describe('trainLoop: epoch-mean losses', () => {
  it('reports the mean of the first and of the last epoch, the same after a resume through a JSON checkpoint', async () => {
    const marks: TrainPosition[] = [];
    const full = await train({ spec: spec({ checkpointEvery: 1 }), onCheckpoint: async (p) => { marks.push(p); } });
    const f = (x: number) => Math.fround(x);
    // Losses 1/(step): epoch 1 = steps 1, 2; epoch 3 = steps 5, 6.
    expect(full.summary.firstEpochLoss).toBe((f(1) + f(1 / 2)) / 2);
    expect(full.summary.lastEpochLoss).toBe((f(1 / 5) + f(1 / 6)) / 2);
    expect(lossSentence(full.summary)).toBe(`loss 0.75000 -> ${((f(1 / 5) + f(1 / 6)) / 2).toFixed(5)} (mean of the first and of the last epoch)`);
    for (const k of [1, 3]) {
      // After step 1 no epoch mean exists yet: JSON writes NaN as null, startOf reads it back.
      const meta = JSON.parse(JSON.stringify({ position: marks[k - 1] })) as Checkpoint['meta'];
      const start = startOf({ meta } as Checkpoint);
      const rest = await train({ spec: spec({ checkpointEvery: 1 }), start, loss: (i) => 1 / (i + k + 1) });
      expect(rest.summary).toEqual({ ...full.summary, seconds: rest.summary.seconds });
    }
  });

  it('a run shorter than an epoch names its first and last step instead', () => {
    expect(lossSentence({ firstLoss: 2, lastLoss: 1, firstEpochLoss: NaN, lastEpochLoss: NaN })).toBe('loss 2.00000 -> 1.00000 (first and last step)');
  });
});

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

describe('trainLoop: report sentences (train.sentences)', () => {
  it('whole reports up to the `after` step, then each row as sampleReport draws it (row = its place in the step batch)', async () => {
    const items = fakeItems(labels, VOX).map((it, i) => ({ ...it, reportText: `Finding ${i} is seen. Heart size is normal.Findings: Case ${i}.` }));
    const s = spec({ loss: 'clip', batchSize: 2, accumulate: 2, sentences: { rate: 0.5, afterSteps: 0, afterEpochs: 1 } });
    const fed: string[][] = [];
    const exec = new RecordingExecutor(plan(2), () => Float32Array.of(1));
    const clipText = (texts: string[]) => { fed.push(texts); return text; };
    await trainLoop({ exec, items, text: clipText, train: s, seed: 9, source: 'exp.medct' });
    // 10 volumes / (2 x 2) = 2 steps an epoch, 3 epochs, 2 micro-batches a step; `after 1 epochs` = step 2.
    expect(fed).toHaveLength(12);
    const byName = new Map(items.map((it) => [it.volumeName, it.reportText]));
    exec.runs.forEach((r, i) => {
      const step = 1 + (i >> 1), micro = i % 2;
      const names = fedVolumes(r.feeds.volume as Float32Array).map((v) => `v${v}.nii.gz`);
      const whole = names.map((n) => byName.get(n)!);
      expect(fed[i]).toEqual(step <= 2 ? whole : whole.map((t, row) => sampleReport(t, 9, step, micro * 2 + row, 0.5)));
    });
    // After step 2 some rows are single sentences, some whole reports.
    const later = fed.slice(4).flat();
    expect(later.some((t) => !t.includes('. '))).toBe(true);
    expect(later.some((t) => t.includes('Heart size is normal.Findings'))).toBe(true);
  });
});
