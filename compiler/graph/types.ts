// The model graph IR: the contract between the model builders, the passes (LoRA, fusion,
// train lowering) and every consumer (plan lowering, CPU interpreter, ONNX exporter).
// Every op's exact semantics (inputs, attrs, output shape) is written down in spec/compiler.md.
// Tensors are referenced by their numeric id; ids are dense indices into `Graph.tensors`.

export const GRAPH_IR_VERSION = 1 as const;

export type DType = 'f32' | 'i32';

/**
 * - input: fed by the caller each step (volume, token ids, mask, labels).
 * - param: a learnable tensor, named EXACTLY as in the PyTorch state dict (so weights load by name).
 * - buffer: state-dict tensor that is not a parameter (VQ codebook, LayerNorm beta of CTViT).
 * - activation: produced by exactly one op.
 */
export type TensorRole = 'input' | 'param' | 'buffer' | 'activation';

/** Seeded initialisation used when no weights file is given (PyTorch defaults of each module). */
export type Init =
  | { kind: 'zeros' }
  | { kind: 'ones' }
  | { kind: 'const'; value: number }
  | { kind: 'uniform'; bound: number }   // U(-bound, bound)
  | { kind: 'normal'; std: number };     // N(0, std^2)

export interface Tensor {
  id: number;
  /** Params/buffers: state-dict key. Inputs: the feed name. Activations: `<module path>:<label>`. */
  name: string;
  shape: number[];
  dtype: DType;
  role: TensorRole;
  /** Params and buffers only. */
  init?: Init;
  /** Params only: whether the optimizer updates it. */
  trainable?: boolean;
  /** Params only: set on tensors the LoRA pass created (`...lora_A.weight`), so reports can group them. */
  lora?: boolean;
}

export type ModuleKind =
  | 'linear' | 'layer_norm' | 'conv3d' | 'embedding' | 'scalar'
  | 'attention' | 'peg' | 'feed_forward' | 'transformer' | 'position_bias' | 'vector_quantize'
  | 'bert_layer' | 'bert_embeddings' | 'bert' | 'ctvit' | 'ct_clip' | 'sequential' | 'lora';

/** A node of the module tree (PyTorch's named_modules). LoRA targets select these. */
export interface Module {
  path: string;
  kind: ModuleKind;
  /** linear/conv3d/embedding: in/out features (embedding: in = rows). layer_norm: in = out = normalised size. */
  inFeatures?: number;
  outFeatures?: number;
  bias?: boolean;
  /** Names of the params and buffers directly owned by this module. */
  tensors: string[];
  /** False for modules that exist in the state dict but no op reads (decoder heads, pooler, `_extra`). */
  used: boolean;
}

export interface OpAttrs {
  linear: Record<string, never>;
  matmul: { transB: boolean };
  add: Record<string, never>;
  mul: Record<string, never>;
  scale: { factor: number };
  exp: Record<string, never>;
  gelu: Record<string, never>;
  leaky_relu: { slope: number };
  geglu: Record<string, never>;
  layer_norm: { eps: number };
  l2norm: { eps: number };
  attention: { scale: number; hasBias: boolean; hasMask: boolean };
  reshape: { shape: number[] };
  permute: { perm: number[] };
  slice: { axis: number; start: number; end: number };
  mean: { axis: number };
  dwconv3d: { kernel: [number, number, number]; pad: [number, number, number, number, number, number] };
  embedding: Record<string, never>;
  rel_pos_grid: { h: number; w: number };
  vq_nearest: Record<string, never>;
  dropout: { p: number; stream: number };
  pair_mse_loss: Record<string, never>;
  pair_ce_loss: Record<string, never>;
  clip_loss: Record<string, never>;
}

export type OpKind = keyof OpAttrs;

export interface OpOf<K extends OpKind> {
  id: number;
  kind: K;
  inputs: number[];
  outputs: number[];
  attrs: OpAttrs[K];
  /** Path of the module whose forward emitted this op ('' for the root). */
  module: string;
}

export type Op = { [K in OpKind]: OpOf<K> }[OpKind];

export interface Graph {
  irVersion: typeof GRAPH_IR_VERSION;
  /** Architecture it was built from, e.g. `ct_clip`. */
  architecture: string;
  tensors: Tensor[];
  /** In execution order (a topological order). */
  ops: Op[];
  /** Module tree in state-dict order; keys are module paths ('' is the root). */
  modules: Module[];
  inputs: number[];
  /** Named graph outputs (image_latent, text_latent, logits, loss). */
  outputs: { name: string; tensor: number }[];
  /** Set by the LoRA pass; null when the graph carries no adapters. */
  lora: LoraInfo | null;
}

/** One adapted linear: y = base(x) + B(A(dropout(x))) * scaling. */
export interface LoraAdapter {
  module: string;
  rank: number;
  alpha: number;
  scaling: number;
  inFeatures: number;
  outFeatures: number;
  /** Tensor ids of lora_A.weight [r, in] and lora_B.weight [out, r]. */
  a: number;
  b: number;
  /** Index of the LoRA target (in the IR) that selected this module. */
  target: number;
}

export interface LoraInfo {
  adapters: LoraAdapter[];
  dropout: number;
  /** Full-trained modules (PEFT modules_to_save). */
  modulesToSave: string[];
}
