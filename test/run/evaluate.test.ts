// Zero-shot evaluation against hand-computed scores: a stand-in model whose latents are chosen so
// that reading the text latents in the wrong order (all present prompts first) changes every score.
import { describe, expect, it } from 'vitest';
import { evaluateItems, promptLatents } from '../../runtime/run/evaluate.js';
import { expectDiagnostic, fakeItems, planWithInputs, RecordingExecutor } from './helpers.js';

const plan = planWithInputs('eval', {
  volume: { shape: [1, 1, 2, 2, 2], dtype: 'f32' }, input_ids: { shape: [4, 3], dtype: 'i32' }, attention_mask: { shape: [4, 3], dtype: 'f32' },
});
const text = { input_ids: new Int32Array(12), attention_mask: new Float32Array(12).fill(1) };
// Rows: p0 present, p0 absent, p1 present, p1 absent.
const TEXT = Float32Array.of(1, 0, 0, 1, 0.6, 0.8, 0.8, -0.6);
const IMAGES = [Float32Array.of(1, 0), Float32Array.of(0, 1)];

function model(temperature: number) {
  return new RecordingExecutor(plan, (name, run) => {
    if (name === 'text_latent') return TEXT;
    if (name === 'image_latent') return IMAGES[(run.feeds.volume as Float32Array)[0]!]!;
    throw new Error(name);
  }, new Map([['temperature', Float32Array.of(temperature)]]));
}

describe('evaluateItems', () => {
  it('scores P(present) = softmax over the pair of exp(T)·cos, each volume once', async () => {
    const exec = model(Math.log(2));
    const done: number[] = [];
    const r = await evaluateItems({
      exec, items: fakeItems([[1, 0], [0, 1]]), text, pathologies: ['A', 'B'],
      evaluate: { threshold: { kind: 'roc_corner' }, bootstrap: null }, source: 'run', onVolume: (d) => done.push(d),
    });
    expect(exec.runs).toHaveLength(2);
    expect(done).toEqual([1, 2]);
    expect(exec.runs.every((x) => x.feeds.targets === undefined)).toBe(true);
    // scale 2: v0 = [σ(2·(1-0)), σ(2·(0.6-0.8))], v1 = [σ(2·(0-1)), σ(2·(0.8+0.6))].
    const want = [[0.8807970779778823, 0.401312339887548], [0.11920292202211755, 0.9426758241011313]];
    r.scores.forEach((row, v) => row.forEach((s, l) => expect(s).toBeCloseTo(want[v]![l]!, 6)));
    expect(r.volumes).toEqual(['v0.nii.gz', 'v1.nii.gz']);
    expect(r.results.labels.map((l) => l.metrics.auroc)).toEqual([1, 1]);
    expect(r.results.volumes).toBe(2);
  });

  it('splits text latents by pair', () => {
    const { present, absent } = promptLatents(TEXT, 2);
    expect(present.map((x) => Array.from(x))).toEqual([[1, 0], [0.6, 0.8].map(Math.fround)]);
    expect(absent.map((x) => Array.from(x))).toEqual([[0, 1], [0.8, -0.6].map(Math.fround)]);
    expect(() => promptLatents(new Float32Array(7), 2)).toThrow();
  });

  it('a diverged model (non-finite temperature) is E5570 naming the volume', async () => {
    await expectDiagnostic(() => evaluateItems({
      exec: model(NaN), items: fakeItems([[1, 0], [0, 1]]), text, pathologies: ['A', 'B'],
      evaluate: { threshold: { kind: 'roc_corner' }, bootstrap: null }, source: 'run',
    }), 'E5570', ['v0.nii.gz']);
  });
});
