// The resolved experiment IR: the contract between the checker (which produces it from `.medct`
// source) and everything downstream (model builders, passes, runtime). Every value is explicit:
// defaults applied, imports and `extends` flattened, sweeps expanded (one IR per variant).
// JSON-serialisable by construction; `spec/experiment.schema.json` describes exactly this shape.

export const EXPERIMENT_IR_VERSION = 1 as const;

export type Encoder = 'text' | 'image';
export type Architecture = 'ct_clip' | 'ct_clip_tiny';
export type BackendName = 'auto' | 'cpu' | 'webgpu' | 'cuda' | 'reference';

export interface ResolvedExperiment {
  irVersion: typeof EXPERIMENT_IR_VERSION;
  /** Experiment name; for a sweep variant, the base name plus a variant suffix (e.g. `medct-vlm@rank=8`). */
  name: string;
  /** Set when this IR is one variant of a sweep: the swept bindings that produced it. */
  variant: { base: string; bindings: Record<string, number | string | boolean> } | null;
  seed: number;
  backend: BackendName;
  model: ModelSpec;
  lora: LoraSpec | null;
  data: DataSpec;
  prompts: PromptSpec;
  train: TrainSpec | null;
  evaluate: EvaluateSpec;
  outputs: OutputSpec;
  /** Files the experiment was resolved from (the entry file first, then imports in load order), as given relative to the entry file's folder. */
  sources: string[];
  /** For every value in this IR, where it came from. Keys are JSON Pointers into this object (e.g. `/lora/targets/0/rank`). */
  provenance: Record<string, Provenance>;
}

export type Provenance =
  | { kind: 'source'; file: string; line: number; col: number }
  | { kind: 'default' }
  | { kind: 'inherited'; from: string; file: string; line: number; col: number }
  | { kind: 'sweep'; file: string; line: number; col: number }
  /** Set on the command line (`--set ARG`); file is `<command line>`, line the override's position among them. */
  | { kind: 'override'; arg: string; file: string; line: number; col: number };

// ---------------------------------------------------------------- model

export interface ModelSpec {
  architecture: Architecture;
  /** Path to a safetensors file with the base weights (PyTorch state-dict names), or null: seeded random init. */
  weights: string | null;
  image: ImageEncoderSizes;
  text: TextEncoderSizes;
  /** CLIP latent size (512 for CT-CLIP). */
  latentDim: number;
}

/** CTViT sizes. Input volume is (1, frames, imageSize, imageSize); patches of temporalPatchSize x patchSize x patchSize voxels. */
export interface ImageEncoderSizes {
  dim: number;               // 512
  spatialDepth: number;      // 4
  temporalDepth: number;     // 4
  heads: number;             // 8
  dimHead: number;           // 32
  imageSize: number;         // 480 (H = W)
  frames: number;            // 240 (D)
  patchSize: number;         // 20
  temporalPatchSize: number; // 10
  codebookSize: number;      // 8192
  /** GEGLU inner size; CT-CLIP uses int(4 * 2/3 * dim) = 1365. */
  ffInner: number;
  /** Whether the encoded tokens go through the vector quantiser (CT-CLIP: yes). false: the tokens
   *  go on unquantised; the codebook buffers stay in the state dict, unread. The checker always
   *  writes it; hand-written IR may omit it (= true). */
  quantize?: boolean;
}

/** Whether the image encoder quantises: the one place the omitted `quantize` means true. */
export const imageQuantizes = (s: Pick<ImageEncoderSizes, 'quantize'>): boolean => s.quantize ?? true;

/** BERT sizes (CXR-BERT specialized for ct_clip). */
export interface TextEncoderSizes {
  vocabSize: number;         // 30522
  hidden: number;            // 768
  layers: number;            // 12
  heads: number;             // 12
  intermediate: number;      // 3072
  maxPositions: number;      // 512
  typeVocabSize: number;     // 2
  /** Sequence length prompts are padded/truncated to at run time. */
  maxLength: number;
  /** Path to vocab.txt or tokenizer.json; null means the model's bundled vocabulary (tiny model only). */
  vocab: string | null;
}

// ---------------------------------------------------------------- LoRA

