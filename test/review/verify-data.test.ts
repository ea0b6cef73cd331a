// The lock pins a real (ct_rate) dataset: the labels, reports and metadata CSVs by sha256 and every
// volume the experiment reads by (path, size, sha256), all hashed independently here; one changed
// byte of one volume (same size), a volume grown by a byte, or a changed CSV is drift that
// `medctc verify` names. Hashes are kept in <cacheDir>/file-hashes.json, so a re-build reads them
// from there and writes the same lock.
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { tempDir } from '../run/helpers.js';
import { medctcIn } from './cli.js';

const sha = (file: string) => createHash('sha256').update(readFileSync(file)).digest('hex');
const walk = (d: string): string[] => readdirSync(d, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? walk(join(d, e.name)) : [join(d, e.name)]));

function flipByte(file: string, offset: number): void {
  const b = readFileSync(file);
  b[offset] = b[offset]! ^ 1;
  writeFileSync(file, b);
}

describe('medctc.lock pins a ct_rate dataset', () => {
  let spec: string, build: string, data: string;
  const verify = () => medctcIn(spec, 'verify', build);
  const lockOf = () => JSON.parse(readFileSync(join(build, 'medctc.lock'), 'utf8'));

  beforeAll(async () => {
    const root = tempDir('verify-data');
    spec = join(root, 'spec');
    build = join(root, 'build');
    data = join(spec, 'data');
    mkdirSync(join(spec, 'weights'), { recursive: true });
    // A tiny safetensors file (the build hashes the weights header, it never loads it).
    const header = Buffer.from(JSON.stringify({ t: { dtype: 'F32', shape: [1], data_offsets: [0, 4] } }));
    const len = Buffer.alloc(8); len.writeBigUInt64LE(BigInt(header.length));
    writeFileSync(join(spec, 'weights', 'tiny.safetensors'), Buffer.concat([len, header, Buffer.alloc(4)]));
    const text = readFileSync('examples/quickstart.medct', 'utf8')
      .replace(/weights "[^"]*"/, 'weights "weights/tiny.safetensors"')
      .replace(/data synthetic \{[\s\S]*?\n {2}\}\n/, `data ct_rate {
    root "data"
    preprocess { window [-1000, 1000] HU; spacing [10, 10, 10] mm; size [32, 32, 32] voxels }
    cache ".cache/preprocess"
  }
`);
    expect(text).toContain('data ct_rate');
    writeFileSync(join(spec, 'quickstart.medct'), text);
    // Small NIfTI volumes in CT-RATE's layout, with its three tables per split.
    const s = medctcIn(spec, 'synth', '--out', 'data', '--volumes', '6', '--seed', '4', '--shape', '12,16,16', '--quiet');
    expect(s.status, s.stderr).toBe(0);
    // Files younger than 2 s are never remembered (file times are coarse): let them age first.
    await new Promise((r) => setTimeout(r, 2100));
    const b = medctcIn(spec, 'build', 'quickstart.medct', '--out', build);
    expect(b.status, b.stderr).toBe(0);
  });

  it('the lock lists every table and volume with its sha256 and size', () => {
    const lock = lockOf();
    const files = walk(data).map((f) => relative(data, f));
    const volumes = files.filter((f) => /\.nii(\.gz)?$/.test(f)).sort();
    const tables = files.filter((f) => f.endsWith('.csv')).sort();
    expect(volumes.length).toBeGreaterThanOrEqual(6);
    expect(tables).toHaveLength(6);
    expect(lock.data.root).toBe('data');
    expect(Object.keys(lock.data.tables).sort()).toEqual(tables);
    for (const t of tables) expect(lock.data.tables[t]).toBe(sha(join(data, t)));
    expect(Object.keys(lock.data.volumes).sort()).toEqual(volumes);
    for (const v of volumes) expect(lock.data.volumes[v]).toEqual({ sha256: sha(join(data, v)), bytes: readFileSync(join(data, v)).length });
    const r = verify();
    expect(r.status, r.stdout + r.stderr).toBe(0);
  });

  it('hashes are remembered in the cache folder, and a re-build writes the same lock', () => {
    const store = JSON.parse(readFileSync(join(spec, '.cache/preprocess/file-hashes.json'), 'utf8')) as { version: number; files: Record<string, [string, string]> };
    const lock = lockOf();
    for (const [v, { sha256 }] of Object.entries(lock.data.volumes as Record<string, { sha256: string }>)) expect(store.files[join(data, v)]?.[1]).toBe(sha256);
    const before = readFileSync(join(build, 'medctc.lock'), 'utf8');
    // A remembered hash is what a re-build uses: poison one (same stamp, wrong hash) to see it read.
    const victim = Object.keys(lock.data.volumes)[0]!;
    const poisoned = structuredClone(store);
    poisoned.files[join(data, victim)]![1] = '0'.repeat(64);
    writeFileSync(join(spec, '.cache/preprocess/file-hashes.json'), JSON.stringify(poisoned));
    expect(medctcIn(spec, 'build', 'quickstart.medct', '--out', build).status).toBe(0);
    expect(lockOf().data.volumes[victim].sha256).toBe('0'.repeat(64));
    writeFileSync(join(spec, '.cache/preprocess/file-hashes.json'), JSON.stringify(store));
    expect(medctcIn(spec, 'build', 'quickstart.medct', '--out', build).status).toBe(0);
    expect(readFileSync(join(build, 'medctc.lock'), 'utf8')).toBe(before);
  });

  it('one changed byte of one volume (same size) is drift naming that volume', () => {
    const lock = lockOf();
    const victim = Object.keys(lock.data.volumes).sort()[1]!;
    const file = join(data, victim);
    const original = readFileSync(file);
    flipByte(file, original.length - 10);
    try {
      const r = verify();
      expect(r.status, r.stdout + r.stderr).toBe(1);
      expect(r.stdout).toMatch(/^1 of \d+ files drifted$/m);
      const changed = r.stdout.split('\n').filter((l) => l.trim().startsWith('changed'));
      expect(changed).toHaveLength(1);
      expect(changed[0]).toContain(victim);
      const j = JSON.parse(medctcIn(spec, 'verify', build, '--json').stdout);
      const bad = j.folders[0].entries.filter((e: { status: string }) => e.status !== 'ok');
      expect(bad).toEqual([expect.objectContaining({ section: 'data', name: victim, status: 'changed', expected: `${lock.data.volumes[victim].sha256} (${original.length} bytes)`, actual: `${sha(file)} (${original.length} bytes)` })]);
    } finally {
      writeFileSync(file, original);
    }
    expect(verify().status).toBe(0);
  });

  it('a volume one byte longer, or a changed metadata CSV, is drift too', () => {
    const lock = lockOf();
    const victim = Object.keys(lock.data.volumes).sort()[0]!;
    const file = join(data, victim);
    const original = readFileSync(file);
    writeFileSync(file, Buffer.concat([original, Buffer.alloc(1)]));
    const meta = join(data, 'metadata', 'validation_metadata.csv');
    const metaText = readFileSync(meta);
    flipByte(meta, metaText.length - 3);
    try {
      const r = verify();
      expect(r.status).toBe(1);
      expect(r.stdout).toMatch(/^2 of \d+ files drifted$/m);
      expect(r.stdout).toContain(victim);
      expect(r.stdout).toContain(`(${original.length + 1} bytes)`);
      expect(r.stdout).toContain('validation_metadata.csv');
    } finally {
      writeFileSync(file, original);
      writeFileSync(meta, metaText);
    }
  });
});
