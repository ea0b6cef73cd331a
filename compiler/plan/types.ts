// The execution plan: the backend-neutral contract between the compiler and the runtime
// backends (CPU, WebGPU, CUDA). Kernels run in array order; each names the graph ops fused into
// it and the buffers it reads and writes. spec/plan.schema.json describes exactly this shape,
// and every plan the compiler emits is validated against it.

export const PLAN_VERSION = 2 as const;

export type PlanMode = 'eval' | 'train';

/**
 * - input: fed each step. weight: a param or buffer (weights arena, loaded once).
 * - activation: forward intermediate. saved: forward intermediate kept for backward.
 * - gradient: gradient of an activation (backward scratch).
 * - param_grad / optimizer: per trainable param gradient and AdamW moments (state arena).
 * - merged_weight: W + scaling * B @ A, computed once before eval (LoRA merged).
 */
export type BufferKind = 'input' | 'weight' | 'activation' | 'saved' | 'gradient' | 'param_grad' | 'optimizer' | 'merged_weight';

/** weights and state are persistent (sum of sizes); work is liveness-planned and reused. */
export type Arena = 'weights' | 'state' | 'work';

export interface PlanBuffer {
  id: number;
  name: string;
  shape: number[];
  dtype: 'f32' | 'i32';
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

/** Parameters of a kernel, by kind; see spec/compiler.md "Kernels". */
export interface KernelSpec {
  kind: string;
  [param: string]: number | string | boolean | number[] | string[] | null;
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
  /** What the kernel computes (compiler/kernels/spec.ts for the kinds codegen knows). */
  spec: KernelSpec;
  /** Backward kernels: which forward kernel they differentiate and which gradients they write;
   *  `accumulate` lists gradient buffers added into (an earlier kernel wrote them). Else null. */
  backward: { forward: number; inputGrads: boolean; paramGrads: boolean; accumulate: number[] } | null;
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
}
