// LoRA target selection and its diagnostics: unmatched targets with nearest names, non-linear
// modules, overlaps, bad patterns, layer selection, spans from the IR's provenance.
import { describe, expect, it } from 'vitest';
import { buildModel } from '../../compiler/models/index.js';
import { injectLora, layerIndex } from '../../compiler/passes/lora.js';
import { expandBraces, globRegex } from '../../compiler/passes/patterns.js';
import { verify } from '../../compiler/graph/verify.js';
import type { LoraTarget } from '../../compiler/ir/experiment.js';
import { experiment, loraSpec } from './fixtures.js';

const tiny = experiment('ct_clip_tiny');
const base = buildModel(tiny.model, { imageBatch: 1, textBatch: 4 });
const run = (targets: LoraTarget[], over: Parameters<typeof loraSpec>[0] = {}, sources?: Map<string, string>, provenance = {}) =>
  injectLora(base, experiment('ct_clip_tiny', { lora: loraSpec({ targets, ...over }), provenance }), sources);
const t = (encoder: 'text' | 'image', pattern: string, match: 'glob' | 'regex' = 'glob', rank = 2): LoraTarget => ({ encoder, match, pattern, rank, alpha: rank });

describe('glob patterns', () => {
  it('match path suffixes on segment boundaries', () => {
    const re = globRegex('attention.self.{query,key}');
    expect(re.test('text_transformer.encoder.layer.3.attention.self.key')).toBe(true);
    expect(re.test('text_transformer.encoder.layer.3.attention.self.value')).toBe(false);
    expect(globRegex('self.query').test('a.myself.query')).toBe(false);
    expect(globRegex('enc_*_transformer.layers.*.1.to_q').test('visual_transformer.enc_temporal_transformer.layers.2.1.to_q')).toBe(true);
    expect(globRegex('layers.*.to_q').test('x.layers.2.1.to_q')).toBe(false); // `*` stays within one segment
    expect(globRegex('visual_transformer.**.to_q').test('visual_transformer.enc_spatial_transformer.layers.0.1.to_q')).toBe(true);
    expect(globRegex('visual_transformer.**.to_q').test('visual_transformer.to_q')).toBe(true);
    expect(expandBraces('a.{b,c}.{d,e}')).toEqual(['a.b.d', 'a.b.e', 'a.c.d', 'a.c.e']);
  });

  it('layer index is the first numeric segment after the encoder root', () => {
    expect(layerIndex('visual_transformer.enc_spatial_transformer.layers.3.1.to_q', 'image')).toBe(3);
    expect(layerIndex('text_transformer.encoder.layer.11.attention.self.key', 'text')).toBe(11);
  });
});

