// The training loop: epochs x full batches over the train split, reshuffled every epoch with the
// experiment seed, one optimizer step per batch (forward + backward + AdamW on the device) with the
// step's scheduled learning rate, 1-based AdamW step and a fresh dropout seed. With `accumulate N`
// a step's batch is N micro-batches of `batch` volumes, one executor run each, whose mean gradient
// makes the step (runtime/exec/types.ts RunOptions.micro). A non-finite loss stops training with
// E5562 before anything is written from the diverged weights.
//
// Every random draw is counter-based (the shuffle keyed by epoch, dropout by step and
// micro-batch), so the whole position of a run is its step count: a checkpoint
// (./checkpoint.ts) stores it with the weights and moments, and `start` continues from it.
import { DiagnosticError } from '../../base/diagnostics/types.js';
import { diag } from '../../base/diagnostics/catalog.js';
import { toSpecAt, type SpecAt } from './spec-at.js';
import type { PlanModel } from '../../compiler/plan/types.js';
import type { Preprocess, TrainSpec } from '../../compiler/ir/experiment.js';
import type { Adapter, AdapterSettings, SavedModule } from '../adapter/types.js';
import type { DataItem } from '../data/dataset.js';
import { sampleReport, sentencesAfter } from '../train/sentences.js';
import { augmentVolume } from '../train/augment.js';
import { durationSteps, makeSchedule } from '../train/schedule.js';
import { Rng } from '../util/rng.js';
import type { RunExecutor } from './executor.js';
import { assertFeeds, fullBatches, targetBatch, volumeBatch, type TextFeeds } from './feeds.js';

export interface StepRecord {
  /** 1-based optimizer step (also the AdamW step). */
  step: number;
  totalSteps: number;
  /** 1-based. */
  epoch: number;
  epochs: number;
  /** 1-based batch within the epoch. */
  batch: number;
  batches: number;
  loss: number;
  lr: number;
  /** Global L2 norm of the step's gradients before grad_clip (null when the executor cannot say). */
  gradNorm: number | null;
  dropoutSeed: number;
  /** Seconds since training started, after this step. */
  elapsed: number;
  /** Volume names of the batch, in feed order. */
  volumes: string[];
}

export interface TrainLoopOptions {
  exec: RunExecutor;
  items: readonly DataItem[];
  /** The text feeds: the same every step (the prompts), or per batch from the texts of its rows
   *  (the CLIP loss: each item's report, or with `train.sentences` sometimes one of its sentences). */
  text: TextFeeds | ((texts: string[]) => TextFeeds);
  train: TrainSpec;
  seed: number;
  /** The spec file, or where its fields are (named by diagnostics). */
  source: string | SpecAt;
  onStep?: (r: StepRecord) => void;
  /** Continue after this many optimizer steps (a checkpoint's position; the executor already holds
   *  that checkpoint's weights and moments). */
  start?: TrainStart;
  /** Called after every `train.checkpointEvery`-th step and after the last step (when set). */
  onCheckpoint?: (at: TrainPosition) => Promise<void>;
  /** The volumes' preprocessing (their shape and pad value); needed when `train.augment` is set. */
  preprocess?: Pick<Preprocess, 'size' | 'padValue'>;
}

/** Where a resumed run picks up: the steps done, and what the loop reports for them. */
export interface TrainStart { step: number; firstLoss: number; lastLoss: number; elapsed: number; epochLoss?: EpochLoss }

/** Epoch-mean losses: of the first and of the latest finished epoch, and the running sum of the
 *  one under way (so a resumed run reports what an uninterrupted one would). A single step's loss
 *  is one batch's and swings with it; the means are what a reader compares. */
export interface EpochLoss { first: number; last: number; sum: number; count: number }

/** The data-order position after `step` optimizer steps: the next step is batch `batch + 1` of `epoch`. */
export interface TrainPosition { step: number; totalSteps: number; epoch: number; batch: number; batchesPerEpoch: number; firstLoss: number; lastLoss: number; elapsed: number; epochLoss: EpochLoss }

export interface TrainSummary {
  steps: number; epochs: number; batchesPerEpoch: number; firstLoss: number; lastLoss: number;
  /** Mean loss over the first and over the last epoch (NaN for an epoch not finished). */
  firstEpochLoss: number; lastEpochLoss: number; seconds: number;
}

/** "loss A -> B (epoch means)" where both epochs finished, else the first and last steps' losses.
 *  The epoch means may be null or missing: run.json writes NaN as null, and older run folders
 *  have none. `digits` and `arrow` for the report's typography. */
