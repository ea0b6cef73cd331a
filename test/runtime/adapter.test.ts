import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  writeAdapter, readAdapter, buildPeftConfig, loraScaling, mergeInto, patternKeyFor, resolveRankAlpha, targetModulesMatch, settingsFromLoraSpec,
  type Adapter, type AdaptedModule,
} from '../../runtime/adapter/index.js';
import { readSafetensors, writeSafetensors, fromFloat32, type Tensor } from '../../runtime/io/safetensors.js';
import { Rng } from '../../runtime/util/rng.js';
import { expectDiagnostic, tempDir } from './helpers.js';

function module(path: string, rank: number, alpha: number, inF: number, outF: number, seed: number): AdaptedModule {
  const rng = new Rng(seed);
  return {
    path, rank, alpha, inFeatures: inF, outFeatures: outF,
    A: rng.fillNormal(new Float32Array(rank * inF)) as Float32Array,
    B: rng.fillNormal(new Float32Array(outF * rank)) as Float32Array,
  };
}

const adapter: Adapter = {
  settings: { baseModel: 'ibrahimhamamci/CT-CLIP', dropout: 0.05, rslora: false, init: 'kaiming' },
  modules: [
    module('visual.transformer.layers.1.attn.to_q', 4, 16, 4, 4, 1),
    module('text.encoder.layer.0.attention.self.value', 8, 16, 3, 2, 2),
    module('text.encoder.layer.0.attention.self.query', 8, 16, 3, 2, 3),
  ],
  saved: [{ path: 'text.pooler.dense', params: { weight: { shape: [2, 2], data: Float32Array.of(1, 2, 3, 4) }, bias: { shape: [2], data: Float32Array.of(-1, 1) } } }],
};

const EXPECTED_CONFIG = `{
  "alpha_pattern": {},
  "base_model_name_or_path": "ibrahimhamamci/CT-CLIP",
  "bias": "none",
  "fan_in_fan_out": false,
  "inference_mode": true,
  "init_lora_weights": true,
  "layers_pattern": null,
  "layers_to_transform": null,
  "lora_alpha": 16,
  "lora_dropout": 0.05,
  "modules_to_save": [
    "text.pooler.dense"
  ],
  "peft_type": "LORA",
  "r": 8,
  "rank_pattern": {
    "visual.transformer.layers.1.attn.to_q": 4
  },
  "target_modules": [
    "text.encoder.layer.0.attention.self.query",
    "text.encoder.layer.0.attention.self.value",
    "visual.transformer.layers.1.attn.to_q"
  ],
  "task_type": null,
  "use_dora": false,
  "use_rslora": false
}`;

