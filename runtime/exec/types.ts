// The plan executor's contract (shared by runtime/run, the train/eval loops and the tests).
//
// Runtime scalars travel in one 4 x u32 `params` buffer the executor uploads before each run:
//   params = [dropoutSeed, adamStep (1-based), lr as f32 bits, 0]
// Kernels that need them (lora_linear/lora_shrink dropout, masked gemm, adamw) bind it under the
// reserved step-arg name `params` (compiler/kernels/launch.ts); AdamW reads lr from params[2].
//
// Gradient rule (with compiler/kernels/launch-backward.ts): at the start of every run() the
// executor zeroes every `param_grad` buffer. Backward kernels then write a gradient buffer the
// first time and add into it when it is listed in PlanKernel.backward.accumulate.
//
// Invariant kernels (eval plans, PlanKernel.invariant): run() dispatches them on the first run and
// whenever loadWeights, writeTensor or prepare was called since, or a feed they read (the prompt
// feeds) or the scalars differ byte for byte from the run that last computed them; otherwise it
// reuses their results. Outputs are bit-identical to recomputing every time (the same kernels
// read the same bytes). Writing weights by any other path than this interface is not tracked.
import type { Plan } from '../../compiler/plan/types.js';
import type { Device } from '../device/types.js';
import type { MemoryReport } from './arena.js';

export interface RunScalars { dropoutSeed: number; adamStep: number; lr: number } // lr: this step's learning rate

export type Feeds = Record<string, Float32Array | Int32Array>;

export interface RunOptions {
  /** Record the gradient norm (train plans): the gradients are read back after the backward
   *  phase, before the optimizer phase clips them, which costs one synchronisation per step. */
  gradNorm?: boolean;
  /** Gradient accumulation (train plans, `train.accumulate`): this run is micro-batch `index` of
   *  `count`. Every micro-batch runs forward and backward; its gradients are added, in micro-batch
   *  order and in f32, into a host-side sum (the device holds one micro-batch's gradients only, so
   *  device memory stays the plan's). Only the last one divides the sum by `count`, writes it back
   *  into the gradient buffers and runs the optimizer phase (grad_clip, AdamW), so a step of
   *  `count` micro-batches of B is a step on their mean gradient: that of one batch of count x B
   *  for losses that average over their rows, up to the order of the f32 additions. */
  micro?: { index: number; count: number };
}

export interface Executor {
  readonly plan: Plan;
  readonly device: Device;
  /** Planned and allocated device bytes per arena. */
  readonly memory: MemoryReport;
  /** Uploads every weight buffer: by state-dict name from `tensors` when given, else seeded init (plan.model.weights' init). */
  loadWeights(opts: { seed: number; tensors?: ReadonlyMap<string, Float32Array> }): Promise<void>;
  /** Runs the 'prepare' kernels (eval: LoRA merge); call after weights change. Invalidates invariant results. */
  prepare(): Promise<void>;
  /** One forward (train plans: + backward + optimizer) over the feeds (by plan.inputs name);
   *  eval plans skip invariant kernels whose inputs are unchanged (see above). */
  run(feeds: Feeds, scalars?: Partial<RunScalars>, opts?: RunOptions): Promise<void>;
  /** Train plans run with `{ gradNorm: true }`: the global L2 norm of that run's gradients over
   *  every trainable parameter, before grad_clip scales them (torch's clip_grad_norm_ return
   *  value), summed in float64 on the host; null when the last run did not record it. */
  gradNorm?(): number | null;
  /** A plan output by name (plan.outputs), e.g. 'logits', 'image_latent', 'loss'. */
  output(name: string): Promise<Float32Array>;
  /** Read/write a weight by its graph tensor (state-dict) name, e.g. a trained lora_A. */
  readTensor(name: string): Promise<Float32Array>;
  writeTensor(name: string, data: Float32Array): Promise<void>;
  destroy(): void;
}


/** Packs RunScalars into the params buffer layout above. */
export function packScalars(s: RunScalars): Uint32Array {
  const p = new Uint32Array(4);
  p[0] = s.dropoutSeed >>> 0;
  p[1] = s.adamStep >>> 0;
  p[2] = new Uint32Array(Float32Array.of(s.lr).buffer)[0]!;
  return p;
}