export function lossSentence(t: { firstLoss: number; lastLoss: number; firstEpochLoss?: number | null; lastEpochLoss?: number | null },
  o: { digits?: number; arrow?: string } = {}): string {
  const d = o.digits ?? 5, arrow = o.arrow ?? '->';
  const a = t.firstEpochLoss, b = t.lastEpochLoss;
  return typeof a === 'number' && typeof b === 'number' && Number.isFinite(a) && Number.isFinite(b)
    ? `loss ${a.toFixed(d)} ${arrow} ${b.toFixed(d)} (mean of the first and of the last epoch)`
    : `loss ${t.firstLoss.toFixed(d)} ${arrow} ${t.lastLoss.toFixed(d)} (first and last step)`;
}

/** The volume order of one epoch: a seeded permutation, independent of every other epoch. */
export function epochOrder(n: number, seed: number, epoch: number): number[] {
  return new Rng(seed, 'shuffle', epoch).shuffle(Array.from({ length: n }, (_, i) => i));
}

/** The dropout seed of a step (u32; the kernels derive their masks from it); micro-batches after
 *  the first of an accumulated step draw their own, so they do not repeat its masks. */
export function dropoutSeed(seed: number, step: number, micro = 0): number {
  return (micro === 0 ? new Rng(seed, 'dropout', step) : new Rng(seed, 'dropout', step, 'micro', micro)).nextU32();
}

/** Volumes per optimizer step: the batch times the micro-batches accumulated. */
export const stepBatch = (train: TrainSpec): number => train.batchSize * (train.accumulate ?? 1);

/** Steps and schedule of a run; E5564 / E5560 (at the spec's batch / warmup) up front, before any
 *  volume is preprocessed and any device work. */
export function planTraining(volumes: number, train: TrainSpec, source: string | SpecAt): { batchesPerEpoch: number; totalSteps: number; lrAt: (step: number) => number } {
  const at = toSpecAt(source);
  const perStep = stepBatch(train);
  const batchesPerEpoch = Math.floor(volumes / perStep);
  if (batchesPerEpoch === 0) {
    const acc = train.accumulate ?? 1;
    const what = acc > 1 ? `${acc} micro-batches of ${train.batchSize} (${perStep} volumes a step)` : `${train.batchSize}`;
    throw new DiagnosticError(diag('E5564', `the train split has ${volumes} volume(s), fewer than one batch of ${what}`, at([acc > 1 ? '/train/accumulate' : '/train/batchSize', '/train/batchSize'], `batch ${train.batchSize}${acc > 1 ? `, accumulate ${acc}` : ''}`),
      { help: `lower train.batch${acc > 1 ? ' or train.accumulate' : ''} to take at most ${Math.max(1, volumes)} volumes a step, or add training volumes (data.limit, data.volumes)` }));
  }
  const totalSteps = train.epochs * batchesPerEpoch;
  const warmupSteps = durationSteps(train.schedule.warmupSteps, train.schedule.warmupEpochs ?? 0, batchesPerEpoch);
  return { batchesPerEpoch, totalSteps, lrAt: makeSchedule({ ...train.schedule, warmupSteps }, train.optimizer.lr, totalSteps,
    at([(train.schedule.warmupEpochs ?? 0) > 0 ? '/train/schedule/warmupEpochs' : '/train/schedule/warmupSteps', '/train/schedule/kind'], `${warmupSteps} warmup steps`)) };
}

