// The preprocess cache (format 2): the 16-bit grid's error bound holds for any volume and any
// preprocessing settings (a property), grid values round-trip bit for bit in half the bytes,
// anything else round-trips bit for bit as float32, and a truncated, foreign or tampered entry
// (same size included) is refused and, through a dataset, recomputed and replaced.
import { cpSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CT_RATE_PATHOLOGIES, type DataSpec, type Preprocess } from '../../compiler/ir/experiment.js';
import { PRESETS } from '../../compiler/models/presets.js';
import { VolumeCache } from '../../runtime/data/cache.js';
import { openDataSet } from '../../runtime/data/dataset.js';
import { quantizationBound, quantizationGrid, quantize } from '../../runtime/data/preprocess.js';
import { generateSynthetic } from '../../runtime/data/synth/generate.js';
import { tempDir } from './helpers.js';

const HEADER = 72;
const ctclip: Preprocess = { windowHU: [-1000, 1000], spacingMm: [1.5, 0.75, 0.75], size: [240, 480, 480], scale: 1000, padValue: -1 };

/** Bits of two float32 arrays equal (NaN and -0 included); -1 or the first differing index. */
function firstDifference(a: Float32Array, b: Float32Array): number {
  if (a.length !== b.length) return Math.min(a.length, b.length);
  const x = new Uint32Array(a.buffer, a.byteOffset, a.length), y = new Uint32Array(b.buffer, b.byteOffset, b.length);
  for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) return i;
  return -1;
}

/** Preprocessing settings: any non-empty window, a non-zero scale of either sign, a pad value. */
const settings = fc.record({
  lo: fc.integer({ min: -3000, max: 2999 }),
  width: fc.integer({ min: 1, max: 5000 }),
  scale: fc.oneof(fc.constant(1000), fc.double({ min: 0.01, max: 1e4, noNaN: true }), fc.double({ min: -1e4, max: -0.01, noNaN: true })),
  pad: fc.double({ min: -5, max: 5, noNaN: true }),
}).map((s): Preprocess => ({ ...ctclip, windowHU: [s.lo, s.lo + s.width], scale: s.scale, padValue: s.pad }));

/** A volume as preprocessing makes it: windowed HU (any real value inside the window, as trilinear
 *  resampling gives), divided by the scale in float32, some voxels padded. */
const volumeFor = (pp: Preprocess) => fc.array(fc.oneof(
  { weight: 8, arbitrary: fc.double({ min: pp.windowHU[0], max: pp.windowHU[1], noNaN: true }).map((hu) => Math.fround(Math.fround(hu) / pp.scale)) },
  { weight: 1, arbitrary: fc.constantFrom(pp.windowHU[0] / pp.scale, pp.windowHU[1] / pp.scale).map(Math.fround) },
  { weight: 1, arbitrary: fc.constant(Math.fround(pp.padValue)) },
), { minLength: 1, maxLength: 300 }).map((v) => Float32Array.from(v));

