// Resolution: defaults, extends/override, imports, constants, sweeps, provenance, schema.
import { readdirSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { vfs } from './vfs.js';
import { checkFiles, validateExperiment } from '../../compiler/check/index.js';
import { PRESETS } from '../../compiler/models/presets.js';
import { CT_RATE_PATHOLOGIES } from '../../compiler/ir/experiment.js';


const check = (files: Record<string, string>, entry = 'main.medct') => {
  const fs = vfs(files);
  const r = checkFiles(entry, { readFile: fs.readFile });
  return { ...r, reads: fs.reads, errors: r.diagnostics.filter((d) => d.severity === 'error') };
};

const MINIMAL = 'experiment "m" {\n  model ct_clip_tiny\n  data synthetic { root "r" }\n}\n';

describe('defaults', () => {
  it('fills every field from the preset and the documented defaults', () => {
    const r = check({ 'main.medct': MINIMAL });
    expect(r.errors).toEqual([]);
    const ir = r.experiments[0]!;
    expect(ir.model.image).toEqual(PRESETS.ct_clip_tiny.image);
    expect(ir.model.text).toEqual(PRESETS.ct_clip_tiny.text);
    expect(ir.data.preprocess).toEqual(PRESETS.ct_clip_tiny.preprocess);
    expect(ir.data.source).toEqual({ kind: 'synthetic', root: 'r', volumes: 48, seed: 0, site: 'source', shape: [40, 48, 48] });
    expect(ir.lora).toBeNull();
    expect(ir.train).toBeNull();
    expect(ir.prompts.pathologies).toEqual([...CT_RATE_PATHOLOGIES]);
    expect(ir.evaluate).toEqual({ metrics: ['auroc'], threshold: { kind: 'roc_corner' }, bootstrap: null, baseline: false });
    expect(ir.outputs).toEqual({ dir: 'runs/m', adapter: false, scores: true });
    expect(ir.sources).toEqual(['main.medct']);
    expect(r.reads).toEqual(['main.medct']);
  });

  it('records provenance for every leaf: written values at their line:col, the rest default', () => {
    const ir = check({ 'main.medct': MINIMAL }).experiments[0]!;
    expect(ir.provenance['/model/architecture']).toEqual({ kind: 'source', file: 'main.medct', line: 2, col: 9 });
    expect(ir.provenance['/data/source/root']).toEqual({ kind: 'source', file: 'main.medct', line: 3, col: 25 });
    expect(ir.provenance['/model/image/dim']).toEqual({ kind: 'default' });
    // every leaf of the IR (except the bookkeeping fields) has an entry
    const leaves: string[] = [];
    const walk = (v: unknown, p: string) => {
      if (v !== null && typeof v === 'object' && (Array.isArray(v) ? v.length : Object.keys(v).length)) {
        for (const [k, x] of Object.entries(v)) walk(x, `${p}/${k}`);
      } else leaves.push(p);
    };
    const { provenance: _a, sources: _b, irVersion: _c, ...rest } = ir;
    walk(rest, '');
    for (const l of leaves) expect(ir.provenance[l], l).toBeDefined();
  });

  it('lora defaults: alpha follows rank, targets inherit rank/alpha unless they override', () => {
    const r = check({ 'main.medct': MINIMAL.replace('}\n', '') + '  lora {\n    rank 4\n    target text "a.b" { alpha 2 }\n    target image regex "x\\\\.y"\n  }\n}\n' });
    expect(r.errors).toEqual([]);
    const l = r.experiments[0]!.lora!;
    expect(l.targets).toEqual([
      { encoder: 'text', match: 'glob', pattern: 'a.b', rank: 4, alpha: 2 },
      { encoder: 'image', match: 'regex', pattern: 'x\\.y', rank: 4, alpha: 4 },
    ]);
    expect(r.experiments[0]!.outputs.adapter).toBe(true);
  });
});

describe('imports and extends', () => {
  const base = `experiment "base" {
  seed 1
  model ct_clip_tiny
  lora {
    rank 8
    dropout 0.1
    target text "encoder.layer.*.attention.self.query"
    target image "visual_transformer.x"
  }
  data ct_rate {
    root "data"
    preprocess { window [-500, 500] HU }
  }
}
`;
  it('deep-merges blocks, replaces scalars, and marks inherited values', () => {
    const r = check({
      'lib/base.medct': base,
      'main.medct': 'import "lib/base.medct"\nexperiment "child" extends "base" {\n  lora { rank 16 }\n  data ct_rate { root "other" }\n}\n',
    });
    expect(r.errors).toEqual([]);
    expect(r.experiments.map((e) => e.name)).toEqual(['child']);
    const ir = r.experiments[0]!;
    expect(ir.seed).toBe(1);
    expect(ir.lora!.dropout).toBe(0.1);
    expect(ir.lora!.targets.map((t) => t.rank)).toEqual([16, 16]);
    expect(ir.data.source).toEqual({ kind: 'ct_rate', root: 'other' });
    expect(ir.data.preprocess.windowHU).toEqual([-500, 500]);
    expect(ir.sources).toEqual(['main.medct', 'lib/base.medct']);
    expect(ir.provenance['/seed']).toEqual({ kind: 'inherited', from: 'base', file: 'lib/base.medct', line: 2, col: 8 });
    expect(ir.provenance['/lora/targets/0/rank']).toEqual({ kind: 'source', file: 'main.medct', line: 3, col: 15 });
    expect(ir.provenance['/lora/targets/1/rank']).toEqual({ kind: 'source', file: 'main.medct', line: 3, col: 15 });
    expect(ir.provenance['/data/preprocess/windowHU/1']).toMatchObject({ kind: 'inherited', from: 'base', line: 12, col: 32 });
  });

  it('a child `target` list replaces the parent targets; a different data source replaces the block', () => {
    const r = check({
      'lib/base.medct': base,
      'main.medct': 'import "lib/base.medct"\nexperiment "c" extends "base" {\n  lora { target text "a.b" }\n  data synthetic { root "s" }\n}\n',
    });
    expect(r.errors).toEqual([]);
    const ir = r.experiments[0]!;
    expect(ir.lora!.targets.map((t) => t.pattern)).toEqual(['a.b']);
    expect(ir.data.source.kind).toBe('synthetic');
    expect(ir.data.preprocess.windowHU).toEqual([-1000, 1000]); // the ct_rate block (and its preprocess) was replaced
  });

  it('`lora none` and `train none` remove inherited blocks', () => {
    const r = check({ 'lib/base.medct': base, 'main.medct': 'import "lib/base.medct"\nexperiment "c" extends "base" {\n  lora none\n}\n' });
    expect(r.errors).toEqual([]);
    expect(r.experiments[0]!.lora).toBeNull();
  });

  it('constants are visible in the importing file', () => {
    const r = check({
      'lib/k.medct': 'const r = 12\n',
      'main.medct': 'import "lib/k.medct"\nexperiment "c" {\n  model ct_clip_tiny\n  data synthetic { root "s" }\n  lora { rank r; target text "a" }\n}\n',
    });
    expect(r.errors).toEqual([]);
    expect(r.experiments[0]!.lora!.targets[0]!.rank).toBe(12);
    expect(r.experiments[0]!.provenance['/lora/targets/0/rank']).toEqual({ kind: 'source', file: 'lib/k.medct', line: 1, col: 11 });
  });
});

describe('sweeps', () => {
  it('expands the cartesian product in source order, first axis slowest', () => {
    const r = check({
      'main.medct': MINIMAL.replace('}\n', '') + '  seed sweep [1, 2, 3]\n  lora {\n    rank sweep [4, 8]\n    target text "a"\n  }\n}\n',
    });
    expect(r.errors).toEqual([]);
    expect(r.experiments.map((e) => e.name)).toEqual([
      'm@seed=1,rank=4', 'm@seed=1,rank=8', 'm@seed=2,rank=4', 'm@seed=2,rank=8', 'm@seed=3,rank=4', 'm@seed=3,rank=8',
    ]);
    const v = r.experiments[3]!;
    expect(v.seed).toBe(2);
    expect(v.lora!.targets[0]!.rank).toBe(8);
    expect(v.variant).toEqual({ base: 'm', bindings: { seed: 2, rank: 8 } });
    expect(v.provenance['/seed']).toEqual({ kind: 'sweep', file: 'main.medct', line: 4, col: 18 });
    expect(new Set(r.experiments.map((e) => e.outputs.dir)).size).toBe(6);
    expect(v.provenance['/variant/bindings/rank']).toEqual({ kind: 'sweep', file: 'main.medct', line: 6, col: 20 });
    expect(v.provenance['/name']).toEqual({ kind: 'source', file: 'main.medct', line: 1, col: 12 });
  });

  it('a sweep carries its unit to each value', () => {
    const r = check({ 'main.medct': MINIMAL.replace('}\n', '') + '  train {\n    train_base true\n    schedule linear { warmup sweep [0, 100] steps }\n  }\n}\n' });
    expect(r.errors).toEqual([]);
    expect(r.experiments.map((e) => e.train!.schedule.warmupSteps)).toEqual([0, 100]);
  });

  it('an error inside one sweep value is reported once', () => {
    const r = check({ 'main.medct': MINIMAL.replace('}\n', '') + '  seed sweep [1, 2]\n  lora {\n    rank sweep [0, 8]\n    target text "a"\n  }\n}\n' });
    expect(r.errors.map((d) => d.code)).toEqual(['E2006']);
    expect(r.experiments).toEqual([]);
  });
});

describe('schema', () => {
  it('every example resolves without diagnostics to schema-valid IR', () => {
    const files = readdirSync('examples').filter((f) => f.endsWith('.medct'));
    expect(files.length).toBeGreaterThanOrEqual(4);
    for (const f of files) {
      const r = checkFiles(`examples/${f}`);
      expect(r.diagnostics, f).toEqual([]);
      expect(r.experiments.length, f).toBeGreaterThan(0);
      for (const ir of r.experiments) expect(validateExperiment(ir), ir.name).toEqual([]);
    }
  });

  it('the schema rejects extra, missing and mistyped fields', () => {
    const ir = checkFiles('examples/quickstart.medct').experiments[0]!;
    expect(validateExperiment({ ...ir, extra: 1 })).not.toEqual([]);
    const { seed: _s, ...noSeed } = ir;
    expect(validateExperiment(noSeed)).not.toEqual([]);
    expect(validateExperiment({ ...ir, lora: { ...ir.lora!, dropout: 1 } })).not.toEqual([]);
    expect(validateExperiment({ ...ir, provenance: { '/seed': { kind: 'source', file: 'x' } } })).not.toEqual([]);
  });

  it('the rank ablation is 4 variants of the paper setting', () => {
    const r = checkFiles('examples/ablation-rank.medct');
    expect(r.experiments.map((e) => e.lora!.targets.map((t) => t.rank))).toEqual([[8, 8], [16, 16], [24, 24], [64, 64]]);
    expect(r.experiments.every((e) => e.lora!.targets.every((t) => t.alpha === 48))).toBe(true);
    expect(r.experiments[0]!.provenance['/lora/dropout']).toMatchObject({ kind: 'inherited', from: 'medct-vlm' });
  });
});
