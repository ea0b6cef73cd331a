// `model { image { quantize false } }`: the tokens skip the vector quantiser, the state dict keeps
// CT-CLIP's layout (the codebook buffers, unread), and everything else of the plans is unchanged.
import { describe, expect, it } from 'vitest';
import { compileExperiment } from '../../compiler/build.js';
import { experiment } from './fixtures.js';

const compiled = (quantize: boolean | undefined) => {
  const e = experiment('ct_clip_tiny');
  const image = quantize === undefined ? e.model.image : { ...e.model.image, quantize };
  return compileExperiment({ ...e, model: { ...e.model, image } });
};

describe('image.quantize', () => {
  const on = compiled(true), off = compiled(false), omitted = compiled(undefined);

  it('omitted is CT-CLIP: the quantiser runs (one vq_nearest kernel per plan)', () => {
    for (const c of [on, omitted]) for (const p of [c.plans.eval, c.plans.train!]) expect(p.kernels.filter((k) => k.kind === 'vq_nearest')).toHaveLength(1);
    expect(JSON.stringify(omitted.plans.eval.kernels)).toBe(JSON.stringify(on.plans.eval.kernels));
  });

  it('false: no vq_nearest kernel in either plan, and no other kernel kind appears or goes', () => {
    for (const p of [off.plans.eval, off.plans.train!]) expect(p.kernels.some((k) => k.kind === 'vq_nearest')).toBe(false);
    const kinds = (ks: { kind: string }[]) => [...new Set(ks.map((k) => k.kind))].sort();
    expect(kinds(off.plans.eval.kernels)).toEqual(kinds(on.plans.eval.kernels).filter((k) => k !== 'vq_nearest'));
  });

  it('false keeps the state dict: same tensor names and shapes, the codebook a buffer no kernel reads', () => {
    const names = (c: typeof on) => c.plans.eval.model.weights.map((w) => `${w.name} ${w.shape.join('x')} ${w.role}`);
    expect(names(off)).toEqual(names(on));
    const embed = (c: typeof on) => c.plans.eval.model.weights.find((w) => w.name === 'visual_transformer.vq._codebook.embed')!;
    expect(embed(on).buffer).not.toBeNull();
    expect(embed(off).buffer).toBeNull();
    expect(off.report.parameters.total).toBe(on.report.parameters.total);
  });
});
