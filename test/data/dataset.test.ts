import { beforeAll, describe, expect, it } from 'vitest';
import { cpSync, readFileSync, rmSync, writeFileSync, mkdirSync, readdirSync, renameSync, statSync, symlinkSync, utimesSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { join } from 'node:path';
import { CT_RATE_PATHOLOGIES, type DataSpec, type PromptSpec } from '../../compiler/ir/experiment.js';
import { PRESETS } from '../../compiler/models/presets.js';
import { openDataSet } from '../../runtime/data/dataset.js';
import { generateSynthetic } from '../../runtime/data/synth/generate.js';
import { encodeNifti1Int16, readNiftiFile } from '../../runtime/data/nifti.js';
import { preprocessVolume, quantizationGrid, quantize } from '../../runtime/data/preprocess.js';
import { volumeRelativePath } from '../../runtime/data/layout.js';
import { expectDiagnostic, tempDir } from './helpers.js';

const prompts: PromptSpec = { positive: '{pathology} is present.', negative: '{pathology} is not present.', pathologies: [...CT_RATE_PATHOLOGIES] };
const pp = PRESETS.ct_clip_tiny.preprocess;

let pristine = '';
beforeAll(() => {
  pristine = join(tempDir('ds'), 'ct');
  generateSynthetic({ out: pristine, volumes: 6, seed: 11, site: 'source', shape: [20, 24, 24] });
});

/** Index of the first differing element (or length mismatch), -1 when equal: cheap to report. */
function firstDifference(a: Float32Array, b: Float32Array): number {
  if (a.length !== b.length) return Math.min(a.length, b.length);
  for (let i = 0; i < a.length; i++) if (!Object.is(a[i], b[i])) return i;
  return -1;
}

/** A fresh copy of the small dataset to damage. */
function copy(): string {
  const dir = join(tempDir('dsc'), 'ct');
  cpSync(pristine, dir, { recursive: true });
  return dir;
}

const specFor = (root: string, cacheDir: string, over: Partial<DataSpec> = {}): DataSpec => ({
  source: { kind: 'ct_rate', root }, trainSplit: 'train', evalSplit: 'valid', limit: null, preprocess: pp, cacheDir, ...over,
});

describe('DataSet over a CT-RATE layout', () => {
  it('lists items with labels, report text, and loads preprocessed volumes through the cache', async () => {
    const cacheDir = join(tempDir('cache'), 'c');
    const ds = await openDataSet(specFor(pristine, cacheDir), prompts, { progress: 'quiet' });
    const manifest = JSON.parse(readFileSync(join(pristine, 'manifest.json'), 'utf8')) as { list: { volumeName: string; split: string; labels: number[]; spacing: { xy: number; z: number } }[] };
    const expectTrain = manifest.list.filter((v) => v.split === 'train').map((v) => v.volumeName).sort();
    expect(ds.train.items.map((i) => i.volumeName)).toEqual(expectTrain);
    expect(ds.eval.items.length).toBe(manifest.list.length - expectTrain.length);
    for (const item of [...ds.train.items, ...ds.eval.items]) {
      const m = manifest.list.find((v) => v.volumeName === item.volumeName)!;
      expect(Array.from(item.labels)).toEqual(m.labels);
      expect(item.reportText.length).toBeGreaterThan(20);
      expect(item.reportText).not.toContain('Not given.');
    }
    const first = await ds.train.prepare({ progress: 'quiet' });
    expect(first).toEqual({ computed: ds.train.items.length, cached: 0, corrupt: 0 });
    const again = await ds.train.prepare({ progress: 'quiet' });
    expect(again).toEqual({ computed: 0, cached: ds.train.items.length, corrupt: 0 });
    // The cached volume equals preprocessing the file directly with the metadata's scaling, then
    // rounding onto the 16-bit grid (a ct_rate source: real data).
    const item = ds.train.items[0]!;
    const m = manifest.list.find((v) => v.volumeName === item.volumeName)!;
    const direct = preprocessVolume(readNiftiFile(join(pristine, volumeRelativePath('train', item.volumeName))),
      { slope: 1, intercept: -1024, spacingZXY: [m.spacing.z, m.spacing.xy, m.spacing.xy] }, pp);
    quantize(direct, quantizationGrid(pp));
    const loaded = await item.load();
    expect(loaded.length).toBe(32 * 32 * 32);
    expect(Array.from(loaded)).toEqual(Array.from(direct));
    expect(Math.min(...loaded)).toBeGreaterThanOrEqual(-1);
    expect(Math.max(...loaded)).toBeLessThanOrEqual(1);
  });

  it('cache: keyed by settings too; a damaged entry is recomputed, not trusted', async () => {
    const cacheDir = join(tempDir('cache'), 'c');
    const spec = specFor(pristine, cacheDir, { limit: 2 });
    const ds = await openDataSet(spec, prompts, { progress: 'quiet' });
    expect(await ds.train.prepare()).toEqual({ computed: 2, cached: 0, corrupt: 0 });
    const other = await openDataSet({ ...spec, preprocess: { ...pp, windowHU: [-500, 500] } }, prompts, { progress: 'quiet' });
    expect(await other.train.prepare()).toEqual({ computed: 2, cached: 0, corrupt: 0 });
    const good = await ds.train.items[0]!.load();
    const entries: string[] = [];
    // Volume entries only: the folder also holds file-hashes.json once the volumes are 2 s old.
    const walk = (d: string) => { for (const e of readdirSync(d, { withFileTypes: true })) { const p = join(d, e.name); if (e.isDirectory()) walk(p); else if (e.name.endsWith('.mctc')) entries.push(p); } };
    walk(cacheDir);
    expect(entries.length).toBe(4);
    for (const e of entries) writeFileSync(e, readFileSync(e).subarray(0, 100));
    expect(await ds.train.prepare()).toEqual({ computed: 2, cached: 0, corrupt: 2 });
    expect(Array.from(await ds.train.items[0]!.load())).toEqual(Array.from(good));
  });

  it('cache: keyed by content; a volume rewritten in place is recomputed, not served stale', async () => {
    const root = copy();
    const cacheDir = join(tempDir('cache'), 'c');
    const spec = specFor(root, cacheDir, { limit: 1 });
    const item0 = (await openDataSet(spec, prompts, { progress: 'quiet' })).train.items[0]!;
    const vol = readNiftiFile(item0.path);
    const meta = JSON.parse(readFileSync(join(root, 'manifest.json'), 'utf8')) as { list: { volumeName: string; spacing: { xy: number; z: number } }[] };
    const sp = meta.list.find((v) => v.volumeName === item0.volumeName)!.spacing;
    const scaling = { slope: 1, intercept: -1024, spacingZXY: [sp.z, sp.xy, sp.xy] as [number, number, number] };
    // Stored gzip (level 0): the file size depends only on the voxel count, so both versions have
    // the same size, and the rewrite keeps the old mtime (as cp -p, rsync -t or tar do).
    // One fixed timestamp for every version.
    const stamp = new Date(Math.floor(Date.now() / 1000) * 1000 - 60_000);
    const write = (data: Int16Array) => {
      writeFileSync(item0.path, gzipSync(encodeNifti1Int16({ dims: vol.dims, pixdim: vol.pixdim, data, description: 'x' }), { level: 0 }));
      utimesSync(item0.path, stamp, stamp);
    };
    const original = Int16Array.from(vol.data as Int16Array);
    write(original);
    const ds = await openDataSet(spec, prompts, { progress: 'quiet' });
    expect(await ds.train.prepare()).toEqual({ computed: 1, cached: 0, corrupt: 0 });
    const before = await ds.train.items[0]!.load();
    const size = statSync(item0.path).size;
    // Same name, same size, same mtime, different content: a brighter, flipped scan.
    const changed = Int16Array.from(original, (v, i) => original[original.length - 1 - i]! + 300 + (v & 1));
    write(changed);
    expect(statSync(item0.path).size).toBe(size);
    expect(statSync(item0.path).mtimeMs).toBe(stamp.getTime());
    expect(await ds.train.prepare()).toEqual({ computed: 1, cached: 0, corrupt: 0 });
    const after = await ds.train.items[0]!.load();
    const fresh = quantize(preprocessVolume(readNiftiFile(item0.path), scaling, pp), quantizationGrid(pp));
    expect(firstDifference(after, fresh)).toBe(-1);
    expect(firstDifference(after, before)).not.toBe(-1);
    // A second dataset opened later on the same cache agrees, and writing the old bytes back hits the old entry.
    expect(firstDifference(await (await openDataSet(spec, prompts, { progress: 'quiet' })).train.items[0]!.load(), fresh)).toBe(-1);
    write(original);
    expect(await ds.train.prepare()).toEqual({ computed: 0, cached: 1, corrupt: 0 });
    expect(firstDifference(await ds.train.items[0]!.load(), before)).toBe(-1);
  });

  it('follows symlinked folders and files (Hugging Face snapshot layout)', async () => {
    const root = copy();
    const blobs = join(tempDir('blobs'), 'valid_1');
    renameSync(join(root, 'valid', 'valid_1'), blobs);
    symlinkSync(blobs, join(root, 'valid', 'valid_1'), 'dir');
    const ds = await openDataSet(specFor(root, join(root, '..', 'cache')), prompts, { progress: 'quiet' });
    const fromPristine = await openDataSet(specFor(pristine, join(root, '..', 'cache2')), prompts, { progress: 'quiet' });
    expect(ds.eval.items.map((i) => i.volumeName)).toEqual(fromPristine.eval.items.map((i) => i.volumeName));
    expect(Array.from(await ds.eval.items[0]!.load())).toEqual(Array.from(await fromPristine.eval.items[0]!.load()));
  });

  it('json progress: one line per volume on stderr during the first pass', async () => {
    const lines: string[] = [];
    const write = process.stderr.write.bind(process.stderr);
    process.stderr.write = ((chunk: string | Uint8Array) => { lines.push(String(chunk)); return true; }) as typeof process.stderr.write;
    try {
      const ds = await openDataSet(specFor(pristine, join(tempDir('cache'), 'c'), { limit: 3 }), prompts, { progress: 'json' });
      await ds.train.prepare();
    } finally {
      process.stderr.write = write;
    }
    const events = lines.map((l) => JSON.parse(l) as { event: string; task: string; done: number; total: number });
    expect(events.map((e) => [e.task, e.done, e.total])).toEqual([['preprocessing train', 1, 3], ['preprocessing train', 2, 3], ['preprocessing train', 3, 3]]);
  });

  it('a subset of pathologies picks those label columns, in the prompts order', async () => {
    const ds = await openDataSet(specFor(pristine, join(tempDir('cache'), 'c'), { limit: 2 }),
      { ...prompts, pathologies: ['Lung nodule', 'Medical material'] }, { progress: 'quiet' });
    expect(ds.train.items.length).toBe(2);
    const csv = readFileSync(join(pristine, 'multi_abnormality_labels/train_predicted_labels.csv'), 'utf8').trim().split('\n');
    const header = csv[0]!.split(',');
    const row = csv.find((l) => l.startsWith(ds.train.items[0]!.volumeName + ','))!.split(',');
    expect(Array.from(ds.train.items[0]!.labels)).toEqual([Number(row[header.indexOf('Lung nodule')]), Number(row[header.indexOf('Medical material')])]);
  });

  it('synthetic sources are generated once and reused while the manifest matches', async () => {
    const root = join(tempDir('syn'), 'data');
    const source = { kind: 'synthetic' as const, root, volumes: 3, seed: 5, site: 'target' as const, shape: [16, 20, 20] as [number, number, number] };
    const spec: DataSpec = { ...specFor(root, join(root, '..', 'cache')), source };
    const a = await openDataSet(spec, prompts, { progress: 'quiet' });
    expect(a.train.items.length + a.eval.items.length).toBe(3);
    const stamp = readFileSync(join(root, 'manifest.json'), 'utf8');
    const marker = join(root, 'train', 'marker.txt');
    writeFileSync(marker, 'still here');
    await openDataSet(spec, prompts, { progress: 'quiet' });
    expect(readFileSync(marker, 'utf8')).toBe('still here'); // reused, not regenerated
    await openDataSet({ ...spec, source: { ...source, seed: 6 } }, prompts, { progress: 'quiet' });
    expect(() => readFileSync(marker)).toThrow(); // regenerated for the new seed
    expect(readFileSync(join(root, 'manifest.json'), 'utf8')).not.toBe(stamp);
  });
});

describe('broken CT-RATE tables give diagnostics naming file and row', () => {
  const labels = (root: string) => join(root, 'multi_abnormality_labels/train_predicted_labels.csv');
  const meta = (root: string) => join(root, 'metadata/train_metadata.csv');
  const open = (root: string) => openDataSet(specFor(root, join(root, '..', 'cache')), prompts, { progress: 'quiet' });

  it('empty CSV', async () => {
    const root = copy();
    writeFileSync(labels(root), '');
    await expectDiagnostic(() => open(root), 'E5010', ['train_predicted_labels.csv']);
  });
  it('missing column', async () => {
    const root = copy();
    const text = readFileSync(meta(root), 'utf8').replace('ZSpacing', 'SliceGap');
    writeFileSync(meta(root), text);
    await expectDiagnostic(() => open(root), 'E5011', ['ZSpacing', 'train_metadata.csv'], 1);
  });
  it('misspelt label column', async () => {
    const root = copy();
    writeFileSync(labels(root), readFileSync(labels(root), 'utf8').replace('Lung nodule', 'Lung nodules'));
    await expectDiagnostic(() => open(root), 'E5012', ['Lung nodules', 'train_predicted_labels.csv'], 1);
  });
  it('duplicate VolumeName', async () => {
    const root = copy();
    const lines = readFileSync(labels(root), 'utf8').trim().split('\n');
    writeFileSync(labels(root), [...lines, lines[1]].join('\n') + '\n');
    await expectDiagnostic(() => open(root), 'E5014', [lines[1]!.split(',')[0]!, 'line 2', 'train_predicted_labels.csv'], lines.length + 1);
  });
  it('NaN scaling in metadata', async () => {
    const root = copy();
    const lines = readFileSync(meta(root), 'utf8').trim().split('\n');
    lines[2] = lines[2]!.replace(',1,-1024,', ',NaN,-1024,');
    writeFileSync(meta(root), lines.join('\n') + '\n');
    await expectDiagnostic(() => open(root), 'E5013', ['RescaleSlope', 'NaN', 'train_metadata.csv:3'], 3);
  });
  it('label that is not 0/1', async () => {
    const root = copy();
    const lines = readFileSync(labels(root), 'utf8').trim().split('\n');
    lines[1] = lines[1]!.replace(/,[01]$/, ',2');
    writeFileSync(labels(root), lines.join('\n') + '\n');
    await expectDiagnostic(() => open(root), 'E5013', ['Interlobular septal thickening', 'train_predicted_labels.csv:2'], 2);
  });
  it('unknown volume: a file on disk with no metadata row', async () => {
    const root = copy();
    const dir = join(root, 'train', 'train_99', 'train_99_a');
    mkdirSync(dir, { recursive: true });
    const someFile = readdirSync(join(root, 'train', 'train_1', 'train_1_a'))[0]!;
    cpSync(join(root, 'train', 'train_1', 'train_1_a', someFile), join(dir, 'train_99_a_1.nii.gz'));
    await expectDiagnostic(() => open(root), 'E5015', ['train_99_a_1.nii.gz', 'train_predicted_labels.csv']);
  });
  it('a corrupt volume fails on load with its path', async () => {
    const root = copy();
    const name = readdirSync(join(root, 'train', 'train_1', 'train_1_a'))[0]!;
    const p = join(root, 'train', 'train_1', 'train_1_a', name);
    writeFileSync(p, readFileSync(p).subarray(0, 500));
    const ds = await open(root);
    const item = ds.train.items.find((i) => i.volumeName === name)!;
    await expectDiagnostic(() => item.load(), 'E5003', [name]);
  });
  it('a split without volumes', async () => {
    const root = copy();
    rmSync(join(root, 'valid'), { recursive: true });
    await expectDiagnostic(() => open(root), 'E5016', ['valid']);
  });
});
