// The first pass on worker threads: the cache holds the same bytes, the loaded volumes the same
// values and the counts are the same for 1 (this thread), 2 and 3 workers; progress counts up one
// volume at a time with a rate; a bad volume gives the same diagnostic for any worker count (the
// lowest-numbered failure). Workers run the compiled dist/ copy: build first.
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { CT_RATE_PATHOLOGIES, type DataSpec } from '../../compiler/ir/experiment.js';
import { PRESETS } from '../../compiler/models/presets.js';
import { DiagnosticError } from '../../base/diagnostics/types.js';
import { openDataSet } from '../../runtime/data/dataset.js';
import { defaultWorkers } from '../../runtime/data/prepare.js';
import { generateSynthetic } from '../../runtime/data/synth/generate.js';
import { tempDir } from './helpers.js';

const prompts = { positive: '{pathology} is present.', negative: '{pathology} is not present.', pathologies: [...CT_RATE_PATHOLOGIES] };
const pp = PRESETS.ct_clip_tiny.preprocess;
const spec = (root: string, cacheDir: string): DataSpec => ({ source: { kind: 'ct_rate', root }, trainSplit: 'train', evalSplit: 'valid', limit: null, preprocess: pp, cacheDir });
const entries = (dir: string): Map<string, Buffer> =>
  new Map(readdirSync(dir, { recursive: true, withFileTypes: true }).filter((e) => e.isFile() && e.name.endsWith('.mctc'))
    .map((e) => [relative(dir, join(e.parentPath, e.name)), readFileSync(join(e.parentPath, e.name))]));

let root = '';
beforeAll(() => {
  root = join(tempDir('workers'), 'ct');
  generateSynthetic({ out: root, volumes: 10, seed: 21, site: 'target', shape: [20, 24, 24] });
});

describe('preprocessing on worker threads', () => {
  it('the same cache bytes and values for 1, 2 and 3 workers', async () => {
    const runs = [];
    for (const workers of [1, 2, 3]) {
      const cacheDir = join(tempDir(`workers-${workers}`), 'cache');
      const ds = await openDataSet(spec(root, cacheDir), prompts, { progress: 'quiet', workers });
      const r = await ds.train.prepare();
      expect(r).toEqual({ computed: ds.train.items.length, cached: 0, corrupt: 0 });
      runs.push({ entries: entries(cacheDir), volumes: await Promise.all(ds.train.items.map((i) => i.load())), again: await ds.train.prepare() });
    }
    const [one, ...more] = runs;
    expect(one!.entries.size).toBeGreaterThanOrEqual(6);
    for (const m of more) {
      expect([...m.entries.keys()].sort()).toEqual([...one!.entries.keys()].sort());
      for (const [k, b] of one!.entries) expect(m.entries.get(k)!.equals(b), k).toBe(true);
      m.volumes.forEach((v, i) => expect(Buffer.from(v.buffer).equals(Buffer.from(one!.volumes[i]!.buffer))).toBe(true));
      expect(m.again).toEqual(one!.again);
    }
    expect(one!.again.cached).toBe(one!.volumes.length);
  });

  it('json progress counts up one volume at a time, with volumes/s and the time left', async () => {
    const lines: string[] = [];
    const write = process.stderr.write.bind(process.stderr);
    process.stderr.write = ((chunk: string | Uint8Array) => { lines.push(String(chunk)); return true; }) as typeof process.stderr.write;
    let n = 0;
    try {
      const ds = await openDataSet(spec(root, join(tempDir('workers-p'), 'c')), prompts, { progress: 'json', workers: 2 });
      n = ds.train.items.length;
      await ds.train.prepare();
    } finally {
      process.stderr.write = write;
    }
    const events = lines.map((l) => JSON.parse(l) as { task: string; done: number; total: number; perSecond: number; etaSeconds: number | null });
    expect(events.map((e) => e.done)).toEqual(Array.from({ length: n }, (_, i) => i + 1));
    for (const e of events) {
      expect(e.total).toBe(n);
      expect(e.perSecond).toBeGreaterThan(0);
      expect(e.etaSeconds).toBeCloseTo((n - e.done) / e.perSecond, 6);
    }
    expect(events.at(-1)!.etaSeconds).toBe(0);
  });

  it('two broken volumes: the same diagnostic (the first in order) for any worker count', async () => {
    const ds0 = await openDataSet(spec(root, join(tempDir('workers-b'), 'c')), prompts, { progress: 'quiet', workers: 1 });
    const broken = join(tempDir('workers-broken'), 'ct');
    generateSynthetic({ out: broken, volumes: 10, seed: 21, site: 'target', shape: [20, 24, 24] });
    const items = ds0.train.items;
    for (const i of [2, items.length - 1]) {
      const p = join(broken, relative(root, items[i]!.path));
      writeFileSync(p, readFileSync(p).subarray(0, 200));
    }
    const messages: string[] = [];
    for (const workers of [1, 3]) {
      const ds = await openDataSet(spec(broken, join(tempDir('workers-bc'), 'c')), prompts, { progress: 'quiet', workers });
      const err = await ds.train.prepare().then(() => null, (e: unknown) => e);
      expect(err).toBeInstanceOf(DiagnosticError);
      messages.push((err as DiagnosticError).message);
    }
    expect(messages[0]).toContain(ds0.train.items[2]!.volumeName);
    expect(messages[1]).toBe(messages[0]);
  });

  it('one worker per core unless MEDCTC_THREADS says otherwise', () => {
    expect(defaultWorkers({ MEDCTC_THREADS: '3' })).toBe(3);
    expect(defaultWorkers({})).toBeGreaterThanOrEqual(1);
    expect(defaultWorkers({ MEDCTC_THREADS: 'lots' })).toBe(defaultWorkers({}));
  });
});
