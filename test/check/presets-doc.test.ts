// spec/language.md's table of architecture presets must show exactly compiler/models/presets.ts:
// the table is derived here from PRESETS and compared with the text between the markers.
// UPDATE_DOCS=1 rewrites that part of the doc.
import { readFileSync, writeFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { PRESETS } from '../../compiler/models/presets.js';
import { FIELDS } from '../../grammar/fields.js';
import { BUNDLED_VOCAB } from '../../runtime/data/tokenizer.js';

const DOC = 'spec/language.md';
const BEGIN = '<!-- presets:begin (generated from compiler/models/presets.ts; test/check/presets-doc.test.ts checks it) -->';
const END = '<!-- presets:end -->';

// `.medct` field name -> key in the preset, per block.
const IMAGE = {
  dim: 'dim', spatial_depth: 'spatialDepth', temporal_depth: 'temporalDepth', heads: 'heads', dim_head: 'dimHead', image_size: 'imageSize',
  frames: 'frames', patch_size: 'patchSize', temporal_patch_size: 'temporalPatchSize', codebook_size: 'codebookSize', ff_inner: 'ffInner',
  quantize: 'quantize',
} as const;
const TEXT = {
  vocab_size: 'vocabSize', hidden: 'hidden', layers: 'layers', heads: 'heads', intermediate: 'intermediate',
  max_positions: 'maxPositions', type_vocab_size: 'typeVocabSize', max_length: 'maxLength',
} as const;
const PRE = { window: ['windowHU', 'HU'], spacing: ['spacingMm', 'mm'], size: ['size', 'voxels'], scale: ['scale', ''], pad: ['padValue', ''], hu: ['hu', ''] } as const;

const show = (v: unknown, unit = ''): string => `\`${Array.isArray(v) ? `[${v.join(', ')}]` : String(v)}${unit ? ' ' + unit : ''}\``;

function table(): string {
  const a = PRESETS.ct_clip, b = PRESETS.ct_clip_tiny;
  const rows: string[] = ['| field | `ct_clip` | `ct_clip_tiny` |', '|---|---|---|'];
  for (const [f, k] of Object.entries(IMAGE)) rows.push(`| \`model { image { ${f} } }\` | ${show(a.image[k])} | ${show(b.image[k])} |`);
  for (const [f, k] of Object.entries(TEXT)) rows.push(`| \`model { text { ${f} } }\` | ${show(a.text[k])} | ${show(b.text[k])} |`);
  const vocab = (arch: string, v: string | null) => v ?? (arch in BUNDLED_VOCAB ? `\`none\` (bundled: ${BUNDLED_VOCAB[arch]})` : 'required: CXR-BERT\'s `vocab.txt` (none bundled)');
  rows.push(`| \`model { vocab }\` | ${vocab('ct_clip', a.text.vocab)} | ${vocab('ct_clip_tiny', b.text.vocab)} |`);
  rows.push(`| \`model { latent }\` | ${show(a.latentDim)} | ${show(b.latentDim)} |`);
  for (const [f, [k, unit]] of Object.entries(PRE)) rows.push(`| \`data { preprocess { ${f} } }\` | ${show(a.preprocess[k], unit)} | ${show(b.preprocess[k], unit)} |`);
  return rows.join('\n');
}

describe('spec/language.md preset table', () => {
  it('names every preset field and every size field of the language', () => {
    for (const arch of Object.values(PRESETS)) {
      expect(Object.values(IMAGE).sort()).toEqual(Object.keys(arch.image).sort());
      expect([...Object.values(TEXT), 'vocab'].sort()).toEqual(Object.keys(arch.text).sort());
      expect(Object.values(PRE).map(([k]) => k).sort()).toEqual(Object.keys(arch.preprocess).sort());
    }
    expect(Object.keys(IMAGE).sort()).toEqual([...FIELDS['model.image']!].sort());
    expect(Object.keys(TEXT).sort()).toEqual([...FIELDS['model.text']!].sort());
    expect(Object.keys(PRE).sort()).toEqual([...FIELDS['data.preprocess']!].sort());
  });

  it('matches compiler/models/presets.ts', () => {
    const doc = readFileSync(DOC, 'utf8');
    const i = doc.indexOf(BEGIN), j = doc.indexOf(END);
    expect(i, `${DOC} lacks the preset table markers`).toBeGreaterThan(0);
    const want = `${BEGIN}\n${table()}\n${END}`;
    if (process.env.UPDATE_DOCS === '1') writeFileSync(DOC, doc.slice(0, i) + want + doc.slice(j + END.length));
    expect(doc.slice(i, j + END.length)).toBe(want);
    // Spot values from the CT-CLIP release, independent of the table code: a drift in either shows here.
    expect(doc).toContain('| `model { image { image_size } }` | `480` | `32` |');
    expect(doc).toContain('| `model { text { max_length } }` | `512` | `32` |');
    expect(doc).toContain('| `data { preprocess { spacing } }` | `[1.5, 0.75, 0.75] mm` | `[10, 10, 10] mm` |');
  });
});
