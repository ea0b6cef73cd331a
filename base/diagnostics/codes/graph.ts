// Diagnostic codes E3xxx. One entry per code: its one-line title (the message says the specifics).
// Codes are never reused or renumbered once released.
export const GRAPH_CODES = {
  // E300x: LoRA targets (compiler/passes/lora.ts)
  E3001: 'LoRA target matches no module',
  E3002: 'LoRA target matches a module that is not a linear layer',
  E3003: 'module matched by more than one LoRA target',
  E3004: 'invalid LoRA target pattern',
  E3005: 'modules_to_save entry matches no module',
  E3006: 'layer selection leaves a LoRA target with no module',
  E3007: 'LoRA rank larger than the adapted layer',
  W3008: 'LoRA target adapts a module the forward never uses',
  // E301x: model sizes (compiler/models)
  E3010: 'model sizes do not divide evenly',
  // E302x: build artifacts (compiler/build.ts)
  E3020: 'cannot write build output',
  E3021: 'nothing to build',
  E3022: 'cannot read resolved experiment file',
  // W3023 (precision other than fp32 not implemented) is retired: `precision bf16|fp16` builds
  // 16-bit plans (compiler/plan/storage.ts).
  // E3028: reading a build folder back (`medctc verify`, cli/review/verify.ts)
  E3028: 'medctc.lock missing or invalid',
} as const satisfies Record<string, string>;
