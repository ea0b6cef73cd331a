// Base weights: a spec's safetensors checkpoint loads strictly by state-dict name (missing tensor,
// wrong shape, non-finite value: diagnostics), and a run that trains the base writes
// model.safetensors, evaluates with it, and a second experiment that names it as `weights`
// reproduces that evaluation exactly (CPU).
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { compileExperiment } from '../../compiler/build.js';
import { checkFiles } from '../../compiler/check/index.js';
import { initWeights } from '../../runtime/exec/init.js';
import { fromFloat32, readSafetensors, toFloat32, writeSafetensors, type Tensor } from '../../runtime/io/safetensors.js';
import { loadBaseWeights } from '../../runtime/run/weights.js';
import { expectDiagnostic, smallSpec, tempDir } from './helpers.js';

const CLI = resolve('dist/cli/medctc.js');
function medctc(...args: string[]) {
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: build first with \`npx tsc -p tsconfig.json\``);
  return spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' } });
}

const compiled = compileExperiment(checkFiles('examples/quickstart.medct').experiments[0]!);
const graph = compiled.graphs.eval;
const model = compiled.plans.eval.model;
const base = graph.tensors.filter((t) => (t.role === 'param' || t.role === 'buffer') && !t.lora);
const seeded = initWeights(graph.tensors, 5);
function checkpoint(dir: string, edit: (m: Map<string, Tensor>) => void = () => {}, dtype: 'F32' | 'BF16' = 'F32', metadata: Record<string, string> | null = null): string {
  const m = new Map<string, Tensor>(base.map((t) => [t.name, fromFloat32(Float32Array.from(seeded.get(t.name)!), [...t.shape], dtype)]));
  edit(m);
  const f = join(dir, `ckpt-${Math.random().toString(36).slice(2)}.safetensors`);
  writeSafetensors(f, m, metadata);
  return f;
}

describe('loadBaseWeights', () => {
  const dir = tempDir('weights');
  it('reads every base tensor by name (bf16 widened exactly), ignores tensors the model does not use', () => {
    const f = checkpoint(dir, (m) => m.set('text_transformer.embeddings.position_ids', fromFloat32(new Float32Array(4), [1, 4])), 'BF16');
    const w = loadBaseWeights(model, f, 'exp.medct');
    expect(w.size).toBe(base.length);
    const t = base.find((x) => x.name.endsWith('to_visual_latent.weight'))!;
    // bf16 keeps the top 16 bits of the f32 (round to nearest even): within 2^-8 relative.
    const got = w.get(t.name)!, want = seeded.get(t.name)!;
    for (let i = 0; i < got.length; i++) expect(Math.abs(got[i]! - want[i]!)).toBeLessThanOrEqual(Math.abs(want[i]!) * 2 ** -8);
    expect(w.has('text_transformer.embeddings.position_ids')).toBe(false);
  });
  it('a tensor the file lacks is E5566 naming it; a DDP "module." prefix is pointed out', async () => {
    const gone = base[3]!.name;
    let f = checkpoint(dir, (m) => m.delete(gone));
    await expectDiagnostic(() => loadBaseWeights(model, f, 'exp.medct'), 'E5566', [gone, `1 of the ${base.length}`]);
    f = checkpoint(dir, (m) => { for (const [k, v] of [...m]) { m.delete(k); m.set(`module.${k}`, v); } });
    const e = await expectDiagnostic(() => loadBaseWeights(model, f, 'exp.medct'), 'E5566');
    expect(e.diagnostics[0]!.help).toContain('"module."');
  });
  it('a wrong shape is E5566 with both shapes; a NaN is E5567 with its place', async () => {
    const t = base.find((x) => x.shape.length === 2)!;
    let f = checkpoint(dir, (m) => m.set(t.name, fromFloat32(new Float32Array(t.shape[0]! * (t.shape[1]! + 1)), [t.shape[0]!, t.shape[1]! + 1])));
    await expectDiagnostic(() => loadBaseWeights(model, f, 'exp.medct'), 'E5566', [t.name, `[${t.shape.join(', ')}]`, `[${t.shape[0]}, ${t.shape[1]! + 1}]`]);
    f = checkpoint(dir, (m) => { const v = toFloat32(m.get(t.name)!); v[7] = NaN; m.set(t.name, fromFloat32(v, [...t.shape])); });
    await expectDiagnostic(() => loadBaseWeights(model, f, 'exp.medct'), 'E5567', [t.name, 'NaN', 'element 7']);
  });
  it('a file that records another quantiser setting than the spec is E5566; one that records none is not checked', async () => {
    // The same tensors either way (quantize false keeps the codebook buffers): only the metadata tells.
    const without = checkpoint(dir, undefined, 'F32', { 'medctc.image.quantize': 'false' });
    const e = await expectDiagnostic(() => loadBaseWeights(model, without, 'exp.medct', { quantize: true }), 'E5566', ['without', 'quantize true']);
    expect(e.diagnostics[0]!.help).toContain('image { quantize false }');
    expect(loadBaseWeights(model, without, 'exp.medct', { quantize: false }).size).toBe(base.length);
    const withVq = checkpoint(dir, undefined, 'F32', { 'medctc.image.quantize': 'true' });
    await expectDiagnostic(() => loadBaseWeights(model, withVq, 'exp.medct', { quantize: false }), 'E5566', ['with CTViT', 'quantize false']);
    const unrecorded = checkpoint(dir);
    for (const q of [true, false]) expect(loadBaseWeights(model, unrecorded, 'exp.medct', { quantize: q }).size).toBe(base.length);
  });
});

