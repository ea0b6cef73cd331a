// Parser behaviour: the AST for the constructs of spec/language.md, and error recovery.
import { describe, expect, it } from 'vitest';
import { formatMedct, parseMedct, stripPositions } from '../../grammar/index.js';
import { checkFiles } from '../../compiler/check/index.js';

const entries = (text: string) => {
  const r = parseMedct(text, 't');
  expect(r.diagnostics).toEqual([]);
  const exp = r.ast.items.find((i) => i.kind === 'experiment');
  return exp!.block.entries;
};

describe('parser', () => {
  it('attaches units to the value before them and keeps literals as written', () => {
    const [e] = entries('experiment "x" {\n  window [-1000, 1e3] HU\n}');
    expect(stripPositions(e)).toEqual({
      kind: 'entry', key: 'window', block: null,
      args: [{ kind: 'list', unit: { name: 'HU' }, items: [{ kind: 'number', value: -1000, unit: null }, { kind: 'number', value: 1000, unit: null }] }],
    });
  });

  it('splits fields sharing a line only on field names of the enclosing block', () => {
    const es = entries('experiment "x" {\n  lora { rank 24  alpha 48  dropout 0.05\n target text "a" }\n}');
    expect(es[0]!.block!.entries.map((e) => [e.key, e.args.length])).toEqual([['rank', 1], ['alpha', 1], ['dropout', 1], ['target', 2]]);
    // `text` is a field of `model` but not of `lora`: it stays an argument of `target`
    expect(es[0]!.block!.entries[3]!.args[0]).toMatchObject({ kind: 'ident', name: 'text' });
  });

  it('a constant named like a field is a value, not a new entry', () => {
    const es = entries('let alpha = 2\nexperiment "x" {\n  lora { rank alpha }\n}');
    expect(es[0]!.block!.entries.map((e) => e.key)).toEqual(['rank']);
  });

  it('reports several independent syntax errors in one run, one per line', () => {
    const r = parseMedct('experiment "x" {\n  seed = 4\n  lora { rank ] }\n  data ct_rate { root "r" }\n}\n', 't');
    const lines = r.diagnostics.map((d) => r.diagnostics.length && (d.primary!.start));
    expect(r.diagnostics.map((d) => d.code)).toEqual(['E1002', 'E1002']);
    expect(new Set(lines).size).toBe(2);
    // recovery keeps the entries after the errors
    const exp = r.ast.items[0];
    expect(exp?.kind === 'experiment' && exp.block.entries.map((e) => e.key)).toContain('data');
  });

  it('the issue sketch parses; checking finds exactly its two real mistakes', () => {
    const sketch = `experiment "medct-vlm-r24" {
  seed 42
  model ct_clip { weights "weights/ct_clip.safetensors" }
  lora {
    rank 24  alpha 48  dropout 0.05
    target text  "encoder.layer.*.attention.self.{query,key,value}"
    target image "visual_transformer.enc_*_transformer.layers.*.1.{to_q,to_kv}"
  }
  data ct_rate { root "data/ct-rate"  train "train"  eval "valid"
                 preprocess { window [-1000, 1000] HU  spacing [1.5, 0.75, 0.75] mm  size [240, 480, 480] } }
  prompts { positive "{pathology} is present."  negative "{pathology} is not present."  pathologies ct_rate.all }
  train { loss pair_softmax  optimizer adamw { lr 1e-4  weight_decay 0.1 }  schedule cosine { warmup 500 steps }  epochs 10  batch 4 }
  evaluate { metrics [auroc, accuracy, macro_f1, weighted_f1, precision]  threshold roc_corner  bootstrap 1000 }
}
`;
    const r = checkFiles('sketch.medct', { readFile: () => sketch });
    expect(r.diagnostics.map((d) => [d.code, d.fix?.edits[0]?.replacement])).toEqual([['E2007', ' voxels'], ['E2005', 'pair_mse']]);
    // applying the fixes makes it check cleanly
    let fixed = sketch;
    for (const d of [...r.diagnostics].sort((a, b) => b.primary!.start - a.primary!.start)) {
      const e = d.fix!.edits[0]!;
      fixed = fixed.slice(0, e.span.start) + e.replacement + fixed.slice(e.span.end);
    }
    const again = checkFiles('sketch.medct', { readFile: () => fixed });
    expect(again.diagnostics).toEqual([]);
    expect(again.experiments[0]!.lora!.targets.map((t) => [t.rank, t.alpha])).toEqual([[24, 48], [24, 48]]);
    expect(again.experiments[0]!.train!.loss).toBe('pair_mse');
    // and formatting keeps the meaning
    const formatted = formatMedct(parseMedct(fixed, 's').ast, fixed);
    expect(stripPositions(parseMedct(formatted, 's').ast.items)).toEqual(stripPositions(parseMedct(fixed, 's').ast.items));
  });
});