export type TargetMatch =
  /** Glob over dotted module paths, matched against path suffixes on a segment boundary:
   *  `*` = any characters within one segment, `**` = any number of whole segments, `{a,b}` = alternation. */
  | 'glob'
  /** ECMAScript regex that must match the whole module path (PEFT's string `target_modules`). */
  | 'regex';

export interface LoraTarget {
  encoder: Encoder;
  match: TargetMatch;
  pattern: string;
  rank: number;
  alpha: number;
}

export interface LoraSpec {
  targets: LoraTarget[];
  dropout: number;            // in [0, 1)
  /** Scaling alpha / sqrt(r) instead of alpha / r. */
  rslora: boolean;
  /** 'kaiming': A ~ U(-1/sqrt(in), 1/sqrt(in)), B = 0 (PEFT default). 'gaussian': A ~ N(0, 1/r), B = 0. */
  init: 'kaiming' | 'gaussian';
  /** Layer indices to adapt per encoder (PEFT layers_to_transform); null = all layers. */
  layers: { text: number[] | null; image: number[] | null };
  /** Module paths (glob, same rules as targets) trained fully, excluded from LoRA (PEFT modules_to_save). */
  modulesToSave: string[];
}

// ---------------------------------------------------------------- data

export interface Preprocess {
  /** HU window [lo, hi]. */
  windowHU: [number, number];
  /** Target spacing (z, y, x) in mm. */
  spacingMm: [number, number, number];
  /** Centre crop / pad target (D, H, W) in voxels. */
  size: [number, number, number];
  /** Values are divided by this after windowing (CT-CLIP: 1000). */
  scale: number;
  /** Pad value after scaling (CT-CLIP: -1). */
  padValue: number;
  /** Where HU come from (HU_SOURCES); the checker always writes it, hand-written IR may omit it
   *  (= 'header_and_metadata', what CT-CLIP's scripts do). */
  hu?: HuSource;
}

/** How stored voxel values v become HU, given the NIfTI header's scl_slope/scl_inter (hs, hi; nibabel
 *  semantics: unset = 1, 0) and the metadata table's RescaleSlope/RescaleIntercept (ms, mi):
 *  'header_and_metadata': ms * (hs * v + hi) + mi — CT-CLIP's scripts (nibabel, then the metadata);
 *  'header': hs * v + hi — volumes whose header already gives HU (CT-RATE v2);
 *  'metadata': ms * v + mi — the header's scaling ignored;
 *  'none': v — stored values are HU. */
export const HU_SOURCES = ['header_and_metadata', 'header', 'metadata', 'none'] as const;
export type HuSource = (typeof HU_SOURCES)[number];

/** Acquisition sites of the synthetic generator (`data synthetic { site "..." }`). The names are
 *  part of the experiment language; runtime/data/synth/sites.ts holds each site's imaging
 *  parameters under these names. */
export const SYNTHETIC_SITES = ['source', 'target'] as const;
export type SyntheticSite = (typeof SYNTHETIC_SITES)[number];
export const isSyntheticSite = (s: string): s is SyntheticSite => (SYNTHETIC_SITES as readonly string[]).includes(s);

export type DataSource =
  /** A CT-RATE-layout folder on disk. */
  | { kind: 'ct_rate'; root: string }
  /** Generated with `medctc synth` semantics into `root` (created if absent, reused if its manifest matches). */
  | { kind: 'synthetic'; root: string; volumes: number; seed: number; site: SyntheticSite; shape: [number, number, number] };

export interface DataSpec {
  source: DataSource;
  trainSplit: string;   // e.g. "train"
  evalSplit: string;    // e.g. "valid"
  /** Use at most this many volumes per split (null = all). */
  limit: number | null;
  preprocess: Preprocess;
  /** Folder for the preprocessed-volume cache. */
  cacheDir: string;
}

// ---------------------------------------------------------------- prompts

export interface PromptSpec {
  /** Templates containing `{pathology}`. */
  positive: string;
  negative: string;
  /** Pathology names, in label-column order. */
  pathologies: string[];
}

// ---------------------------------------------------------------- training