describe('PEFT adapter export', () => {
  it('writes adapter_config.json exactly as expected', () => {
    const dir = tempDir('adapter');
    writeAdapter(dir, adapter);
    expect(readFileSync(join(dir, 'adapter_config.json'), 'utf8')).toBe(EXPECTED_CONFIG);
  });

  it('writes PEFT tensor keys and shapes with format=pt metadata, deterministically', () => {
    const dir = tempDir('adapter');
    writeAdapter(dir, adapter);
    const st = readSafetensors(join(dir, 'adapter_model.safetensors'));
    expect(st.metadata).toEqual({ format: 'pt' });
    const shapes = Object.fromEntries([...st.tensors].map(([k, t]) => [k, t.shape]));
    expect(shapes).toEqual({
      'base_model.model.text.encoder.layer.0.attention.self.query.lora_A.weight': [8, 3],
      'base_model.model.text.encoder.layer.0.attention.self.query.lora_B.weight': [2, 8],
      'base_model.model.text.encoder.layer.0.attention.self.value.lora_A.weight': [8, 3],
      'base_model.model.text.encoder.layer.0.attention.self.value.lora_B.weight': [2, 8],
      'base_model.model.visual.transformer.layers.1.attn.to_q.lora_A.weight': [4, 4],
      'base_model.model.visual.transformer.layers.1.attn.to_q.lora_B.weight': [4, 4],
      'base_model.model.text.pooler.dense.weight': [2, 2],
      'base_model.model.text.pooler.dense.bias': [2],
    });
    const dir2 = tempDir('adapter');
    writeAdapter(dir2, { ...adapter, modules: [...adapter.modules].reverse() });
    expect(readFileSync(join(dir2, 'adapter_model.safetensors')).equals(readFileSync(join(dir, 'adapter_model.safetensors')))).toBe(true);
  });

  it('round-trips: same modules, ranks, alphas, weights and saved modules', () => {
    const dir = tempDir('adapter');
    writeAdapter(dir, adapter);
    const back = readAdapter(dir);
    expect(back.settings).toEqual(adapter.settings);
    expect(back.modules).toEqual([...adapter.modules].sort((a, b) => (a.path < b.path ? -1 : 1)));
    expect(back.saved).toEqual(adapter.saved.map((s) => ({ ...s, params: { bias: s.params.bias, weight: s.params.weight } })));
  });

  it('bf16 export reads back within bf16 precision', () => {
    const dir = tempDir('adapter');
    writeAdapter(dir, adapter, { dtype: 'BF16' });
    const back = readAdapter(dir);
    const m = back.modules.find((x) => x.path.endsWith('to_q'))!;
    const orig = adapter.modules[0]!;
    m.A.forEach((v, i) => expect(Math.abs(v - orig.A[i]!)).toBeLessThanOrEqual(Math.abs(orig.A[i]!) * 2 ** -8));
  });

  it('anchors pattern keys when a plain full path would also match a longer path (PEFT suffix rule)', () => {
    const mods = [module('encoder.layer.0.q', 4, 8, 2, 2, 1), module('text.encoder.layer.0.q', 8, 8, 2, 2, 2), module('text.x', 8, 8, 2, 2, 3)];
    // plain key "encoder.layer.0.q" would give text.encoder.layer.0.q rank 4 under (.*\.)?(key)$
    expect(patternKeyFor(['encoder.layer.0.q'], 'text.encoder.layer.0.q')).toBe('encoder.layer.0.q');
    const cfg = buildPeftConfig(adapter.settings, mods, []);
    expect(cfg.rank_pattern).toEqual({ '^encoder\\.layer\\.0\\.q': 4 });
    for (const m of mods) expect(resolveRankAlpha(cfg, m.path)).toEqual({ rank: m.rank, alpha: m.alpha });
    const dir = tempDir('adapter');
    writeAdapter(dir, { settings: adapter.settings, modules: mods, saved: [] });
    expect(readAdapter(dir).modules.map((m) => [m.path, m.rank])).toEqual([['encoder.layer.0.q', 4], ['text.encoder.layer.0.q', 8], ['text.x', 8]]);
  });

  it('derives r/lora_alpha as the commonest values and patterns for the rest; rslora/gaussian from the LoRA spec', () => {
    const mods = [module('a.q', 16, 32, 2, 2, 1), module('a.k', 16, 16, 2, 2, 2), module('a.v', 4, 32, 2, 2, 3)];
    const settings = settingsFromLoraSpec({ targets: [], dropout: 0, rslora: true, init: 'gaussian', layers: { text: null, image: null }, modulesToSave: [] }, null);
    const cfg = buildPeftConfig(settings, mods, []);
    expect([cfg.r, cfg.lora_alpha, cfg.rank_pattern, cfg.alpha_pattern]).toEqual([16, 32, { 'a.v': 4 }, { 'a.k': 16 }]);
    expect([cfg.use_rslora, cfg.init_lora_weights, cfg.modules_to_save, cfg.base_model_name_or_path]).toEqual([true, 'gaussian', null, null]);
  });
});

