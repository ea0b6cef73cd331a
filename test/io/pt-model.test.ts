// A ct_clip_tiny state dict saved by torch.save (zip without the EMA buffer, as the official
// CT-CLIP code writes it; legacy with it) reads as the same tensors as the safetensors file of
// the same values, under the names and shapes medctc's model builder gives the tiny preset; and
// architecture matching tells the preset, other sizes (with the spec block), or the mismatches.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { buildModel, PRESETS } from '../../compiler/models/index.js';
import { matchArchitecture } from '../../compiler/models/match.js';
import type { Architecture } from '../../compiler/ir/experiment.js';
import { fromFloat32, writeSafetensors } from '../../runtime/io/safetensors.js';
import { openStateDict, withStateDict, type StateDictFile } from '../../runtime/io/state-dict.js';
import { FIX, tempDir, tinyPattern } from './helpers.js';

function baseTensors(arch: Architecture, edit: (p: typeof PRESETS[Architecture]) => void = () => {}): [string, number[]][] {
  const p = structuredClone(PRESETS[arch]);
  edit(p);
  const g = buildModel({ architecture: arch, weights: null, image: p.image, text: p.text, latentDim: p.latentDim }, { imageBatch: 1, textBatch: 1 });
  return g.tensors.filter((t) => (t.role === 'param' || t.role === 'buffer') && !t.lora).map((t) => [t.name, [...t.shape]]);
}

const tiny = baseTensors('ct_clip_tiny');
// The fixtures were written with vector-quantize-pytorch's EMA buffer as well (embed_avg after
// embed), as other versions of that package save it; the model itself has none.
const EMBED_AVG = 'visual_transformer.vq._codebook.embed_avg';
const full: [string, number[]][] = tiny.flatMap((t) => (t[0] === 'visual_transformer.vq._codebook.embed' ? [t, [EMBED_AVG, [...t[1]]] as [string, number[]]] : [t]));
const manifest = JSON.parse(readFileSync(join(FIX, 'ct_clip_tiny.shapes.json'), 'utf8')) as [string, number[]][];
const numel = (s: readonly number[]): number => s.reduce((a, b) => a * b, 1);

describe('ct_clip_tiny saved by PyTorch', () => {
  it('the fixtures\' name/shape list is still the tiny model\'s state dict (else rerun make_pt.py)', () => {
    expect(manifest).toEqual(full);
  });

  for (const [file, format, ema] of [['ct_clip_tiny.pt', 'torch-zip', false], ['ct_clip_tiny_ema_legacy.pt', 'torch-legacy', true]] as const) {
    it(`${file}: every tensor, in state-dict order, with PyTorch's values${ema ? '' : ' (no embed_avg, as the official code saves it)'}`, () => {
      withStateDict(join(FIX, file), (f) => {
        expect(f.format).toBe(format);
        const want = full.filter(([n]) => ema || n !== EMBED_AVG);
        expect(f.names()).toEqual(want.map(([n]) => n));
        full.forEach(([name, shape], j) => {
          if (!f.has(name)) return;
          expect(f.info(name), name).toEqual(expect.objectContaining({ dtype: 'F16', shape }));
          expect(f.readF32(name), name).toEqual(tinyPattern(j, numel(shape)));
        });
      });
    });
  }

  it('reads exactly as the safetensors file of the same tensors, for every base tensor the model loads', () => {
    const dir = tempDir('pt-model');
    const st = join(dir, 'ct_clip_tiny.safetensors');
    writeSafetensors(st, full.map(([name, shape], j) => [name, fromFloat32(tinyPattern(j, numel(shape)), shape)]));
    const a: StateDictFile = openStateDict(join(FIX, 'ct_clip_tiny_ema_legacy.pt'));
    const b: StateDictFile = openStateDict(st);
    try {
      expect(a.names().sort()).toEqual(b.names().sort());
      // What loadBaseWeights asks of a file: has, info(...).shape, readF32.
      for (const [name, shape] of full) {
        expect(a.has(name) && b.has(name), name).toBe(true);
        expect(a.info(name).shape).toEqual(b.info(name).shape);
        expect(a.info(name).shape).toEqual(shape);
        expect(a.readF32(name)).toEqual(b.readF32(name));
      }
    } finally {
      a.close();
      b.close();
    }
  });
});

describe('matchArchitecture', () => {
  const shapes = (list: [string, number[]][]): Map<string, number[]> => new Map(list);
  it('the tiny checkpoints are preset ct_clip_tiny (no embed_avg, as the model); BERT\'s position_ids unused', () => {
    const names = withStateDict(join(FIX, 'ct_clip_tiny.pt'), (f) => new Map(f.names().map((n) => [n, f.info(n).shape])));
    names.set('text_transformer.embeddings.position_ids', [1, 64]);
    const m = matchArchitecture(names);
    expect(m.kind).toBe('preset');
    expect(m.best.preset).toBe('ct_clip_tiny');
    expect(m.best.asPreset.optionalMissing).toEqual([]);
    expect(m.best.asPreset.unexpected).toEqual(['text_transformer.embeddings.position_ids']);
    expect(m.best.asPreset.matched).toBe(tiny.length);
  });
  it('the official CT-CLIP layout (initted, cluster_size, embed; no embed_avg) is preset ct_clip with its 438,148,761 parameters', () => {
    const full = baseTensors('ct_clip').filter(([n]) => n !== 'visual_transformer.vq._codebook.embed_avg');
    const m = matchArchitecture(shapes(full));
    expect(m.kind).toBe('preset');
    expect(m.best.preset).toBe('ct_clip');
    // The reference's count (../shared/reference/ct-clip.md): model.parameters(), buffers excluded.
    expect(m.best.asPreset.parameters).toBe(438_148_761);
  });
  it('other sizes are read off the shapes and given as the spec block that loads them', () => {
    const wide = baseTensors('ct_clip_tiny', (p) => { p.image.dim = 96; p.image.ffInner = 256; p.text.layers = 3; p.latentDim = 32; });
    const m = matchArchitecture(shapes(wide));
    expect(m.kind).toBe('sizes');
    expect(m.best.preset).toBe('ct_clip_tiny');
    expect(m.best.sizeDiffs).toEqual([
      { field: 'image.dim', file: 96, preset: 64 }, { field: 'image.ff_inner', file: 256, preset: 170 },
      { field: 'text.layers', file: 3, preset: 2 }, { field: 'latent', file: 32, preset: 64 },
    ]);
    expect(m.best.specOverride).toBe('model ct_clip_tiny { image { dim 96  ff_inner 256 }  text { layers 3 }  latent 32 }');
  });
  it('a tensor of a shape no size explains is a mismatch naming it', () => {
    const bent = tiny.map(([n, s]): [string, number[]] => [n, n === 'visual_transformer.to_pixels.0.bias' ? [511] : s]);
    const m = matchArchitecture(shapes(bent));
    expect(m.kind).toBe('none');
    expect(m.best.preset).toBe('ct_clip_tiny');
    expect(m.best.asPreset.wrongShape).toEqual([{ name: 'visual_transformer.to_pixels.0.bias', file: [511], model: [512] }]);
  });
});
