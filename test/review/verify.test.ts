// `medctc verify`: a fresh build of the quickstart verifies (exit 0); one changed byte in a kernel,
// the spec, the weights file's header or the synthetic data's manifest is drift (exit 1, naming the
// file); a missing or broken lock is E3028 (exit 2).
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeEach, describe, expect, it } from 'vitest';
import { tempDir } from '../run/helpers.js';
import { medctcIn } from './cli.js';

/** Flips one byte of a file (XOR 1) at `offset` (negative: from the end). */
function flipByte(file: string, offset: number): void {
  const b = readFileSync(file);
  const i = offset < 0 ? b.length + offset : offset;
  b[i] = b[i]! ^ 1;
  writeFileSync(file, b);
}

/** A minimal safetensors file: one f32 tensor and a metadata entry. */
function safetensors(file: string): void {
  const header = Buffer.from(JSON.stringify({ __metadata__: { note: 'verify test' }, t: { dtype: 'F32', shape: [2], data_offsets: [0, 8] } }));
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(header.length));
  writeFileSync(file, Buffer.concat([len, header, Buffer.from(new Float32Array([1, 2]).buffer)]));
}

describe('medctc verify', () => {
  let root: string, spec: string, build: string;
  // cwd: the spec's folder, so the sources resolve whether or not the lock records `specDir`.
  const verify = (...args: string[]) => medctcIn(spec, 'verify', build, ...args);

  beforeEach(() => {
    root = tempDir('review-verify');
    spec = join(root, 'spec');
    build = join(root, 'build');
    mkdirSync(spec);
    // The quickstart spec as shipped, with weights named (the build hashes their header; it never loads them)
    // and its synthetic data generated first, so the lock holds the data manifest's hash.
    const text = readFileSync('examples/quickstart.medct', 'utf8')
      .replace(/weights "[^"]*"/, 'weights "weights/tiny.safetensors"')
      .replace(/root "[^"]*"/, 'root "data"')
      .replace(/volumes \d+/, 'volumes 4');
    writeFileSync(join(spec, 'quickstart.medct'), text);
    mkdirSync(join(spec, 'weights'));
    safetensors(join(spec, 'weights', 'tiny.safetensors'));
    const s = medctcIn(spec, 'synth', '--out', 'data', '--volumes', '4', '--seed', '7', '--site', 'target', '--shape', '40,48,48');
    expect(s.status, s.stderr).toBe(0);
    const b = medctcIn(spec, 'build', 'quickstart.medct', '--out', build);
    expect(b.status, b.stderr).toBe(0);
  });

  it('a fresh build matches its lock; --json lists every entry', () => {
    const r = verify();
    expect(r.status, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toMatch(/all \d+ files match the lock/);
    const j = verify('--json');
    expect(j.status).toBe(0);
    const doc = JSON.parse(j.stdout);
    expect(doc).toMatchObject({ ok: true, match: true });
    const entries = doc.folders[0].entries as { section: string; name: string; status: string }[];
    const lock = JSON.parse(readFileSync(join(build, 'medctc.lock'), 'utf8'));
    // Every output the lock names was hashed, and the spec, weights and data manifest too.
    expect(entries.filter((e) => e.section === 'outputs').map((e) => e.name).sort()).toEqual(Object.keys(lock.outputs).sort());
    expect(entries.map((e) => e.section)).toEqual(expect.arrayContaining(['sources', 'weights', 'data', 'plans']));
    expect(entries.every((e) => e.status === 'ok')).toBe(true);
  });

  const drift = (what: string, mutate: () => string) => it(`one changed byte of ${what} is drift, naming the file`, () => {
    const file = mutate();
    const r = verify();
    expect(r.status, r.stdout + r.stderr).toBe(1);
    expect(r.stdout).toMatch(/^1 of \d+ files drifted$/m);
    const line = r.stdout.split('\n').find((l) => l.trim().startsWith('changed'));
    expect(line, r.stdout).toContain(file);
    const j = JSON.parse(verify('--json').stdout);
    expect(j.match).toBe(false);
    expect(j.folders[0].entries.filter((e: { status: string }) => e.status !== 'ok').map((e: { status: string }) => e.status)).toEqual(['changed']);
  });

  drift('a kernel', () => {
    const k = readdirSync(join(build, 'kernels')).filter((f) => f.endsWith('.wgsl')).sort()[0]!;
    flipByte(join(build, 'kernels', k), 100);
    return k;
  });
  drift('the spec', () => { flipByte(join(spec, 'quickstart.medct'), 2); return 'quickstart.medct'; });
  // The lock records the safetensors header (what names, shapes and dtypes the tensors have) and the size.
  drift('the weights file header', () => { flipByte(join(spec, 'weights', 'tiny.safetensors'), 30); return 'tiny.safetensors'; });
  drift('the data manifest', () => { flipByte(join(spec, 'data', 'manifest.json'), 20); return 'manifest.json'; });

  it('a labels CSV is checked when the lock records data files (lock fields are read generically)', () => {
    // A synthetic source is locked by its manifest only, not its CSVs; verify checks any path -> sha256
    // map under `data` against the data root, so a lock that lists them gets them checked (a
    // ct_rate source's `tables`: test/review/verify-data.test.ts).
    const labels = 'multi_abnormality_labels/valid_predicted_labels.csv';
    const lockFile = join(build, 'medctc.lock');
    const lock = JSON.parse(readFileSync(lockFile, 'utf8'));
    const hash = JSON.parse(verify('--json').stdout).folders[0].entries.find((e: { name: string }) => e.name === 'manifest.json').actual;
    expect(hash).toMatch(/^[0-9a-f]{64}$/);
    lock.data.files = { [labels]: createHash('sha256').update(readFileSync(join(spec, 'data', labels))).digest('hex') };
    writeFileSync(lockFile, JSON.stringify(lock, null, 2));
    expect(verify().status).toBe(0);
    flipByte(join(spec, 'data', labels), -3);
    const r = verify();
    expect(r.status).toBe(1);
    expect(r.stdout).toContain('valid_predicted_labels.csv');
  });

  it('a deleted kernel is `missing`; --all lists the files that match too', () => {
    const k = readdirSync(join(build, 'kernels')).sort()[0]!;
    rmSync(join(build, 'kernels', k));
    const r = verify('--all');
    expect(r.status).toBe(1);
    expect(r.stdout).toMatch(new RegExp(`^ {2}missing +outputs +.*kernels/${k.replace(/[.]/g, '\\.')} +locked [0-9a-f]{12}`, 'm'));
    expect(r.stdout).toMatch(/^ {2}ok +outputs +.*experiment\.json$/m);
  });

  it('no lock, or a broken one, is E3028 (exit 2)', () => {
    const none = medctcIn(root, 'verify', join(root, 'spec'));
    expect(none.status).toBe(2);
    expect(none.stderr).toContain('error[E3028]');
    writeFileSync(join(build, 'medctc.lock'), '{ not json');
    const bad = verify('--json');
    expect(bad.status).toBe(2);
    expect(JSON.parse(bad.stdout)).toMatchObject({ ok: false, diagnostics: [{ code: 'E3028' }] });
    expect(bad.stderr).not.toMatch(/at .*\.js:\d+/);
  });
});

describe('medctc verify on a run folder whose synthetic data the run itself generated', () => {
  it('matches its lock (the lock names the manifest the run generated, and run.json that lock)', () => {
    const dir = tempDir('review-verify-fresh');
    writeFileSync(join(dir, 'exp.medct'), `experiment "fresh" {
  seed 1
  backend cpu
  model ct_clip_tiny
  lora { rank 2; alpha 4; target text "encoder.layer.*.attention.self.query" }
  data synthetic { root "data"; volumes 12; seed 3 }
  prompts { positive "{pathology} is present."; negative "{pathology} is not present."; pathologies ["Cardiomegaly", "Emphysema"] }
  train { loss pair_ce; optimizer adamw { lr 1e-3 }; epochs 1; batch 2 }
  evaluate { metrics [auroc] }
  outputs { dir "run" }
}
`);
    const run = medctcIn(dir, 'run', 'exp.medct', '--quiet');
    expect(run.status, run.stderr).toBe(0);
    const lock = readFileSync(join(dir, 'run', 'medctc.lock'));
    const manifest = createHash('sha256').update(readFileSync(join(dir, 'data', 'manifest.json'))).digest('hex');
    expect(JSON.parse(lock.toString('utf8')).data.manifest).toBe(manifest);
    const runJson = JSON.parse(readFileSync(join(dir, 'run', 'run.json'), 'utf8'));
    expect(runJson.build.lock).toBe(createHash('sha256').update(lock).digest('hex'));
    const v = medctcIn(dir, 'verify', 'run');
    expect(v.status, v.stdout + v.stderr).toBe(0);
    // A second run (data already there) writes the same lock, byte for byte.
    expect(medctcIn(dir, 'run', 'exp.medct', '--quiet').status).toBe(0);
    expect(readFileSync(join(dir, 'run', 'medctc.lock')).equals(lock)).toBe(true);
  }, 120_000);
});
