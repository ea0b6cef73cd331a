// Execution plans: schema validity, memory safety (property-tested placement and real plans),
// determinism, and what train lowering keeps for backward.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { canonicalJson, compileExperiment } from '../../compiler/build.js';
import { liveLowerBound, overlaps, placeBuffers, alignUp } from '../../compiler/plan/memory.js';
import { overlapErrors, validatePlan } from '../../compiler/plan/validate.js';
import type { Plan } from '../../compiler/plan/types.js';
import { experiment, loraSpec, trainSpec } from './fixtures.js';

describe('memory placement', () => {
  const intervals = fc.array(fc.record({
    bytes: fc.integer({ min: 1, max: 5000 }),
    live: fc.tuple(fc.integer({ min: -1, max: 60 }), fc.integer({ min: 0, max: 30 })).map(([a, len]) => [a, a + len] as [number, number]),
  }), { maxLength: 80 });

  it('never gives two simultaneously live buffers the same bytes (random lifetimes)', () => {
    fc.assert(fc.property(intervals, fc.constantFrom(1, 16, 256), (items, align) => {
      const { offsets, peak } = placeBuffers(items, align);
      for (let i = 0; i < items.length; i++) {
        expect(offsets[i]! % align).toBe(0);
        expect(offsets[i]! + items[i]!.bytes).toBeLessThanOrEqual(peak);
        for (let j = i + 1; j < items.length; j++) {
          if (!overlaps(items[i]!.live, items[j]!.live)) continue;
          const [a0, a1] = [offsets[i]!, offsets[i]! + items[i]!.bytes], [b0, b1] = [offsets[j]!, offsets[j]! + items[j]!.bytes];
          expect(a1 <= b0 || b1 <= a0, `buffers ${i} and ${j} share bytes`).toBe(true);
        }
      }
      // Between the live lower bound and allocating everything separately.
      const naive = items.reduce((a, it) => a + alignUp(it.bytes, align), 0);
      expect(peak).toBeGreaterThanOrEqual(liveLowerBound(items, align));
      expect(peak).toBeLessThanOrEqual(naive);
    }), { numRuns: 300 });
  });

  it('reuses memory of dead buffers', () => {
    const { offsets, peak } = placeBuffers([{ bytes: 100, live: [0, 1] }, { bytes: 100, live: [2, 3] }], 1);
    expect(offsets).toEqual([0, 0]);
    expect(peak).toBe(100);
  });
});

function tinyPlans(over = {}) {
  return compileExperiment(experiment('ct_clip_tiny', over)).plans;
}

describe('plans', () => {
  const full = compileExperiment(experiment('ct_clip'));
  const tiny = tinyPlans();

  it('validate against spec/plan.schema.json and have no overlapping live buffers', () => {
    for (const p of [full.plans.eval, full.plans.train!, tiny.eval, tiny.train!]) {
      expect(validatePlan(p)).toEqual([]);
      expect(overlapErrors(p)).toEqual([]);
      expect(p.memory.workPeakBytes).toBeLessThanOrEqual(p.memory.workNaiveBytes);
      expect(p.memory.workPeakBytes).toBeGreaterThanOrEqual(p.memory.workLowerBoundBytes);
    }
  });

  it('the schema and the invariants reject broken plans', () => {
    const p = structuredClone(tiny.eval) as Plan;
    (p as unknown as Record<string, unknown>).mode = 'inference';
    expect(validatePlan(p).join()).toContain('mode');
    const q = structuredClone(tiny.train!) as Plan;
    const work = q.buffers.filter((b) => b.arena === 'work' && b.bytes > 1024);
    // Force two buffers that are live together onto the same bytes.
    const [a, b] = work.flatMap((x, i) => work.slice(i + 1).filter((y) => overlaps(x.live!, y.live!)).map((y) => [x, y]))[0]!;
    b!.offset = a!.offset;
    expect(overlapErrors(q).length).toBeGreaterThan(0);
  });

  it('are byte-identical when built twice', () => {
    const again = compileExperiment(experiment('ct_clip'));
    expect(canonicalJson(again.plans.train)).toBe(canonicalJson(full.plans.train));
    expect(canonicalJson(again.plans.eval)).toBe(canonicalJson(full.plans.eval));
  });

  it('eval merges adapters once and runs them as plain linears', () => {
    const ks = full.plans.eval.kernels;
    expect(ks.filter((k) => k.kind === 'lora_merge')).toHaveLength(52);
    expect(ks.filter((k) => k.kind === 'lora_linear')).toHaveLength(0);
    expect(ks.filter((k) => k.phase === 'backward')).toHaveLength(0);
  });

  it('train fuses each adapter into its base GEMM and differentiates only toward trainable tensors', () => {
    const p = full.plans.train!;
    expect(p.kernels.filter((k) => k.kind === 'lora_linear')).toHaveLength(52);
    expect(p.kernels.filter((k) => k.kind === 'lora_linear_backward')).toHaveLength(52);
    // One gradient per LoRA tensor; nothing for the frozen base.
    const grads = p.buffers.filter((b) => b.kind === 'param_grad');
    expect(grads).toHaveLength(104);
    expect(grads.every((b) => /lora_[AB]\.weight$/.test(b.name))).toBe(true);
    expect(grads.reduce((a, b) => a + b.bytes, 0)).toBe(1_671_168 * 4);
    expect(p.kernels.at(-1)!.kind).toBe('adamw');
    // The patch embedding runs before the first adapter: no backward reaches it.
    expect(p.kernels.some((k) => k.phase === 'backward' && k.module.startsWith('visual_transformer.to_patch_emb'))).toBe(false);
  });

  it('text-only LoRA needs no backward through the image encoder', () => {
    const lora = loraSpec({ targets: [{ encoder: 'text', match: 'glob', pattern: 'attention.self.query', rank: 4, alpha: 4 }] });
    const p = compileExperiment(experiment('ct_clip_tiny', { lora })).plans.train!;
    const back = p.kernels.filter((k) => k.phase === 'backward');
    expect(back.length).toBeGreaterThan(0);
    expect(back.some((k) => k.module.startsWith('visual_transformer'))).toBe(false);
    // Every saved buffer is read by a backward kernel.
    const readByBackward = new Set(back.flatMap((k) => k.inputs));
    for (const b of p.buffers.filter((x) => x.kind === 'saved')) expect(readByBackward.has(b.id), b.name).toBe(true);
  });

  it('the CLIP loss pairs one report with each volume', () => {
    const p = compileExperiment(experiment('ct_clip_tiny', { train: trainSpec({ loss: 'clip', batchSize: 3 }) })).plans.train!;
    expect(p.batch).toEqual({ images: 3, texts: 3 });
    expect(p.kernels.some((k) => k.kind === 'clip_loss')).toBe(true);
    expect(Object.keys(p.inputs).sort()).toEqual(['attention_mask', 'input_ids', 'volume']);
  });

  it('train memory peak is far below allocating every buffer once', () => {
    const m = full.plans.train!.memory;
    expect(m.workPeakBytes).toBeLessThan(m.workNaiveBytes / 2);
  });
});

