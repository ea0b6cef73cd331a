// The training loop: epochs x full batches over the train split, reshuffled every epoch with the
// experiment seed, one executor run per step (forward + backward + AdamW on the device) with the
// step's scheduled learning rate, 1-based AdamW step and a fresh dropout seed. A non-finite loss
// stops training with E5562 before anything is written from the diverged weights.
import { DiagnosticError } from '../../base/diagnostics/types.js';
import { diag } from '../../base/diagnostics/catalog.js';
import { toSpecAt, type SpecAt } from './spec-at.js';
import type { PlanModel } from '../../compiler/plan/types.js';
import type { TrainSpec } from '../../compiler/ir/experiment.js';
import type { Adapter, AdapterSettings, SavedModule } from '../adapter/types.js';
import type { DataItem } from '../data/dataset.js';
import { makeSchedule } from '../train/schedule.js';
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
  /** The text feeds: the same every step (the prompts), or per batch (the CLIP loss's reports). */
  text: TextFeeds | ((batch: readonly DataItem[]) => TextFeeds);
  train: TrainSpec;
  seed: number;
  /** The spec file, or where its fields are (named by diagnostics). */
  source: string | SpecAt;
  onStep?: (r: StepRecord) => void;
}

export interface TrainSummary { steps: number; epochs: number; batchesPerEpoch: number; firstLoss: number; lastLoss: number; seconds: number }

/** The volume order of one epoch: a seeded permutation, independent of every other epoch. */
export function epochOrder(n: number, seed: number, epoch: number): number[] {
  return new Rng(seed, 'shuffle', epoch).shuffle(Array.from({ length: n }, (_, i) => i));
}

/** The dropout seed of a step (u32; the kernels derive their masks from it). */
export function dropoutSeed(seed: number, step: number): number {
  return new Rng(seed, 'dropout', step).nextU32();
}

/** Steps and schedule of a run; E5564 / E5560 (at the spec's batch / warmup) up front, before any
 *  volume is preprocessed and any device work. */
export function planTraining(volumes: number, train: TrainSpec, source: string | SpecAt): { batchesPerEpoch: number; totalSteps: number; lrAt: (step: number) => number } {
  const at = toSpecAt(source);
  const batchesPerEpoch = Math.floor(volumes / train.batchSize);
  if (batchesPerEpoch === 0) {
    throw new DiagnosticError(diag('E5564', `the train split has ${volumes} volume(s), fewer than one batch of ${train.batchSize}`, at(['/train/batchSize'], `batch ${train.batchSize}`),
      { help: `lower train.batch to at most ${Math.max(1, volumes)}, or add training volumes (data.limit, data.volumes)` }));
  }
  const totalSteps = train.epochs * batchesPerEpoch;
  // `warmup X epochs` needs the split size, known only here: it becomes round(X * batches per epoch) steps.
  const warmupSteps = train.schedule.warmupSteps + Math.round((train.schedule.warmupEpochs ?? 0) * batchesPerEpoch);
  return { batchesPerEpoch, totalSteps, lrAt: makeSchedule({ ...train.schedule, warmupSteps }, train.optimizer.lr, totalSteps,
    at([(train.schedule.warmupEpochs ?? 0) > 0 ? '/train/schedule/warmupEpochs' : '/train/schedule/warmupSteps', '/train/schedule/kind'], `${warmupSteps} warmup steps`)) };
}

export async function trainLoop(o: TrainLoopOptions): Promise<TrainSummary> {
  const { exec, items, train } = o;
  const { batchesPerEpoch, totalSteps, lrAt } = planTraining(items.length, train, o.source);
  const t0 = performance.now();
  let step = 0, firstLoss = NaN, lastLoss = NaN;
  for (let epoch = 1; epoch <= train.epochs; epoch++) {
    const batches = fullBatches(epochOrder(items.length, o.seed, epoch), train.batchSize);
    for (let bi = 0; bi < batches.length; bi++) {
      step++;
      const batch = batches[bi]!.map((i) => items[i]!);
      const volumes = await Promise.all(batch.map((it) => it.load()));
      const lr = lrAt(step - 1);
      const seedForStep = dropoutSeed(o.seed, step);
      const text = typeof o.text === 'function' ? o.text(batch) : o.text;
      const feeds: Record<string, Float32Array | Int32Array> = { volume: volumeBatch(volumes), input_ids: text.input_ids, attention_mask: text.attention_mask };
      // The pair losses' targets; the CLIP loss has none (its positives are the diagonal).
      if ('targets' in exec.plan.inputs) feeds.targets = targetBatch(batch.map((it) => it.labels));
      if (step === 1) assertFeeds(exec.plan, feeds);
      await exec.run(feeds, { lr, adamStep: step, dropoutSeed: seedForStep }, { gradNorm: true });
      const loss = (await exec.output('loss'))[0]!;
      const names = batch.map((it) => it.volumeName);
      if (!Number.isFinite(loss)) {
        throw new DiagnosticError(diag('E5562',
          `training loss is ${loss} at step ${step} (epoch ${epoch}, batch ${bi + 1}, learning rate ${lr.toExponential(3)}; volumes ${names.join(', ')})`, toSpecAt(o.source)(['/train/optimizer/lr'], 'learning rate'),
          { help: 'training diverged: lower train.optimizer.lr, lengthen the warmup, or set train.grad_clip; no adapter or metrics were written' }));
      }
      if (step === 1) firstLoss = loss;
      lastLoss = loss;
      o.onStep?.({
        step, totalSteps, epoch, epochs: train.epochs, batch: bi + 1, batches: batches.length,
        loss, lr, gradNorm: exec.gradNorm?.() ?? null, dropoutSeed: seedForStep, elapsed: (performance.now() - t0) / 1000, volumes: names,
      });
    }
  }
  return { steps: step, epochs: train.epochs, batchesPerEpoch, firstLoss, lastLoss, seconds: (performance.now() - t0) / 1000 };
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
