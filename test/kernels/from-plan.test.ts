// Plan kernel parameters (compiler/plan/specs.ts shapes) map onto KernelSpecs, or say why not.
import { describe, it, expect } from 'vitest';
import { fromPlanSpec } from '../../compiler/kernels/from-plan.js';

describe('fromPlanSpec', () => {
  it('maps a LoRA linear with a residual epilogue, keeping its dropout stream', () => {
    expect(fromPlanSpec({ kind: 'lora_linear', m: 512, k: 768, n: 768, r: 8, scaling: 2, dropout: 0.1, stream: 3, bias: true, epilogue: ['add'] })).toEqual({
      specs: [{ kind: 'lora_linear', m: 512, k: 768, n: 768, r: 8, scaling: 2, dropout: 0.1, stream: 3, bias: true, activation: 'none', residual: true }],
    });
    // A dropout-carrying plan spec without its stream is an error, not silently stream 0.
    expect(() => fromPlanSpec({ kind: 'lora_linear', m: 4, k: 4, n: 4, r: 2, scaling: 1, dropout: 0.1, bias: false })).toThrow(/stream/);
  });
  it('keeps the pair count of pair losses (the plan spec already counts B·P pairs; compiler/plan/specs.ts)', () => {
    expect(fromPlanSpec({ kind: 'pair_mse_loss', batch: 72 })).toEqual({ specs: [{ kind: 'pair_mse_loss', batch: 72 }] });
  });
  it('refuses what it cannot run, with the reason', () => {
    expect(fromPlanSpec({ kind: 'linear', m: 2, k: 2, n: 2, bias: false, epilogue: ['scale'] })).toEqual({ unsupported: 'linear: epilogue [scale] (only gelu then add are fused)' });
    expect(fromPlanSpec({ kind: 'copy', op: 'permute' })).toHaveProperty('unsupported');
    expect(fromPlanSpec({ kind: 'attention', batch: 1, heads: 8, nq: 4, nk: 4, dh: 8, scale: 8, qkNorm: true, bias: false, mask: false })).toHaveProperty('unsupported');
  });
});