export interface TrainSpec {
  /** 'pair_mse': CT-CLIP VocabFine (softmax over (present, absent) logits, MSE to the one-hot target).
   *  'pair_ce': cross-entropy over the same pair. 'clip': symmetric InfoNCE between volumes and reports. */
  loss: 'pair_mse' | 'pair_ce' | 'clip';
  optimizer: { kind: 'adamw'; lr: number; beta1: number; beta2: number; eps: number; weightDecay: number };
  /** Warmup as written: `warmup N steps` sets warmupSteps, `warmup X epochs` sets warmupEpochs (the other is 0).
   *  Epochs become steps only at run time (round(X x batches per epoch)), when the train split's size is known.
   *  The checker always writes warmupEpochs; hand-written IR may omit it (= 0). */
  schedule: { kind: 'constant' | 'cosine' | 'linear'; warmupSteps: number; warmupEpochs?: number };
  epochs: number;
  /** Volumes per executor run (the micro-batch when `accumulate` > 1; the train plan is built for it). */
  batchSize: number;
  /** Micro-batches whose averaged gradients make one optimizer step (effective batch
   *  batchSize x accumulate). The checker always writes it; hand-written IR may omit it (= 1). */
  accumulate?: number;
  /** Max global gradient L2 norm, or null for no clipping. */
  gradClip: number | null;
  precision: 'fp32' | 'bf16' | 'fp16';
  /** Train every base weight too (pretraining / full fine-tune); LoRA then optional. */
  trainBase: boolean;
  /** Write the training checkpoint (runtime/run/checkpoint.ts) every N optimizer steps, and at the
   *  end; null: only at the end. The checker always writes it; hand-written IR may omit it (= null). */
  checkpointEvery?: number | null;
  /** `loss clip` only: from step afterSteps + round(afterEpochs x batches per epoch) on, each row's
   *  report is replaced, with probability `rate`, by one of its sentences (drawn per step and row
   *  from the seed's `sentences` stream). null: whole reports. The checker always writes it;
   *  hand-written IR may omit it (= null). */
  sentences?: { rate: number; afterSteps: number; afterEpochs: number } | null;
  /** Acquisition augmentation of the training volumes (runtime/train/augment.ts): each row moved by
   *  up to `shiftVoxels` voxels along each axis and cut to a random `zCoverage`-100% of its slices,
   *  drawn per step and row from the seed's `augment` stream; the pad value fills what is left.
   *  null: the volumes as preprocessed. The checker always writes it; hand-written IR may omit it (= null). */
  augment?: { shiftVoxels: number; zCoverage: number } | null;
}

// ---------------------------------------------------------------- evaluation

export type Metric = 'auroc' | 'accuracy' | 'macro_f1' | 'weighted_f1' | 'precision' | 'recall' | 'specificity';

export interface EvaluateSpec {
  metrics: Metric[];
  /** 'roc_corner': CT-CLIP's find_threshold (linspace(0,1,100), strict >, min distance to (0,1), ties -> larger t). */
  threshold: { kind: 'roc_corner' } | { kind: 'youden' } | { kind: 'fixed'; value: number };
  /** Bootstrap confidence intervals; null = none. */
  bootstrap: { samples: number; confidence: number; seed: number } | null;
  /** Evaluate the base model before training too (zero-shot baseline). */
  baseline: boolean;
}

// ---------------------------------------------------------------- outputs

export interface OutputSpec {
  /** Folder for run outputs (checkpoints, adapters, metrics), relative to the spec file. */
  dir: string;
  /** Write a PEFT-compatible adapter (adapter_config.json + adapter_model.safetensors). */
  adapter: boolean;
  /** Write the per-volume scores as CSV. */
  scores: boolean;
}

/** The 18 CT-RATE labels, in CSV column order. */
export const CT_RATE_PATHOLOGIES = [
  'Medical material',
  'Arterial wall calcification',
  'Cardiomegaly',
  'Pericardial effusion',
  'Coronary artery wall calcification',
  'Hiatal hernia',
  'Lymphadenopathy',
  'Emphysema',
  'Atelectasis',
  'Lung nodule',
  'Lung opacity',
  'Pulmonary fibrotic sequela',
  'Pleural effusion',
  'Mosaic attenuation pattern',
  'Peribronchial thickening',
  'Consolidation',
  'Bronchiectasis',
  'Interlobular septal thickening',
] as const;
