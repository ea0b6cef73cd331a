// `medctc run / train / evaluate` user errors through the compiled CLI (`npm test` compiles
// first): each is a diagnostic with exit code 2, caught before any device work starts.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { writeAdapter } from '../../runtime/adapter/index.js';
import { stagingFor } from '../../runtime/run/index.js';
import { generateSynthetic } from '../../runtime/data/synth/generate.js';
import { encodeNifti1Int16, readNiftiFile } from '../../runtime/data/nifti.js';
import { smallSpec, snapshot, tempDir } from './helpers.js';

const CLI = resolve('dist/cli/medctc.js');
function medctc(...args: string[]) {
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: build first with \`npx tsc -p tsconfig.json\``);
  return spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' } });
}

describe('medctc run: user errors', () => {
  it('rejects bad option values', () => {
    const r = medctc('run', 'examples/quickstart.medct', '--epochs', '0');
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('--epochs must be a positive integer, got 0');
  });

  it('reports a missing spec as a diagnostic, as JSON with --json', () => {
    const r = medctc('run', 'no/such.medct');
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/error\[E\d{4}\]/);
    expect(r.stderr).not.toMatch(/at .*\.js:\d+/);
    const j = medctc('run', 'no/such.medct', '--json');
    expect(j.status).toBe(2);
    expect(JSON.parse(j.stdout)).toMatchObject({ ok: false });
  });

  it('a train split smaller than one batch is E5564, before any training (no run.json)', () => {
    const dir = tempDir('cli-small');
    const file = smallSpec(dir, { volumes: 5, batch: 8 });
    const out = join(dir, 'out');
    const r = medctc('run', file, '--out', out, '--backend', 'reference', '--quiet');
    expect(r.status, r.stderr).toBe(2);
    expect(r.stderr).toContain('E5564');
    expect(r.stderr).toContain('fewer than one batch of 8');
    expect(existsSync(join(out, 'run.json'))).toBe(false);
  });

  it('evaluate --adapter with an adapter of another rank is E5565', () => {
    const dir = tempDir('cli-adapter');
    const file = smallSpec(dir, { volumes: 5 });
    const ad = join(dir, 'adapter');
    mkdirSync(ad);
    const path = 'text_transformer.encoder.layer.0.attention.self.query';
    writeAdapter(ad, {
      settings: { baseModel: null, dropout: 0, rslora: false, init: 'kaiming' },
      modules: [{ path, rank: 4, alpha: 16, inFeatures: 64, outFeatures: 64, A: new Float32Array(4 * 64), B: new Float32Array(64 * 4) }],
      saved: [],
    });
    const r = medctc('evaluate', file, '--adapter', ad, '--backend', 'reference', '--quiet');
    expect(r.status, r.stderr).toBe(2);
    expect(r.stderr).toContain('E5565');
    expect(r.stderr).toContain(`${path} is rank 4`);
  });
});

describe('medctc train: a killed run', () => {
  it('SIGKILL after training started leaves the previous results byte-identical; the next run cleans up', async () => {
    const dir = tempDir('cli-kill');
    const file = smallSpec(dir, { volumes: 10, epochs: 1, batch: 2, pathologies: 2 });
    const out = join(dir, 'out');
    const first = medctc('train', file, '--out', out, '--backend', 'cpu', '--quiet');
    expect(first.status, first.stderr).toBe(0);
    const before = snapshot(out);
    expect(Object.keys(before)).toEqual(expect.arrayContaining(['run.json', 'train_log.jsonl', 'adapter/adapter_model.safetensors', 'medctc.lock']));

    // Many epochs, killed as soon as the first step is logged in the staging folder (cpu backend:
    // the reference one takes a minute per run here).
    const log = join(stagingFor(out), 'train_log.jsonl');
    const p = spawn(process.execPath, [CLI, 'train', file, '--out', out, '--backend', 'cpu', '--quiet', '--epochs', '500'], { stdio: 'ignore' });
    const killed = await new Promise<string | null>((done) => {
      const t0 = Date.now();
      const poll = setInterval(() => {
        if (existsSync(log) || Date.now() - t0 > 120_000) { clearInterval(poll); p.kill('SIGKILL'); }
      }, 20);
      p.on('exit', (_code, signal) => { clearInterval(poll); done(signal); });
    });
    expect(killed).toBe('SIGKILL');
    expect(existsSync(log), 'training had started when the run was killed').toBe(true);
    expect(snapshot(out)).toEqual(before);

    const again = medctc('train', file, '--out', out, '--backend', 'cpu', '--quiet');
    expect(again.status, again.stderr).toBe(0);
    expect(existsSync(stagingFor(out))).toBe(false);
    expect(Object.keys(snapshot(out)).sort()).toEqual(Object.keys(before).sort());
  }, 300_000);
});

describe('medctc evaluate: non-finite voxels', () => {
  it('a float32 volume with NaN voxels is exit 2, E5007 naming the file and the count, before any compute', () => {
    const dir = tempDir('cli-nan');
    const file = smallSpec(dir, { volumes: 10 });
    // The spec's synthetic data, generated as the run would (same arguments: the run keeps it).
    generateSynthetic({ out: join(dir, 'data'), volumes: 10, seed: 7, site: 'source', shape: [40, 48, 48] });
    const walk = (d: string): string[] => readdirSync(d, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? walk(join(d, e.name)) : [join(d, e.name)]));
    const victim = walk(join(dir, 'data', 'valid')).filter((p) => p.endsWith('.nii.gz')).sort()[0]!;
    const vol = readNiftiFile(victim);
    // The same image stored as float32 (datatype 16, bitpix 32) with three voxels NaN.
    const header = encodeNifti1Int16({ dims: vol.dims, pixdim: vol.pixdim, data: new Int16Array(vol.data.length), description: 'nan' }).subarray(0, 352);
    new DataView(header.buffer, header.byteOffset).setInt16(70, 16, true);
    new DataView(header.buffer, header.byteOffset).setInt16(72, 32, true);
    const data = Float32Array.from(vol.data as ArrayLike<number>);
    data[10] = NaN; data[500] = NaN; data[data.length - 1] = NaN;
    writeFileSync(victim, gzipSync(Buffer.concat([header, Buffer.from(data.buffer)])));
    const r = medctc('evaluate', file, '--backend', 'cpu', '--quiet');
    expect(r.status, r.stderr).toBe(2);
    expect(r.stderr).toContain('error[E5007]');
    expect(r.stderr).toContain(`3 NaN of ${data.length} voxels are not finite after scaling (the first at voxel 10)`);
    expect(r.stderr).toContain(victim.split('/').pop()!);
    expect(r.stderr).not.toMatch(/at .*\.js:\d+/);
  }, 120_000);
});