describe('training the base (cpu)', () => {
  it('writes model.safetensors, evaluates with it, and `weights` of a second experiment reproduces the scores', () => {
    const dir = tempDir('train-base');
    // No LoRA: the whole base trains. 3 volumes: 2 train (one step), 1 eval.
    const text = readFileSync(smallSpec(dir, { volumes: 3, pathologies: 3, batch: 2, epochs: 1, baseline: true, warmup: 0, schedule: 'constant' }), 'utf8')
      .replace(/\n {2}lora \{[\s\S]*?\n {2}\}\n/, '\n')
      .replace(/grad_clip 1.0/, 'grad_clip 1.0\n    train_base true');
    expect(text).not.toContain('lora {');
    const spec = join(dir, 'pretrain.medct');
    writeFileSync(spec, text);
    const out = join(dir, 'pretrain');
    let r = medctc('run', spec, '--out', out, '--backend', 'reference', '--quiet');
    expect(r.status, r.stderr).toBe(0);
    const saved = readSafetensors(join(out, 'model.safetensors')).tensors;
    expect([...saved.keys()].sort()).toEqual(base.map((t) => t.name).sort());
    expect(existsSync(join(out, 'adapter'))).toBe(false);
    // The step moved trainable weights (not the seeded values any more); the VQ codebook did not move.
    const init = initWeights(graph.tensors, 7);
    const moved = (n: string) => toFloat32(saved.get(n)!).some((v, i) => v !== init.get(n)![i]);
    expect(moved('to_visual_latent.weight')).toBe(true);
    expect(base.filter((t) => t.name.includes('_codebook.')).some((t) => moved(t.name))).toBe(false);
    // The final evaluation used the trained base: its scores differ from the baseline's.
    expect(readFileSync(join(out, 'scores.csv')).equals(readFileSync(join(out, 'scores.baseline.csv')))).toBe(false);

    const reuse = join(dir, 'reuse.medct');
    writeFileSync(reuse, text.replace(/model ct_clip_tiny\n/, 'model ct_clip_tiny { weights "pretrain/model.safetensors" }\n').replace(/\n {2}train \{[\s\S]*?\n {2}\}\n/, '\n'));
    expect(readFileSync(reuse, 'utf8')).toContain('weights "pretrain/model.safetensors"');
    r = medctc('evaluate', reuse, '--out', join(dir, 'reused'), '--backend', 'reference', '--quiet');
    expect(r.status, r.stderr).toBe(0);
    expect(readFileSync(join(dir, 'reused', 'scores.csv')).equals(readFileSync(join(out, 'scores.csv')))).toBe(true);

    // The written file records the quantiser setting; a spec that builds the model otherwise is
    // refused before any data work, at its `quantize`.
    expect(readSafetensors(join(out, 'model.safetensors')).metadata?.['medctc.image.quantize']).toBe('true');
    const wrong = join(dir, 'wrong.medct');
    writeFileSync(wrong, readFileSync(reuse, 'utf8').replace('weights "pretrain/model.safetensors" }', 'weights "pretrain/model.safetensors"; image { quantize false } }'));
    r = medctc('evaluate', wrong, '--out', join(dir, 'wrong-out'), '--backend', 'reference', '--quiet');
    expect(r.status, r.stderr).toBe(2);
    expect(r.stderr).toContain('error[E5566]');
    expect(r.stderr).toMatch(/wrong\.medct:\d+:\d+/);
    expect(r.stderr).toContain('image { quantize true }');
    expect(existsSync(join(dir, 'wrong-out', 'metrics.json')) || existsSync(join(dir, 'wrong-out', 'run.json'))).toBe(false);
  }, 300_000);
});
