// Diagnostic codes E55xx-E59xx: runtime building blocks (weight files, adapters, training helpers,
// evaluation). Kept apart from DATA_CODES (E50xx-E54xx) so the two tables are edited independently.
// One entry per code: its one-line title (the message says the specifics). Never reused or renumbered.
export const RUNTIME_CODES = {
  // E550x-E552x: safetensors files (runtime/io/safetensors.ts)
  E5501: 'cannot read safetensors file',
  E5502: 'safetensors file is truncated',
  E5503: 'safetensors header is too large',
  E5504: 'safetensors header is not valid JSON',
  E5505: 'invalid safetensors header entry',
  E5506: 'unsupported safetensors dtype',
  E5507: 'duplicate tensor name in safetensors header',
  E5508: 'tensor data offsets out of range',
  E5509: 'tensor data regions overlap',
  E5510: 'safetensors data buffer has a hole',
  E5511: 'tensor byte size disagrees with its shape and dtype',
  E5512: 'tensor not found in safetensors file',
  E5513: 'tensor dtype cannot be read as requested',
  E5520: 'cannot write output file',
  // E553x: PEFT adapters (runtime/adapter)
  E5530: 'cannot read adapter_config.json',
  E5531: 'invalid adapter_config.json',
  E5532: 'adapter tensor missing',
  E5533: 'adapter tensor has the wrong shape',
  E5534: 'unexpected tensor in adapter file',
  E5535: 'adapter tensor holds a non-finite value',
  // E556x: training helpers (runtime/train)
  E5560: 'warmup is longer than training',
  E5561: 'gradient norm is not finite',
  // E5562-E5569: running an experiment (runtime/run)
  E5562: 'training loss is not finite',
  E5563: 'data does not fit the model input',
  E5564: 'too few training volumes for one batch',
  E5565: 'adapter does not fit the experiment',
  E5566: 'base weights do not fit the model',
  E5567: 'base weights hold a non-finite value',
  E5568: 'build folder does not match its lock',
  E5569: 'not a build folder',
  // E557x: evaluation (runtime/eval)
  E5570: 'model produced a non-finite score',
  // E558x: PyTorch checkpoints (runtime/io/pt.ts, zip.ts, torch-pickle.ts)
  E5580: 'cannot read PyTorch checkpoint',
  E5581: 'PyTorch checkpoint is truncated or corrupt',
  E5582: 'checkpoint names a global outside the allow-list',
  E5583: 'checkpoint holds an object that is not a tensor state dict',
  E5584: 'checkpoint holds no single state dict',
  E5585: 'unsupported tensor storage',
  E5586: 'tensor view lies outside its storage',
  E5587: 'tensor not found in checkpoint',
  // E559x: run folders (runtime/run/outputs.ts: staging, then results moved into place)
  E5590: 'run folder holds files medctc did not write',
  E5591: 'run folder is being written by another run',
  // Training checkpoints and --resume (runtime/run/checkpoint.ts)
  E5592: 'cannot resume from the training checkpoint',
  E5593: 'checkpoint was written for another experiment',
  // E560x: medctc embed (runtime/run/embed.ts, runtime/io/npy.ts)
  E5600: 'cannot read NumPy array',
  E5601: 'embed input does not fit the model',
  E5602: 'cannot read embed input',
} as const satisfies Record<string, string>;

export type RuntimeCode = keyof typeof RUNTIME_CODES;
