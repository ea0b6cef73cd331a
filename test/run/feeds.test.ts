// Feeds against hand-built expectations and against the plans the compiler lowers for the
// quickstart: prompt order (present/absent interleaved per pathology), token ids, layouts, batching.
import { describe, expect, it } from 'vitest';
import { compileExperiment } from '../../compiler/build.js';
import { checkFiles } from '../../compiler/check/index.js';
import { tokenizerFor } from '../../runtime/data/index.js';
import { assertFeeds, checkDataFitsPlan, fullBatches, promptTexts, targetBatch, textFeeds, volumeBatch } from '../../runtime/run/feeds.js';
import { expectDiagnostic } from './helpers.js';

const prompts = { positive: '{pathology} is present.', negative: 'no {pathology} seen, {pathology} absent.', pathologies: ['Cardiomegaly', 'Lung nodule'] };

describe('prompt feeds', () => {
  it('interleave (present, absent) per pathology, filling every {pathology}', () => {
    expect(promptTexts(prompts)).toEqual([
      'Cardiomegaly is present.', 'no Cardiomegaly seen, Cardiomegaly absent.',
      'Lung nodule is present.', 'no Lung nodule seen, Lung nodule absent.',
    ]);
  });

  it('tokenise each text into its row: [CLS] tokens [SEP] then padding, mask 1 on real tokens', () => {
    const tok = tokenizerFor({ vocab: null, vocabSize: 512 }, 'ct_clip_tiny');
    const L = 12;
    const f = textFeeds(tok, prompts, L);
    expect(f.input_ids).toBeInstanceOf(Int32Array);
    expect(f.attention_mask).toBeInstanceOf(Float32Array);
    expect(f.input_ids.length).toBe(4 * L);
    const v = (t: string) => tok.vocab.get(t)!;
    // "Lung nodule is present." -> lung, nodule, is, present, "." (row 2).
    const row2 = Array.from(f.input_ids.subarray(2 * L, 3 * L));
    expect(row2.slice(0, 7)).toEqual([v('[CLS]'), v('lung'), v('nodule'), v('is'), v('present'), v('.'), v('[SEP]')]);
    expect(row2.slice(7)).toEqual(Array(L - 7).fill(v('[PAD]')));
    expect(Array.from(f.attention_mask.subarray(2 * L, 3 * L))).toEqual([...Array(7).fill(1), ...Array(L - 7).fill(0)]);
    // Row 1 is the negative prompt of the first pathology.
    expect(Array.from(f.input_ids.subarray(L, L + 3))).toEqual([v('[CLS]'), v('no'), v('cardiomegaly')]);
  });
});

describe('batches', () => {
  it('stack volumes and labels in batch order', () => {
    expect(Array.from(volumeBatch([Float32Array.of(1, 2, 3), Float32Array.of(4, 5, 6)]))).toEqual([1, 2, 3, 4, 5, 6]);
    expect(() => volumeBatch([new Float32Array(3), new Float32Array(4)])).toThrow(/volume 1 has 4/);
    expect(Array.from(targetBatch([Uint8Array.of(1, 0, 1), Uint8Array.of(0, 1, 0)]))).toEqual([1, 0, 1, 0, 1, 0]);
  });

  it('keep only full batches, in order', () => {
    expect(fullBatches([0, 1, 2, 3, 4, 5, 6, 7, 8, 9], 4)).toEqual([[0, 1, 2, 3], [4, 5, 6, 7]]);
    expect(fullBatches([0, 1, 2, 3], 4)).toEqual([[0, 1, 2, 3]]);
    expect(fullBatches([0, 1, 2], 4)).toEqual([]);
  });
});

describe('feeds fit the compiled quickstart plans', () => {
  const { experiments } = checkFiles('examples/quickstart.medct');
  const exp = experiments[0]!;
  const c = compileExperiment(exp);
  const P = exp.prompts.pathologies.length, L = exp.model.text.maxLength, B = exp.train!.batchSize;
  const [D, H, W] = exp.data.preprocess.size;
  const tok = tokenizerFor(exp.model.text, exp.model.architecture);
  const text = textFeeds(tok, exp.prompts, L);

  it('train: B volumes, 2P prompts, [B, P] targets', () => {
    const feeds = { volume: new Float32Array(B * D * H * W), ...text, targets: new Float32Array(B * P) };
    expect(() => assertFeeds(c.plans.train!, feeds)).not.toThrow();
    expect(() => assertFeeds(c.plans.train!, { ...feeds, targets: new Float32Array(B * P + 1) })).toThrow(/feed `targets`/);
    expect(() => assertFeeds(c.plans.train!, { ...feeds, input_ids: new Float32Array(2 * P * L) })).toThrow(/feed `input_ids`/);
    const { volume: _v, ...noVolume } = feeds;
    expect(() => assertFeeds(c.plans.train!, noVolume)).toThrow(/no feed for plan input `volume`/);
  });

  it('eval: one volume per run, no targets', () => {
    expect(() => assertFeeds(c.plans.eval, { volume: new Float32Array(D * H * W), ...text })).not.toThrow();
    checkDataFitsPlan(c.plans.eval, [D, H, W], text, 'exp.medct');
    expect(() => checkDataFitsPlan(c.plans.eval, [D, H, W], { input_ids: new Int32Array(L), attention_mask: new Float32Array(L) }, 'exp.medct')).toThrow(/internal: the eval plan takes/);
  });

  it('data of another size is E5563 with the size the model takes', async () => {
    await expectDiagnostic(() => checkDataFitsPlan(c.plans.eval, [16, H, W], text, 'exp.medct'), 'E5563', [`16x${H}x${W}`, `${D}x${H}x${W}`]);
  });
});
