// Learning-rate schedules, step-indexed exactly like transformers' get_{constant,linear,cosine}_
// schedule_with_warmup (the schedules CT-CLIP's and most LoRA recipes' numbers were produced with).
import { DiagnosticError, type LabelledSpan } from '../../base/diagnostics/types.js';
import { diag } from '../../base/diagnostics/catalog.js';
import type { TrainSpec } from '../../compiler/ir/experiment.js';

export type ScheduleSpec = TrainSpec['schedule'];

/**
 * The learning rate for optimizer step `step` (0-based: the lr the first update uses is lr(0)),
 * with W = warmupSteps and T = totalSteps:
 *  - warmup, step < W: baseLr * step / W (linear from 0; step 0 therefore has lr 0, as in transformers);
 *  - then, with progress p = (step - W) / max(1, T - W):
 *      constant: baseLr;  linear: baseLr * max(0, 1 - p);  cosine: baseLr * 0.5 * (1 + cos(pi * p)),
 *    so linear and cosine reach 0 at step T (one past the last step taken) and stay 0 after.
 */
export function learningRate(spec: ScheduleSpec, baseLr: number, step: number, totalSteps: number): number {
  const w = spec.warmupSteps;
  if (step < w) return (baseLr * step) / w;
  const p = Math.min(1, (step - w) / Math.max(1, totalSteps - w));
  switch (spec.kind) {
    case 'constant': return baseLr;
    case 'linear': return baseLr * Math.max(0, 1 - p);
    case 'cosine': return baseLr * 0.5 * (1 + Math.cos(Math.PI * p));
  }
}

/** A schedule bound to a run; rejects (E5560) a warmup longer than the run, which would never reach
 *  the configured learning rate. `at` is the spec's warmup (or just the experiment file's name). */
export function makeSchedule(spec: ScheduleSpec, baseLr: number, totalSteps: number, at: string | LabelledSpan = '<experiment>'): (step: number) => number {
  if (spec.warmupSteps > totalSteps) {
    throw new DiagnosticError(diag('E5560',
      `warmup of ${spec.warmupSteps} steps is longer than the ${totalSteps} training steps (epochs x batches per epoch)`,
      typeof at === 'string' ? { file: at, start: 0, end: 0 } : at,
      { help: `lower train.schedule.warmup to at most ${totalSteps}, or train for more epochs` }));
  }
  return (step) => learningRate(spec, baseLr, step, totalSteps);
}

/** A duration written `N steps` or `X epochs` (the checker keeps both parts; one is 0) in steps:
 *  X epochs become round(X * batches per epoch), known only once the train split is listed. */
export function durationSteps(steps: number, epochs: number, batchesPerEpoch: number): number {
  return steps + Math.round(epochs * batchesPerEpoch);
}
