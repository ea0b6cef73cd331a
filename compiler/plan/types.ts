// The execution plan: the backend-neutral contract between the compiler and the runtime
// backends. It is the whole program: kernels run in array order, each with the device steps
// (typed KernelSpecs over buffer ids) the compiler lowered it to once; every buffer, scratch
// included, has its arena offset; `model` names every weight with its shape, initialiser and
// role, and the LoRA adapters with their PEFT keys. The runtime needs nothing else (no graph,
// no re-lowering). spec/plan.schema.json describes exactly this shape, and every plan the
// compiler emits is validated against it.
import type { Init } from '../graph/types.js';
import type {
  AddSpec, AttentionSpec, ClipLossSpec, DwConv3dSpec, EmbeddingSpec, GegluSpec, GeluSpec, GemmSpec, KernelSpec, L2NormScaleSpec, L2NormSpec,
  LayerNormSpec, LinearSpec, LoraLinearSpec, MeanPoolSpec, PairLossSpec, RelPosGridSpec, VqNearestSpec,
} from '../kernels/spec.js';

export const PLAN_VERSION = 3 as const;

export type PlanMode = 'eval' | 'train';

/**
 * - input: fed each step. weight: a param or buffer (weights arena, loaded once).
 * - activation: forward intermediate. saved: forward intermediate kept for backward.
 * - gradient: gradient of an activation (backward scratch).
 * - param_grad / optimizer: per trainable param gradient and AdamW moments (state arena).
 * - merged_weight: W + scaling * B @ A, computed once before eval (LoRA merged).
 * - scratch: a temporary of one kernel's steps (a norm's row statistics, a partial gradient).
 * - params: the runtime scalars (4 x u32: dropout seed, AdamW step, lr bits, 0), state arena.
 */
export type BufferKind = 'input' | 'weight' | 'activation' | 'saved' | 'gradient' | 'param_grad' | 'optimizer' | 'merged_weight' | 'scratch' | 'params';

/** weights and state are persistent (sum of sizes); work is liveness-planned and reused. */
export type Arena = 'weights' | 'state' | 'work';

export interface PlanBuffer {
  id: number;
  name: string;
  shape: number[];
  /** bf16/f16: an f32 tensor stored in 16 bits (precision bf16|fp16, compiler/plan/storage.ts). */
  dtype: 'f32' | 'i32' | 'u32' | 'bf16' | 'f16';
  bytes: number;
  kind: BufferKind;
  arena: Arena;
  /** Byte offset in its arena (aligned to PlanMemory.alignment). */
  offset: number;
  /** Graph tensor it holds, or null for buffers only the plan has (gradients, optimizer state, stats). */
  tensor: number | null;
  /** work arena: indices of the first kernel that writes it and the last that reads it (inclusive).
   *  Inputs are live from -1 (written before kernel 0). Persistent arenas: null. */
  live: [number, number] | null;
}

export type KernelPhase = 'prepare' | 'forward' | 'backward' | 'optimizer';

// What a plan kernel computes, by kind (spec/compiler.md "Kernels"). Most forward kinds are the
// KernelSpec the device runs; the others are lowered to device steps by compiler/kernels/launch.ts.
export type CopyPlanSpec =
  | { kind: 'copy'; op: 'permute'; inShape: number[]; perm: number[] }
  | { kind: 'copy'; op: 'slice'; inShape: number[]; axis: number; start: number; end: number };
/** A chain of element-wise graph ops (one op per kernel is what the devices run). */
export type ElementwiseChainSpec = { kind: 'elementwise'; numel: number; ops: string[]; slope: number; factor: number };
/** Eval prepare: W' = W + scaling·B·A, W [n,k]. */
export type LoraMergePlanSpec = { kind: 'lora_merge'; k: number; n: number; r: number; scaling: number };
/** torch clip_grad_norm_ over every trainable gradient. */
export type GradClipPlanSpec = { kind: 'grad_clip'; maxNorm: number; tensors: number; elements: number };
/** One multi-tensor AdamW step; lr is the configured base rate (each step's rate is a runtime scalar). */
export type AdamWPlanSpec = { kind: 'adamw'; numel: number; lr: number; beta1: number; beta2: number; eps: number; weightDecay: number };

export type ForwardPlanSpec =
  | LinearSpec | LoraLinearSpec | GemmSpec | AttentionSpec | LayerNormSpec | L2NormSpec | L2NormScaleSpec | GegluSpec | AddSpec | GeluSpec
  | ElementwiseChainSpec | MeanPoolSpec | DwConv3dSpec | EmbeddingSpec | CopyPlanSpec | VqNearestSpec | RelPosGridSpec | PairLossSpec | ClipLossSpec;