describe('16-bit grid', () => {
  it('CT-CLIP settings: step 2/65535 (0.0305 HU), bound 1.54e-5 (0.0154 HU)', () => {
    const g = quantizationGrid(ctclip);
    expect(g.step).toBe(2 / 65535);
    expect(g.offset - 32768 * g.step).toBeCloseTo(-1, 15);
    expect(g.offset + 32767 * g.step).toBeCloseTo(1, 15);
    expect(quantizationBound(g)).toBeLessThan(1.54e-5);
    expect(quantizationBound(g)).toBeGreaterThan(1.52e-5);
  });

  it('property: |quantize(v) - v| <= the bound, for any settings and volume', () => {
    fc.assert(fc.property(settings.chain((pp) => fc.tuple(fc.constant(pp), volumeFor(pp))), ([pp, v]) => {
      const g = quantizationGrid(pp);
      const q = quantize(Float32Array.from(v), g);
      const bound = quantizationBound(g);
      for (let i = 0; i < v.length; i++) if (!(Math.abs(q[i]! - v[i]!) <= bound)) return false;
      return true;
    }), { numRuns: 300 });
  });

  it('property: quantised volumes round-trip through the cache bit for bit, in 2 bytes a voxel', () => {
    const dir = tempDir('cache-rt');
    let n = 0;
    fc.assert(fc.property(settings.chain((pp) => fc.tuple(fc.constant(pp), volumeFor(pp))), ([pp, v]) => {
      const g = quantizationGrid(pp);
      const q = quantize(Float32Array.from(v), g);
      const cache = new VolumeCache(dir);
      const key = `k${String(n++).padStart(8, '0')}`;
      const shape: [number, number, number] = [1, 1, q.length];
      cache.put(key, shape, q, g);
      expect(statSync(cache.path(key)).size).toBe(HEADER + 2 * q.length);
      const back = cache.get(key, shape);
      return back !== null && firstDifference(back, q) === -1;
    }), { numRuns: 150 });
  });

  it('values off the grid (unquantised, NaN, -0, infinities) are kept as float32, bit for bit', () => {
    const cache = new VolumeCache(tempDir('cache-f32'));
    const g = quantizationGrid(ctclip);
    const v = Float32Array.from([0.123456789, -0, NaN, Infinity, -1, 1, 1e-30]);
    cache.put('raw', [1, 1, v.length], v, g);
    expect(statSync(cache.path('raw')).size).toBe(HEADER + 4 * v.length);
    expect(firstDifference(cache.get('raw', [1, 1, v.length])!, v)).toBe(-1);
    // One off-grid value among grid values is enough for float32.
    const mixed = quantize(Float32Array.from({ length: 50 }, (_, i) => i / 50 - 0.5), g);
    mixed[17] = 0.1234567;
    cache.put('mixed', [1, 5, 10], mixed, g);
    expect(statSync(cache.path('mixed')).size).toBe(HEADER + 4 * 50);
    expect(firstDifference(cache.get('mixed', [1, 5, 10])!, mixed)).toBe(-1);
  });

  it('a full-size CT-CLIP entry is 110,592,072 bytes (format 1: 221,184,020)', () => {
    const n = 240 * 480 * 480;
    expect(HEADER + 2 * n).toBe(110_592_072);
    expect((HEADER + 2 * n) / (20 + 4 * n)).toBeLessThan(0.5000003);
  });
});

describe('damaged entries are refused', () => {
  const g = quantizationGrid(ctclip);
  const shape: [number, number, number] = [2, 3, 4];
  const data = quantize(Float32Array.from({ length: 24 }, (_, i) => Math.sin(i) * 0.9), g);
  const fresh = () => { const c = new VolumeCache(tempDir('cache-bad')); c.put('e', shape, data, g); return c; };
  const damage = (c: VolumeCache, f: (b: Buffer) => Buffer) => writeFileSync(c.path('e'), f(readFileSync(c.path('e'))));

  it('intact: found', () => {
    const c = fresh();
    expect(firstDifference(c.get('e', shape)!, data)).toBe(-1);
    expect(c.lookup('e', shape)).toHaveProperty('data');
    expect(c.lookup('other', shape)).toEqual({ miss: 'absent' });
  });
  const cases: [string, (b: Buffer) => Buffer][] = [
    ['one payload bit flipped (same size)', (b) => { b[HEADER + 5]! ^= 1; return b; }],
    ['a code swapped for another (same size)', (b) => { const t = b[HEADER]!; b[HEADER] = b[HEADER + 2]!; b[HEADER + 2] = t; return b; }],
    ['the grid step changed', (b) => { b.writeDoubleLE(b.readDoubleLE(32) * 1.5, 32); return b; }],
    ['the checksum changed', (b) => { b[50]! ^= 0x80; return b; }],
    ['the encoding changed to float32 with the size padded', (b) => { b.writeUInt32LE(1, 20); return Buffer.concat([b, Buffer.alloc(48)]); }],
    ['truncated by one byte', (b) => b.subarray(0, b.length - 1)],
    ['truncated into the header', (b) => b.subarray(0, 40)],
    ['one byte appended', (b) => Buffer.concat([b, Buffer.alloc(1)])],
    ['a format-1 entry', (b) => { b.writeUInt32LE(1, 4); return b; }],
    ['another shape', (b) => { b.writeUInt32LE(4, 8); b.writeUInt32LE(2, 16); return b; }],
  ];
  for (const [what, f] of cases) {
    it(what, () => {
      const c = fresh();
      damage(c, f);
      expect(c.lookup('e', shape)).toEqual({ miss: 'corrupt' });
      expect(c.get('e', shape)).toBeNull();
    });
  }
});

