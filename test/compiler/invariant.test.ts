// Loop-invariant kernels of eval plans (PlanKernel.invariant, spec/compiler.md §6): which kernels
// are marked (by module: the text tower all, the image tower only its weight-only relative
// position bias), none in train plans, and memory safety of the hoisted results checked on bytes
// (not through `live`, which the rule itself sets).
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { canonicalJson, compileExperiment } from '../../compiler/build.js';
import { invariantErrors, validatePlan } from '../../compiler/plan/validate.js';
import type { Plan } from '../../compiler/plan/types.js';
import { compileExample } from '../exec/plans.js';
import { experiment, loraSpec } from './fixtures.js';

/** Forward kernels that read, transitively through forward kernels, the volume feed: computed
 *  here by a reachability walk over buffer readers, independently of the compiler's pass. */
function volumeDependent(p: Plan): Set<number> {
  const tainted = new Set([p.inputs['volume']!]);
  const out = new Set<number>();
  let grew = true;
  while (grew) {
    grew = false;
    for (const k of p.kernels) {
      if (k.phase !== 'forward' || out.has(k.id) || !k.inputs.some((b) => tainted.has(b))) continue;
      out.add(k.id);
      k.outputs.forEach((b) => tainted.add(b));
      grew = true;
    }
  }
  return out;
}

/** Work buffers written by an invariant kernel and read per volume or by the caller, and every
 *  other work buffer whose bytes intersect one of them (must be none). */
function hoistedClashes(p: Plan): { hoisted: string[]; clashes: string[] } {
  const written = new Set(p.kernels.filter((k) => k.invariant).flatMap((k) => k.outputs));
  const readLater = new Set([...p.kernels.filter((k) => !k.invariant && k.phase === 'forward').flatMap((k) => k.inputs), ...Object.values(p.outputs)]);
  const hoisted = p.buffers.filter((b) => b.arena === 'work' && written.has(b.id) && readLater.has(b.id));
  const clashes: string[] = [];
  for (const h of hoisted) {
    for (const b of p.buffers) {
      if (b.arena !== 'work' || b.id === h.id) continue;
      if (b.offset < h.offset + h.bytes && h.offset < b.offset + b.bytes) clashes.push(`${h.name} / ${b.name}`);
    }
  }
  return { hoisted: hoisted.map((b) => b.name), clashes };
}

describe('loop-invariant eval kernels', () => {
  for (const file of ['examples/quickstart.medct', 'examples/medct-vlm.medct']) {
    it(`${file}: the whole text tower is invariant; of the image tower only the weight-only position bias; train: none`, () => {
      const c = compileExample(file);
      const p = c.plans.eval;
      const fwd = p.kernels.filter((k) => k.phase === 'forward');
      const text = fwd.filter((k) => k.module.startsWith('text_transformer.'));
      const image = fwd.filter((k) => k.module.startsWith('visual_transformer.'));
      expect(text.length).toBeGreaterThan(10);
      expect(text.filter((k) => !k.invariant).map((k) => k.module)).toEqual([]);
      // The relative position bias MLP reads only its weights and a constant grid: the same for
      // every volume, rightly hoisted. Everything else of the image tower is per volume.
      const imageInvariant = image.filter((k) => k.invariant);
      expect(imageInvariant.length).toBeGreaterThan(0);
      expect(imageInvariant.every((k) => k.module.startsWith('visual_transformer.spatial_rel_pos_bias'))).toBe(true);
      expect(image.filter((k) => !k.module.includes('rel_pos_bias')).every((k) => !k.invariant)).toBe(true);
      expect(image.filter((k) => !k.invariant).length).toBeGreaterThan(imageInvariant.length);
      // Exactly the kernels the volume does not reach, by an independent walk.
      const dep = volumeDependent(p);
      for (const k of fwd) expect(k.invariant, `${k.id} ${k.module}`).toBe(!dep.has(k.id));
      expect(p.kernels.filter((k) => k.phase !== 'forward' && k.invariant)).toEqual([]);
      expect(c.plans.train!.kernels.filter((k) => k.invariant)).toEqual([]);
      // The text latent (an output) is among the results kept across runs, and nothing shares its bytes.
      const { hoisted, clashes } = hoistedClashes(p);
      expect(hoisted).toContain(p.buffers[p.outputs['text_latent']!]!.name);
      expect(clashes).toEqual([]);
      expect(validatePlan(p)).toEqual([]);
    });
  }

  it('builds stay byte-identical, flags included', () => {
    const a = compileExample('examples/quickstart.medct'), b = compileExample('examples/quickstart.medct');
    expect(canonicalJson(a.plans.eval)).toBe(canonicalJson(b.plans.eval));
    expect(canonicalJson(a.plans.eval)).toMatch(/"invariant": ?true/);
  });

  it('validation rejects a wrong flag and a hoisted result whose lifetime is cut', () => {
    const p = compileExample('examples/quickstart.medct').plans.eval;
    const q = structuredClone(p);
    q.kernels.find((k) => k.module.startsWith('visual_transformer.to_patch_emb'))!.invariant = true;
    expect(invariantErrors(q).join()).toMatch(/is invariant but reads/);
    const r = structuredClone(p);
    r.kernels.find((k) => k.phase === 'forward' && k.module.startsWith('text_transformer.'))!.invariant = false;
    expect(invariantErrors(r).join()).toMatch(/reads nothing derived from the volume but is not invariant/);
    const s = structuredClone(p);
    const tl = s.buffers[s.outputs['text_latent']!]!;
    tl.live = [tl.live![0] + 50, tl.live![1]];
    expect(invariantErrors(s).join()).toMatch(/live for the whole plan/);
  });
});

describe('hoisted results never share bytes (property, random LoRA configurations)', () => {
  const textTargets = ['attention.self.query', 'attention.self.value', 'intermediate.dense', 'output.dense'];
  const imageTargets = ['layers.*.1.to_q', 'layers.*.1.to_kv', 'layers.*.3.1'];
  it('eval plans validate and no work buffer overlaps a result kept across runs', () => {
    fc.assert(fc.property(fc.subarray(textTargets), fc.subarray(imageTargets), fc.integer({ min: 1, max: 16 }), (text, image, rank) => {
      const targets = [
        ...text.map((p) => ({ encoder: 'text' as const, match: 'glob' as const, pattern: `layer.*.${p}`, rank, alpha: rank })),
        ...image.map((p) => ({ encoder: 'image' as const, match: 'glob' as const, pattern: p, rank, alpha: rank })),
      ];
      const c = compileExperiment(experiment('ct_clip_tiny', { lora: targets.length ? loraSpec({ targets }) : null }));
      const p = c.plans.eval;
      expect(validatePlan(p)).toEqual([]);
      const { hoisted, clashes } = hoistedClashes(p);
      expect(hoisted.length).toBeGreaterThan(0);
      expect(clashes).toEqual([]);
      expect(c.plans.train!.kernels.some((k) => k.invariant)).toBe(false);
    }), { numRuns: 20 });
  });
});