describe('plans of random LoRA configurations (property)', () => {
  const textTargets = ['attention.self.query', 'attention.self.key', 'attention.self.value', 'attention.output.dense', 'intermediate.dense', 'output.dense'];
  const imageTargets = ['layers.*.1.to_q', 'layers.*.1.to_kv', 'layers.*.1.to_out', 'layers.*.3.1', 'layers.*.3.4'];
  it('validate, never overlap live buffers, and give every trainable tensor exactly one gradient', () => {
    fc.assert(fc.property(
      fc.subarray(textTargets), fc.subarray(imageTargets), fc.integer({ min: 1, max: 16 }),
      fc.constantFrom('pair_mse', 'pair_ce', 'clip'), fc.integer({ min: 1, max: 3 }), fc.boolean(), fc.boolean(),
      (text, image, rank, loss, batch, dropout, spatialOnly) => {
        const targets = [
          ...text.map((p) => ({ encoder: 'text' as const, match: 'glob' as const, pattern: `layer.*.${p}`, rank, alpha: 2 * rank })),
          ...image.map((p) => ({ encoder: 'image' as const, match: 'glob' as const, pattern: `${spatialOnly ? 'enc_spatial_transformer.' : ''}${p}`, rank, alpha: rank })),
        ];
        const lora = targets.length ? loraSpec({ targets, dropout: dropout ? 0.1 : 0 }) : null;
        const c = compileExperiment(experiment('ct_clip_tiny', { lora, train: trainSpec({ loss, batchSize: batch }) }));
        for (const p of [c.plans.eval, c.plans.train!]) {
          expect(validatePlan(p)).toEqual([]);
        }
        const grads = c.plans.train!.buffers.filter((b) => b.kind === 'param_grad');
        const trainableCount = c.graph.tensors.filter((t) => t.trainable).length;
        expect(grads).toHaveLength(trainableCount);
        expect(c.report.parameters.trainable).toBe(grads.reduce((a, b) => a + b.bytes / 4, 0));
      },
    ), { numRuns: 25 });
  });
});

describe('plan and graph agree', () => {
  it('every non-view graph op runs in exactly one forward kernel; weights are named by state-dict key', () => {
    const c = compileExperiment(experiment('ct_clip_tiny'));
    for (const [plan, graph] of [[c.plans.eval, c.graphs.eval], [c.plans.train!, c.graphs.train!]] as const) {
      const fwd = plan.kernels.filter((k) => k.phase === 'forward').flatMap((k) => k.ops);
      expect(new Set(fwd).size).toBe(fwd.length);
      const real = fwd.filter((i) => graph.ops[i]!.kind !== 'reshape').sort((a, b) => a - b);
      expect(real).toEqual(graph.ops.filter((o) => o.kind !== 'reshape').map((o) => o.id));
      for (const b of plan.buffers.filter((x) => x.kind === 'weight')) expect(graph.tensors[b.tensor!]!.name).toBe(b.name);
    }
  });
});