describe('through a dataset', () => {
  const prompts = { positive: '{pathology} is present.', negative: '{pathology} is not present.', pathologies: [...CT_RATE_PATHOLOGIES] };
  const pp = PRESETS.ct_clip_tiny.preprocess;
  const spec = (root: string, cacheDir: string, kind: 'ct_rate' | 'synthetic'): DataSpec => ({
    source: kind === 'ct_rate' ? { kind, root } : { kind, root, volumes: 4, seed: 3, site: 'source', shape: [20, 24, 24] },
    trainSplit: 'train', evalSplit: 'valid', limit: 2, preprocess: pp, cacheDir,
  });
  const entries = (dir: string): string[] => readdirSync(dir, { recursive: true, withFileTypes: true }).filter((e) => e.isFile() && e.name.endsWith('.mctc')).map((e) => join(e.parentPath, e.name)).sort();

  it('a tampered entry of the right size is recomputed and replaced; real data is stored in half the bytes', async () => {
    const base = tempDir('cache-ds');
    const root = join(base, 'synth');
    generateSynthetic({ out: root, volumes: 4, seed: 3, site: 'source', shape: [20, 24, 24] });
    const cacheDir = join(base, 'cache');
    const ds = await openDataSet(spec(root, cacheDir, 'ct_rate'), prompts, { progress: 'quiet' });
    expect(await ds.train.prepare()).toEqual({ computed: 2, cached: 0, corrupt: 0 });
    const files = entries(cacheDir);
    expect(files.map((f) => statSync(f).size)).toEqual([HEADER + 2 * 32 ** 3, HEADER + 2 * 32 ** 3]);
    const good = await Promise.all(ds.train.items.map((i) => i.load()));
    const clean = new Map(files.map((f) => [f, readFileSync(f)]));
    // Flip one bit in the middle of each entry's payload: same size, same header.
    for (const f of files) { const b = readFileSync(f); b[HEADER + 1000]! ^= 4; writeFileSync(f, b); }
    expect(await ds.train.prepare()).toEqual({ computed: 2, cached: 0, corrupt: 2 });
    for (const f of files) expect(readFileSync(f).equals(clean.get(f)!)).toBe(true); // replaced by the same bytes
    // load() outside prepare also refuses a damaged entry: it recomputes rather than serving it.
    for (const f of files) { const b = readFileSync(f); b[HEADER + 7]! ^= 1; writeFileSync(f, b); }
    const loaded = await Promise.all(ds.train.items.map((i) => i.load()));
    loaded.forEach((v, i) => expect(firstDifference(v, good[i]!)).toBe(-1));
    for (const f of files) expect(readFileSync(f).equals(clean.get(f)!)).toBe(true);
  });

  it('synthetic sources keep float32 and their values are not quantised', async () => {
    const base = tempDir('cache-syn');
    const root = join(base, 'synth');
    const cacheDir = join(base, 'cache');
    const ds = await openDataSet(spec(root, cacheDir, 'synthetic'), prompts, { progress: 'quiet' });
    await ds.train.prepare();
    expect(entries(cacheDir).map((f) => statSync(f).size)).toEqual([HEADER + 4 * 32 ** 3, HEADER + 4 * 32 ** 3]);
    // The same files read as a ct_rate copy are quantised: different values, within the bound.
    const copyRoot = join(base, 'copy');
    cpSync(root, copyRoot, { recursive: true });
    const real = await openDataSet(spec(copyRoot, join(base, 'cache2'), 'ct_rate'), prompts, { progress: 'quiet' });
    const a = await ds.train.items[0]!.load(), q = await real.train.items[0]!.load();
    expect(firstDifference(a, q)).not.toBe(-1);
    const bound = quantizationBound(quantizationGrid(pp));
    let worst = 0;
    for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i]! - q[i]!));
    expect(worst).toBeGreaterThan(0);
    expect(worst).toBeLessThanOrEqual(bound);
  });
});