export async function trainLoop(o: TrainLoopOptions): Promise<TrainSummary> {
  const { exec, items, train } = o;
  const { batchesPerEpoch, totalSteps, lrAt } = planTraining(items.length, train, o.source);
  const micro = train.accumulate ?? 1;
  const sentencesAfterStep = train.sentences ? sentencesAfter(train.sentences, batchesPerEpoch) : Infinity;
  const aug = train.augment ?? null, pp = o.preprocess;
  if (aug && !pp) throw new Error('internal: train.augment without the preprocessing it acts on');
  const every = train.checkpointEvery ?? null;
  const start = o.start ?? { step: 0, firstLoss: NaN, lastLoss: NaN, elapsed: 0 };
  if (!Number.isInteger(start.step) || start.step < 0 || start.step > totalSteps) throw new Error(`internal: resume at step ${start.step} of ${totalSteps}`);
  const t0 = performance.now() - 1000 * start.elapsed;
  const elapsed = (): number => (performance.now() - t0) / 1000;
  let step = start.step, firstLoss = start.firstLoss, lastLoss = start.lastLoss;
  const el: EpochLoss = { ...(start.epochLoss ?? { first: NaN, last: NaN, sum: 0, count: 0 }) };
  let fedOnce = false;
  for (let epoch = Math.floor(step / batchesPerEpoch) + 1; epoch <= train.epochs; epoch++) {
    const batches = fullBatches(epochOrder(items.length, o.seed, epoch), stepBatch(train));
    for (let bi = step - (epoch - 1) * batchesPerEpoch; bi < batches.length; bi++) {
      step++;
      const lr = lrAt(step - 1);
      const stepItems = batches[bi]!.map((i) => items[i]!);
      let lossSum = 0;
      let gradNorm: number | null = null;
      for (let m = 0; m < micro; m++) {
        // A row's place in the step batch keys its sentence and augmentation draws.
        const row0 = m * train.batchSize;
        const batch = stepItems.slice(row0, row0 + train.batchSize);
        const loaded = await Promise.all(batch.map((it) => it.load()));
        const volumes = aug ? loaded.map((v, r) => augmentVolume(v, aug, pp!, o.seed, step, row0 + r)) : loaded;
        const text = typeof o.text === 'function'
          ? o.text(batch.map((it, r) => (step > sentencesAfterStep ? sampleReport(it.reportText, o.seed, step, row0 + r, train.sentences!.rate) : it.reportText)))
          : o.text;
        const feeds: Record<string, Float32Array | Int32Array> = { volume: volumeBatch(volumes), input_ids: text.input_ids, attention_mask: text.attention_mask };
        // The pair losses' targets; the CLIP loss has none (its positives are the diagonal).
        if ('targets' in exec.plan.inputs) feeds.targets = targetBatch(batch.map((it) => it.labels));
        if (!fedOnce) { assertFeeds(exec.plan, feeds); fedOnce = true; }
        const last = m === micro - 1;
        await exec.run(feeds, { lr, adamStep: step, dropoutSeed: dropoutSeed(o.seed, step, m) }, { gradNorm: last, ...(micro > 1 ? { micro: { index: m, count: micro } } : {}) });
        lossSum += (await exec.output('loss'))[0]!;
        if (last) gradNorm = exec.gradNorm?.() ?? null;
      }
      // The mean of the micro-batch losses: for row-averaging losses, the loss of the whole step batch.
      const loss = micro === 1 ? lossSum : lossSum / micro;
      const names = stepItems.map((it) => it.volumeName);
      if (!Number.isFinite(loss)) {
        throw new DiagnosticError(diag('E5562',
          `training loss is ${loss} at step ${step} (epoch ${epoch}, batch ${bi + 1}, learning rate ${lr.toExponential(3)}; volumes ${names.join(', ')})`, toSpecAt(o.source)(['/train/optimizer/lr'], 'learning rate'),
          { help: 'training diverged: lower train.optimizer.lr, lengthen the warmup, or set train.grad_clip; no adapter or metrics were written' }));
      }
      if (step === 1) firstLoss = loss;
      lastLoss = loss;
      el.sum += loss; el.count++;
      if (bi === batches.length - 1) {
        const mean = el.sum / el.count;
        if (epoch === 1) el.first = mean;
        el.last = mean; el.sum = 0; el.count = 0;
      }
      o.onStep?.({
        step, totalSteps, epoch, epochs: train.epochs, batch: bi + 1, batches: batches.length,
        loss, lr, gradNorm, dropoutSeed: dropoutSeed(o.seed, step), elapsed: elapsed(), volumes: names,
      });
      if (o.onCheckpoint && every !== null && (step % every === 0 || step === totalSteps)) {
        await o.onCheckpoint({ step, totalSteps, epoch, batch: bi + 1, batchesPerEpoch, firstLoss, lastLoss, elapsed: elapsed(), epochLoss: { ...el } });
      }
    }
  }
  return { steps: step, epochs: train.epochs, batchesPerEpoch, firstLoss, lastLoss, firstEpochLoss: el.first, lastEpochLoss: el.last, seconds: elapsed() };
}

/** The trained adapter as the executor holds it (LoRA matrices and modules_to_save parameters). */
export async function trainedAdapter(exec: RunExecutor, model: PlanModel, settings: AdapterSettings): Promise<Adapter> {
  const lora = model.lora;
  if (!lora) throw new Error('internal: readAdapter on a graph without LoRA');
  const modules = [];
  for (const a of lora.adapters) {
    modules.push({
      path: a.module, rank: a.rank, alpha: a.alpha, inFeatures: a.inFeatures, outFeatures: a.outFeatures,
      A: await exec.readTensor(a.a), B: await exec.readTensor(a.b),
    });
  }
  const saved: SavedModule[] = [];
  for (const path of lora.modulesToSave) {
    const params: SavedModule['params'] = {};
    for (const t of model.weights) {
      if (t.role !== 'param' || !t.name.startsWith(`${path}.`)) continue;
      params[t.name.slice(path.length + 1)] = { shape: [...t.shape], data: await exec.readTensor(t.name) };
    }
    saved.push({ path, params });
  }
  return { settings, modules, saved };
}
