// The graph IR: verify accepts what the builders make and catches what a broken pass would make;
// fusion groups are what spec/compiler.md says.
import { describe, expect, it } from 'vitest';
import { buildModel } from '../../compiler/models/index.js';
import { verify } from '../../compiler/graph/verify.js';
import { inferOutput, GraphError } from '../../compiler/graph/shapes.js';
import { fuse } from '../../compiler/passes/fuse.js';
import { injectLora } from '../../compiler/passes/lora.js';
import { needsGradient } from '../../compiler/passes/autodiff.js';
import { attachLoss } from '../../compiler/passes/loss.js';
import type { Graph } from '../../compiler/graph/types.js';
import { experiment } from './fixtures.js';

const e = experiment('ct_clip_tiny');
const g = buildModel(e.model, { imageBatch: 2, textBatch: 4 });

describe('verify', () => {
  it('accepts both architectures, with and without LoRA, eval and train', () => {
    expect(verify(g)).toEqual([]);
    expect(verify(buildModel(experiment('ct_clip').model, { imageBatch: 1, textBatch: 2 }))).toEqual([]);
    expect(verify(injectLora(attachLoss(g, 'pair_ce'), e).graph)).toEqual([]);
  });

  it('catches a wrong output shape, a double producer, a read before write', () => {
    const bad: Graph = structuredClone(g);
    bad.tensors[bad.ops[5]!.outputs[0]!]!.shape = [1, 2, 3];
    expect(verify(bad).join('\n')).toMatch(/op 5 .*expected/);
    const twice: Graph = structuredClone(g);
    twice.ops[6]!.outputs = [...twice.ops[5]!.outputs];
    expect(verify(twice).join('\n')).toMatch(/produced twice/);
    const order: Graph = structuredClone(g);
    [order.ops[3], order.ops[4]] = [order.ops[4]!, order.ops[3]!];
    expect(verify(order).join('\n')).toMatch(/before it is produced|produced/);
  });

  it('shape inference follows the op definitions', () => {
    const f = (shape: number[]) => ({ shape, dtype: 'f32' as const });
    expect(inferOutput('linear', [f([2, 7, 4]), f([5, 4]), f([5])], {}).shape).toEqual([2, 7, 5]);
    expect(inferOutput('dwconv3d', [f([1, 4, 6, 6, 8]), f([8, 1, 3, 3, 3]), f([8])], { kernel: [3, 3, 3], pad: [2, 0, 1, 1, 1, 1] }).shape).toEqual([1, 4, 6, 6, 8]);
    expect(inferOutput('geglu', [f([3, 10])], {}).shape).toEqual([3, 5]);
    expect(() => inferOutput('linear', [f([2, 3]), f([5, 4])], {})).toThrow(GraphError);
    expect(() => inferOutput('reshape', [f([2, 3])], { shape: [7] })).toThrow(GraphError);
  });

  it('reproduces the temporal PEG reshape of (b h w) t d tokens as a plain reshape', () => {
    const s = e.model.image, t = s.frames / s.temporalPatchSize, h = s.imageSize / s.patchSize;
    const peg = g.ops.find((o) => o.module === 'visual_transformer.enc_temporal_transformer.layers.0.0' && o.kind === 'reshape')!;
    expect(g.tensors[peg.inputs[0]!]!.shape).toEqual([2 * h * h, t, s.dim]);
    expect(peg.attrs).toEqual({ shape: [2, t, h, h, s.dim] });
  });
});

describe('fusion', () => {
  it('groups LoRA paths, attention prep and epilogues; every non-view op is in exactly one kernel', () => {
    const lg = injectLora(g, e).graph;
    const { groups } = fuse(lg, new Set());
    const seen = groups.flatMap((k) => k.ops);
    expect(new Set(seen).size).toBe(seen.length);
    const nonView = lg.ops.filter((o) => o.kind !== 'reshape').map((o) => o.id);
    for (const id of nonView) expect(seen).toContain(id);
    const lora = groups.filter((k) => k.kind === 'lora_linear');
    expect(lora).toHaveLength(lg.lora!.adapters.length);
    expect(lora.every((k) => k.ops.map((i) => lg.ops[i]!.kind).sort().join() === 'add,dropout,linear,linear,linear,scale')).toBe(true);
    // Attention is one kernel over views; CTViT's q/k l2norm + q_scale/k_scale are l2norm_scale kernels.
    expect(groups.filter((k) => k.kind === 'attention').every((k) => k.ops.filter((i) => lg.ops[i]!.kind !== 'reshape').length === 1)).toBe(true);
    const s = e.model.image;
    expect(groups.filter((k) => k.kind === 'l2norm_scale')).toHaveLength(2 * (s.spatialDepth + s.temporalDepth));
    // Epilogues are (activation)? (residual)?: BERT's intermediate GELU and output residual, CTViT to_out + residual.
    expect(groups.some((k) => k.kind === 'linear' && k.epilogue.join() === 'gelu')).toBe(true);
    const toOut = groups.find((k) => lg.ops[k.ops[0]!]!.module === 'visual_transformer.enc_spatial_transformer.layers.0.1.to_out')!;
    expect(toOut.epilogue).toEqual(['add']);
    expect(groups.every((k) => !['linear', 'lora_linear'].includes(k.kind) || ['', 'gelu', 'add', 'gelu,add'].includes(k.epilogue.join()))).toBe(true);
  });

  it('keeps nonlinear epilogues out of kernels that backward passes through', () => {
    const tg = injectLora(attachLoss(g, 'pair_mse'), e).graph;
    const needs = needsGradient(tg);
    const { groups } = fuse(tg, needs);
    for (const k of groups) {
      for (const i of k.ops) {
        const op = tg.ops[i]!;
        if (op.kind === 'gelu' && k.kind !== 'elementwise') expect(needs.has(op.outputs[0]!)).toBe(false);
      }
    }
  });
});
