// The field names of every block, by path from the experiment block ('' is the experiment itself).
// The parser uses them to let several fields share a line (`rank 24  alpha 48`): inside a block,
// a bare name that is one of the block's fields starts a new entry. The checker uses the same
// table for "unknown field" and its suggestions, so the two can never disagree.
export const FIELDS: Readonly<Record<string, readonly string[]>> = {
  '': ['seed', 'backend', 'model', 'lora', 'data', 'prompts', 'train', 'evaluate', 'outputs'],
  model: ['weights', 'vocab', 'latent', 'image', 'text'],
  'model.image': ['dim', 'spatial_depth', 'temporal_depth', 'heads', 'dim_head', 'image_size', 'frames', 'patch_size', 'temporal_patch_size', 'codebook_size', 'ff_inner', 'quantize'],
  'model.text': ['vocab_size', 'hidden', 'layers', 'heads', 'intermediate', 'max_positions', 'type_vocab_size', 'max_length'],
  lora: ['rank', 'alpha', 'dropout', 'rslora', 'init', 'modules_to_save', 'target', 'layers'],
  'lora.target': ['rank', 'alpha'],
  data: ['root', 'train', 'eval', 'limit', 'preprocess', 'cache', 'volumes', 'seed', 'site', 'shape'],
  'data.preprocess': ['window', 'spacing', 'size', 'scale', 'pad', 'hu'],
  prompts: ['positive', 'negative', 'pathologies', 'declare'],
  train: ['loss', 'optimizer', 'schedule', 'epochs', 'batch', 'grad_clip', 'precision', 'train_base', 'accumulate', 'checkpoint_every', 'sentences', 'augment'],
  'train.sentences': ['rate', 'after'],
  'train.augment': ['shift', 'z_coverage'],
  'train.optimizer': ['lr', 'betas', 'eps', 'weight_decay'],
  'train.schedule': ['warmup'],
  evaluate: ['metrics', 'threshold', 'bootstrap', 'baseline'],
  'evaluate.bootstrap': ['confidence', 'seed'],
  outputs: ['dir', 'adapter', 'scores'],
};

/** Fields of `data` that only a `synthetic` source accepts. */
export const SYNTHETIC_ONLY = ['volumes', 'seed', 'site', 'shape'] as const;

/** Fields that may appear more than once in their block. */
export const REPEATABLE: Readonly<Record<string, readonly string[]>> = { lora: ['target', 'layers'] };