/** A backward kernel's spec is the spec of the forward kernel it differentiates. */
export type PlanSpec = ForwardPlanSpec | LoraMergePlanSpec | GradClipPlanSpec | AdamWPlanSpec;

/** One device launch sequence of a plan kernel: a KernelSpec over plan buffers. */
export interface PlanStep {
  /** kernelName(spec): the file stem of its sources in the build folder's kernels/. */
  kernel: string;
  spec: KernelSpec;
  /** Buffer ids in kernelBindings(spec) order (scratch and the params buffer are plan buffers too). */
  args: number[];
}

/** Which gradient buffer plays which role in a backward kernel, by the forward kernel's positions. */
export interface BackwardRoles {
  forward: number;
  inputGrads: boolean;
  paramGrads: boolean;
  /** Gradient buffers added into (an earlier kernel wrote them). */
  accumulate: number[];
  /** The gradient this kernel reads for forward output i (null: none flows back from it). */
  dOutputs: (number | null)[];
  /** The gradient this kernel writes for forward input i (null: not needed). */
  dInputs: (number | null)[];
}

export interface PlanKernel {
  id: number;
  /** e.g. lora_linear, attention, layer_norm, lora_linear_backward, adamw. Equal to spec.kind. */
  kind: string;
  phase: KernelPhase;
  /** Graph op ids fused into this kernel (for backward kernels: the forward ops it differentiates). */
  ops: number[];
  /** Module path of the first fused op, for reading plans and profiles. */
  module: string;
  inputs: number[];
  outputs: number[];
  /** What the kernel computes (backward kernels: the forward kernel's spec). */
  spec: PlanSpec;
  /** The device launches that compute it, lowered once by the compiler. */
  steps: PlanStep[];
  /** Backward kernels: which forward kernel they differentiate and the roles of their gradients. Else null. */
  backward: BackwardRoles | null;
  /** Floating-point operations (multiply-add = 2). */
  flops: number;
  /** Eval forward kernels whose inputs derive only from weights and the text feeds, never from the
   *  `volume` feed: the same result for every volume of an evaluation, so the runtime runs them
   *  once and again only when a weight or a text feed changes. Always false in train plans and for
   *  non-forward kernels. Their results read by per-volume kernels are live for the whole plan. */
  invariant: boolean;
}

export interface PlanMemory {
  alignment: number;
  /** Bytes per arena: weights and state are sums; work is the planned peak. */
  weightsBytes: number;
  stateBytes: number;
  workPeakBytes: number;
  /** Sum of all work buffers: what allocating each once without reuse would take. */
  workNaiveBytes: number;
  /** Largest total of simultaneously live work buffers: no placement can go below it. */
  workLowerBoundBytes: number;
}

/** A state-dict tensor of the model (every parameter and buffer, read by the plan or not). */
export interface PlanWeight {
  name: string;
  shape: number[];
  dtype: 'f32' | 'i32';
  role: 'param' | 'buffer';
  trainable: boolean;
  /** Created by the LoRA pass (lora_A / lora_B). */
  lora: boolean;
  /** Seeded initialisation when no weights file gives it (spec/compiler.md "Initialisers"). */
  init: Init | null;
  /** The plan buffer holding it, or null when no kernel of this plan reads it. */
  buffer: number | null;
}

/** One adapted linear (PEFT keys: `<module>.lora_A.weight`, `<module>.lora_B.weight`). */
export interface PlanAdapter {
  module: string;
  rank: number;
  alpha: number;
  scaling: number;
  inFeatures: number;
  outFeatures: number;
  /** Weight names of lora_A [r, in] and lora_B [out, r]. */
  a: string;
  b: string;
  /** Index of the LoRA target (in the IR) that selected this module. */
  target: number;
}

export interface PlanModel {
  weights: PlanWeight[];
  lora: { adapters: PlanAdapter[]; dropout: number; modulesToSave: string[] } | null;
}

export interface Plan {
  planVersion: typeof PLAN_VERSION;
  mode: PlanMode;
  experiment: string;
  architecture: string;
  /** Sizes the plan was lowered for. */
  batch: { images: number; texts: number };
  /** Feeds and results, by name -> buffer id. */
  inputs: Record<string, number>;
  outputs: Record<string, number>;
  buffers: PlanBuffer[];
  kernels: PlanKernel[];
  memory: PlanMemory;
  model: PlanModel;
}
