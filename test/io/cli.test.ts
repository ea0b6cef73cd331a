// `medctc convert` and `medctc inspect` as a user runs them (the built CLI in a child process):
// conversions keep every tensor's dtype and values as PyTorch wrote them, are atomic, and every
// refusal is a diagnostic with exit 2 that leaves no output and runs nothing.
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readSafetensors, toFloat32 } from '../../runtime/io/safetensors.js';
import { FIX, PWNED, tempDir, tinyPattern } from './helpers.js';

const CLI = resolve('dist/cli/medctc.js');
function medctc(...args: string[]) {
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: build first with \`npx tsc -p tsconfig.json\``);
  return spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' } });
}

const expected = JSON.parse(readFileSync(join(FIX, 'basic.expected.json'), 'utf8')).tensors as Record<string, { dtype: string; shape: number[]; values: (number | string)[] }>;

describe('medctc convert', () => {
  it('zip and legacy checkpoints become the same safetensors file, each tensor in its dtype with PyTorch\'s values', () => {
    const dir = tempDir('convert');
    // The legacy file under the same name, so the converted_from metadata is the same too.
    mkdirSync(join(dir, 'legacy'));
    copyFileSync(join(FIX, 'basic_legacy.pt'), join(dir, 'legacy', 'basic.pt'));
    for (const [src, out] of [[join(FIX, 'basic.pt'), 'basic.pt.safetensors'], [join(dir, 'legacy', 'basic.pt'), 'basic_legacy.pt.safetensors']]) {
      const r = medctc('convert', src!, join(dir, out!));
      expect(r.status, r.stderr).toBe(0);
      expect(r.stdout).toContain(`${Object.keys(expected).length} tensors`);
    }
    expect(readFileSync(join(dir, 'basic.pt.safetensors')).equals(readFileSync(join(dir, 'basic_legacy.pt.safetensors')))).toBe(true);
    const st = readSafetensors(join(dir, 'basic.pt.safetensors'));
    expect(st.metadata).toEqual({ format: 'pt', converted_from: 'basic.pt' });
    expect([...st.tensors.keys()].sort()).toEqual(Object.keys(expected).sort());
    for (const [name, w] of Object.entries(expected)) {
      const t = st.tensors.get(name)!;
      expect(t.dtype, name).toBe(w.dtype);
      expect(t.shape, name).toEqual(w.shape);
      const got = t.dtype === 'I64' ? [...(t.data as BigInt64Array)].map(String)
        : t.dtype === 'F16' || t.dtype === 'BF16' ? [...toFloat32(t)] : Array.from(t.data as ArrayLike<number>, Number);
      expect(got, name).toEqual(w.values);
    }
    // Atomic writes leave no temp files behind.
    expect(readdirSync(dir).sort()).toEqual(['basic.pt.safetensors', 'basic_legacy.pt.safetensors', 'legacy']);
  });

  it('--strip-prefix and --key shape the state dict; the tiny model converts with its values', () => {
    const dir = tempDir('convert');
    let r = medctc('convert', join(FIX, 'module_prefix.pt'), join(dir, 'a.safetensors'), '--strip-prefix', 'module.');
    expect(r.status, r.stderr).toBe(0);
    expect([...readSafetensors(join(dir, 'a.safetensors')).tensors.keys()].sort()).toEqual(['bias', 'weight']);
    r = medctc('convert', join(FIX, 'wrapped.pt'), join(dir, 'b.safetensors'), '--json');
    expect(r.status, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ ok: true, format: 'torch-zip', tensors: 2, notes: [expect.stringContaining('checkpoint["state_dict"]')] });
    r = medctc('convert', join(FIX, 'ct_clip_tiny.pt'), join(dir, 'tiny.safetensors'));
    expect(r.status, r.stderr).toBe(0);
    const shapes = JSON.parse(readFileSync(join(FIX, 'ct_clip_tiny.shapes.json'), 'utf8')) as [string, number[]][];
    const tiny = readSafetensors(join(dir, 'tiny.safetensors')).tensors;
    expect(tiny.size).toBe(shapes.length - 1);
    shapes.forEach(([name, shape], j) => {
      if (name.endsWith('embed_avg')) return expect(tiny.has(name)).toBe(false);
      expect(toFloat32(tiny.get(name)!), name).toEqual(tinyPattern(j, shape.reduce((a, d) => a * d, 1)));
    });
  });

  it('a malicious checkpoint is E5582 with exit 2: nothing runs, and an existing OUT is left as it was', () => {
    const dir = tempDir('convert');
    const out = join(dir, 'out.safetensors');
    writeFileSync(out, 'previous');
    for (const file of ['malicious.pt', 'malicious_legacy.pt', 'malicious.bin']) {
      rmSync(PWNED, { force: true });
      const r = medctc('convert', join(FIX, file), out);
      expect(r.status, r.stderr).toBe(2);
      expect(r.stderr).toContain('error[E5582]');
      expect(r.stderr).toContain('`posix.system`');
      expect(existsSync(PWNED)).toBe(false);
      expect(readFileSync(out, 'utf8')).toBe('previous');
    }
    expect(readdirSync(dir)).toEqual(['out.safetensors']);
  });

  it('usage errors are E0001 with exit 2', () => {
    const dir = tempDir('convert');
    let r = medctc('convert', join(FIX, 'basic.pt'), join(dir, 'out.pt'));
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('error[E0001]');
    expect(r.stderr).toContain('.safetensors');
    r = medctc('convert', join(dir, 'x.safetensors'), join(dir, 'x.safetensors'));
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('overwrite the input');
    r = medctc('convert', join(dir, 'missing.pt'), join(dir, 'o.safetensors'));
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('error[E5501]');
  });
});

describe('medctc inspect', () => {
  it('--json: names, dtypes, shapes, counts and the preset', () => {
    const r = medctc('inspect', join(FIX, 'ct_clip_tiny.pt'), '--json');
    expect(r.status, r.stderr).toBe(0);
    const j = JSON.parse(r.stdout);
    expect(j).toMatchObject({ ok: true, format: 'torch-zip', count: 137, elements: 599_430, dtypes: { F16: 137 },
      architecture: { kind: 'preset', preset: 'ct_clip_tiny', comparison: { optionalMissing: [], missing: [], wrongShape: [] } } });
    expect(j.tensors[0]).toEqual({ name: 'text_transformer.embeddings.word_embeddings.weight', dtype: 'F16', shape: [512, 64] });
  });
  it('text: the table, a wrapper note, and a state dict of no preset', () => {
    const r = medctc('inspect', join(FIX, 'wrapped.pt'));
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^weight +F32 +\[2, 3\]$/m);
    expect(r.stdout).toContain('note: the state dict is checkpoint["state_dict"]');
    expect(r.stdout).toContain('architecture: not a CT-CLIP state dict');
    const p = medctc('inspect', join(FIX, 'module_prefix.pt'));
    expect(p.stdout).toContain('--strip-prefix module.');
  });
  it('refusals are diagnostics with exit 2, in JSON too', () => {
    rmSync(PWNED, { force: true });
    let r = medctc('inspect', join(FIX, 'malicious.bin'), '--json');
    expect(r.status).toBe(2);
    expect(JSON.parse(r.stdout)).toMatchObject({ ok: false, diagnostics: [{ code: 'E5582' }] });
    expect(existsSync(PWNED)).toBe(false);
    r = medctc('inspect', join(FIX, 'whole_module.pt'));
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('torch.save(model.state_dict(), path)');
  });
});