describe('PEFT adapter import', () => {
  /** A PEFT-style folder written by hand: short pattern keys and a regex target_modules. */
  function handAdapter(config: Record<string, unknown>, tensors: Record<string, Tensor>): string {
    const dir = tempDir('peft');
    writeFileSync(join(dir, 'adapter_config.json'), JSON.stringify(config));
    writeSafetensors(join(dir, 'adapter_model.safetensors'), tensors, { format: 'pt' });
    return dir;
  }
  const t = (shape: number[]): Tensor => fromFloat32(new Float32Array(shape.reduce((a, b) => a * b, 1)).fill(0.5), shape);
  const base = { peft_type: 'LORA', r: 8, lora_alpha: 16, target_modules: '.*\\.(query|value)', rank_pattern: { value: 4 }, alpha_pattern: { 'layer\\.1\\.attention\\.self\\.query': 2 } };
  const tensors = {
    'base_model.model.enc.layer.0.attention.self.query.lora_A.weight': t([8, 6]),
    'base_model.model.enc.layer.0.attention.self.query.lora_B.weight': t([5, 8]),
    'base_model.model.enc.layer.1.attention.self.query.lora_A.weight': t([8, 6]),
    'base_model.model.enc.layer.1.attention.self.query.lora_B.weight': t([5, 8]),
    'base_model.model.enc.layer.0.attention.self.value.lora_A.weight': t([4, 6]),
    'base_model.model.enc.layer.0.attention.self.value.lora_B.weight': t([5, 4]),
  };

  it('reads a PEFT-written folder, resolving rank/alpha patterns the way PEFT does', () => {
    const back = readAdapter(handAdapter(base, tensors));
    expect(back.modules.map((m) => [m.path, m.rank, m.alpha, m.inFeatures, m.outFeatures])).toEqual([
      ['enc.layer.0.attention.self.query', 8, 16, 6, 5],
      ['enc.layer.0.attention.self.value', 4, 16, 6, 5],
      ['enc.layer.1.attention.self.query', 8, 2, 6, 5],
    ]);
    expect(back.settings).toEqual({ baseModel: null, dropout: 0, rslora: false, init: 'kaiming' });
  });

  it('PEFT matching rules', () => {
    expect(targetModulesMatch(['query'], 'a.b.query')).toBe(true);
    expect(targetModulesMatch(['query'], 'a.b.xquery')).toBe(false);
    expect(targetModulesMatch('.*query', 'a.b.query')).toBe(true);
    expect(targetModulesMatch('query', 'a.b.query')).toBe(false); // a string must match the whole path
    expect(patternKeyFor(['value', 'query'], 'x.query')).toBe('query');
    expect(patternKeyFor(['ery'], 'x.query')).toBeNull(); // a key matches whole segments only
  });

  it('rejects inconsistent folders with precise codes', () => {
    expectDiagnostic(() => readAdapter(tempDir('peft')), 'E5530', ['adapter_config.json']);
    expectDiagnostic(() => readAdapter(handAdapter({ ...base, peft_type: 'IA3' }, tensors)), 'E5531', ['IA3']);
    expectDiagnostic(() => readAdapter(handAdapter({ ...base, use_dora: true }, tensors)), 'E5531', ['DoRA']);
    expectDiagnostic(() => readAdapter(handAdapter({ ...base, r: 0 }, tensors)), 'E5531', ['r must']);
    const { ['base_model.model.enc.layer.0.attention.self.value.lora_B.weight']: _drop, ...noB } = tensors;
    expectDiagnostic(() => readAdapter(handAdapter(base, noB)), 'E5532', ['enc.layer.0.attention.self.value', 'lora_B']);
    expectDiagnostic(() => readAdapter(handAdapter({ ...base, rank_pattern: {} }, tensors)), 'E5533', ['value.lora_A.weight', '[4, 6]', 'rank 8']);
    expectDiagnostic(() => readAdapter(handAdapter(base, { ...tensors, 'base_model.model.enc.other.weight': t([2]) })), 'E5534', ['enc.other.weight']);
    expectDiagnostic(() => readAdapter(handAdapter(base, { ...tensors, 'enc.layer.0.x.lora_A.weight': t([8, 6]) })), 'E5534', ['base_model.model.']);
    expectDiagnostic(() => readAdapter(handAdapter({ ...base, target_modules: ['query'] }, tensors)), 'E5534', ['target_modules']);
  });
});

describe('non-finite adapter values', () => {
  it('a NaN in a LoRA matrix or an infinity in a saved parameter is E5535 naming the tensor and the count', () => {
    const bad = structuredClone(adapter);
    const B = bad.modules[1]!.B;
    B[1] = NaN; B[4] = NaN;
    const dir = tempDir('peft-nan');
    writeAdapter(dir, bad);
    // Modules are read in path order: ...query first (finite), then ...value.
    expectDiagnostic(() => readAdapter(dir), 'E5535', ['base_model.model.text.encoder.layer.0.attention.self.value.lora_B.weight', `2 NaN of ${B.length} values (the first at element 1)`]);
    const inf = structuredClone(adapter);
    inf.saved[0]!.params.bias!.data[1] = -Infinity;
    const dir2 = tempDir('peft-inf');
    writeAdapter(dir2, inf);
    expectDiagnostic(() => readAdapter(dir2), 'E5535', ['text.pooler.dense.bias', '1 infinite of 2 values']);
    // The untouched adapter reads back.
    const ok = tempDir('peft-ok');
    writeAdapter(ok, adapter);
    expect(readAdapter(ok).modules).toHaveLength(3);
  });
});

describe('LoRA scaling and merge', () => {
  it('scaling is alpha/r, or alpha/sqrt(r) with rslora', () => {
    expect(loraScaling(16, 8, false)).toBe(2);
    expect(loraScaling(16, 4, true)).toBe(8);
  });
  it('W += scaling * B @ A (hand values)', () => {
    // A = [1 2] (r 1, in 2), B = [3; 4] (out 2, r 1), alpha 2 -> scaling 2; B@A = [[3, 6], [4, 8]]
    const m: AdaptedModule = { path: 'x', rank: 1, alpha: 2, inFeatures: 2, outFeatures: 2, A: Float32Array.of(1, 2), B: Float32Array.of(3, 4) };
    expect([...mergeInto(Float32Array.of(1, 0, 0, 1), m, false)]).toEqual([7, 12, 8, 17]);
    // r 2: A = [[1, 0], [0, 1]], B = [[1, 2], [3, 4]] -> B@A = B; alpha 4, rslora: 4/sqrt(2)
    const m2: AdaptedModule = { path: 'y', rank: 2, alpha: 4, inFeatures: 2, outFeatures: 2, A: Float32Array.of(1, 0, 0, 1), B: Float32Array.of(1, 2, 3, 4) };
    const s = 4 / Math.SQRT2;
    expect([...mergeInto(new Float32Array(4), m2, true)]).toEqual([1, 2, 3, 4].map((x) => Math.fround(s * x)));
  });
});