describe('LoRA injection', () => {
  it('rewrites each adapted linear and still verifies', () => {
    const r = run([t('text', 'attention.self.{query,key,value}'), t('image', 'enc_*_transformer.layers.*.1.{to_q,to_kv}')]);
    expect(r.diagnostics).toEqual([]);
    expect(verify(r.graph)).toEqual([]);
    // tiny: 2 BERT layers x 3 + (2 spatial + 2 temporal) x 2
    expect(r.graph.lora!.adapters).toHaveLength(6 + 8);
    expect(r.graph.ops.length).toBe(base.ops.length + 14 * 5); // dropout, A, B, scale, add
    // Base weights frozen; the input graph is untouched.
    expect(r.graph.tensors.filter((x) => x.trainable && !x.lora)).toEqual([]);
    expect(base.lora).toBeNull();
  });

  it('regex targets must match the whole path', () => {
    expect(run([t('text', 'query', 'regex')]).diagnostics[0]?.code).toBe('E3001');
    const ok = run([t('text', '.*\\.layer\\.1\\.attention\\.self\\.query', 'regex')]);
    expect(ok.graph.lora!.adapters.map((a) => a.module)).toEqual(['text_transformer.encoder.layer.1.attention.self.query']);
  });

  it('reports every alternative that matches nothing, with the nearest real names', () => {
    const r = run([t('text', 'attention.self.{qeury,key,valeu}')]);
    expect(r.diagnostics.map((d) => d.code)).toEqual(['E3001', 'E3001']);
    expect(r.diagnostics[0]!.message).toContain('attention.self.qeury');
    expect(r.diagnostics[0]!.help).toContain('`attention.self.query`');
    expect(r.diagnostics[1]!.help).toContain('`attention.self.value`');
    expect(r.graph).toBe(base); // nothing injected on error
  });

  it('targets only the named encoder', () => {
    const r = run([t('text', 'to_q')]);
    expect(r.diagnostics[0]!.code).toBe('E3001');
    expect(r.diagnostics[0]!.message).toContain('text encoder');
  });

  it('refuses non-linear modules and says which linears are inside', () => {
    const r = run([t('image', 'enc_spatial_transformer.layers.*.1')]);
    expect(r.diagnostics).toHaveLength(1);
    expect(r.diagnostics[0]).toMatchObject({ code: 'E3002' });
    expect(r.diagnostics[0]!.message).toContain('and 1 more');
    expect(r.diagnostics[0]!.help).toContain('`to_q`');
    expect(run([t('image', 'layers.*.0.dsconv')]).diagnostics[0]!.code).toBe('E3002');
  });

  it('reports a module matched by two targets, once per pair of targets', () => {
    const r = run([t('text', 'attention.self.query'), t('text', 'layer.1.attention.self.*')]);
    expect(r.diagnostics.map((d) => d.code)).toEqual(['E3003']);
    expect(r.diagnostics[0]!.message).toContain('text_transformer.encoder.layer.1.attention.self.query');
    const many = run([t('text', 'attention.self.{query,key}'), t('text', 'self.key')]);
    expect(many.diagnostics.map((d) => d.code)).toEqual(['E3003']);
    expect(many.diagnostics[0]!.message).toContain('and 1 more module(s)');
  });

  it('reports invalid patterns and empty layer selections', () => {
    expect(run([t('text', 'attention.{query')]).diagnostics[0]!.code).toBe('E3004');
    expect(run([t('text', 'query(', 'regex')]).diagnostics[0]!.code).toBe('E3004');
    expect(run([t('text', 'attention.self.query')], { layers: { text: [7], image: null } }).diagnostics[0]!.code).toBe('E3006');
    expect(run([t('text', 'attention.self.query')], { modulesToSave: ['no_such_head'] }).diagnostics[0]!.code).toBe('E3005');
  });

  it('refuses a rank above min(in, out)', () => {
    expect(run([t('image', 'layers.*.1.to_q', 'glob', 65)]).diagnostics[0]!.code).toBe('E3007');
  });

  it('warns when adapting a module the forward never runs', () => {
    const r = run([t('image', 'to_pixels.0')]);
    expect(r.diagnostics.map((d) => d.code)).toEqual(['W3008']);
    expect(r.graph.lora!.adapters).toHaveLength(1);
  });

  it('points diagnostics at the pattern in the source file', () => {
    const src = 'lora {\n  target text "attention.self.qeury" rank 2\n}\n';
    const col = src.split('\n')[1]!.indexOf('"') + 1;
    const r = run([t('text', 'attention.self.qeury')], {}, new Map([['exp.medct', src]]), {
      '/lora/targets/0/pattern': { kind: 'source', file: 'exp.medct', line: 2, col },
    });
    const p = r.diagnostics[0]!.primary!;
    expect(src.slice(p.start, p.end)).toBe('"attention.self.qeury"');
    // Without the text, the line is still given.
    const r2 = run([t('text', 'attention.self.qeury')], {}, undefined, { '/lora/targets/0/pattern': { kind: 'source', file: 'exp.medct', line: 2, col } });
    expect(r2.diagnostics[0]!.primary).toMatchObject({ file: 'exp.medct', line: 2 });
  });
});
