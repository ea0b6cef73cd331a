// The sweep summary (sweep.md / sweep.json): a rank sweep of the small spec, each variant run with
// the stand-in executor (test/report/fixture.ts), summarised. One row per variant, in sweep
// order, with its binding, the trainable parameters of its build (LoRA parameters grow linearly
// with the rank: r·(in + out) per adapted linear) and the headline metrics of its metrics.json;
// `medctc report SWEEP_DIR` rebuilds the same summary from the folders alone.
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { writeSweepSummary } from '../../cli/report/index.js';
import { DiagnosticError } from '../../base/diagnostics/types.js';
import { smallSpec, tempDir } from '../run/helpers.js';
import { medctc } from '../review/cli.js';
import { runFolders } from './fixture.js';

let root: string;
let folders: string[];
beforeAll(async () => {
  const d = tempDir('report-sweep');
  const file = smallSpec(d, { volumes: 16, epochs: 1, batch: 4 });
  // The rank axis, written as a user would: rank 8 in the spec becomes a sweep.
  writeFileSync(file, readFileSync(file, 'utf8').replace(/rank 8/, 'rank sweep [16, 2, 4]').replace('modules_to_save ["to_visual_latent", "to_text_latent"]', ''));
  root = join(d, 'runs');
  folders = (await runFolders(file, root)).map((p) => p.slice(root.length + 1));
}, 120_000);

describe('sweep summary', () => {
  it('one row per variant with its rank, trainable parameters and headline metrics with intervals', () => {
    expect(folders).toEqual(['quickstart@rank=16', 'quickstart@rank=2', 'quickstart@rank=4']);
    const { summary: s } = writeSweepSummary(root, folders);
    expect(s.values).toBe('bindings');
    expect(s.keys).toEqual(['rank']);
    expect(s.variants.map((v) => [v.folder, v.values.rank])).toEqual([['quickstart@rank=16', 16], ['quickstart@rank=2', 2], ['quickstart@rank=4', 4]]);
    // LoRA only (no modules_to_save): trainable = rank x the same per-rank count.
    const perRank = s.variants.map((v) => v.parameters!.trainable / (v.values.rank as number));
    expect(new Set(perRank).size).toBe(1);
    expect(perRank[0]).toBeGreaterThan(0);
    for (const v of s.variants) {
      const m = JSON.parse(readFileSync(join(root, v.folder, 'metrics.json'), 'utf8'));
      const report = JSON.parse(readFileSync(join(root, v.folder, 'report.json'), 'utf8'));
      expect(v.parameters).toEqual({ trainable: report.parameters.trainable, total: report.parameters.total, fraction: report.parameters.trainableFraction });
      expect(v.metrics!.auroc).toEqual({
        after: m.final.mean.auroc, afterCi: m.final.meanCi.auroc, before: m.baseline.mean.auroc, beforeCi: m.baseline.meanCi.auroc,
        change: m.final.mean.auroc - m.baseline.mean.auroc, changeCi: m.change.mean.auroc.ci,
      });
      expect(v.metrics!.weighted_f1!.after).toBe(m.final.mean.weightedF1);
    }
    const md = readFileSync(join(root, 'sweep.md'), 'utf8');
    expect(md).toContain('| run | `rank` | trainable | AUROC | Δ AUROC | accuracy | Δ accuracy | macro-F1 | Δ macro-F1 | weighted-F1 | Δ weighted-F1 |');
    const row = md.split('\n').find((l) => l.startsWith('| quickstart@rank=2 |'))!;
    const v2 = s.variants[1]!;
    const pct = (x: number) => (100 * x).toFixed(1);
    expect(row).toContain(`| 2 | ${v2.parameters!.trainable.toLocaleString('en-US')} (${(100 * v2.parameters!.fraction).toFixed(2)}%) | ${pct(v2.metrics!.auroc!.after!)} [${pct(v2.metrics!.auroc!.afterCi![0])}, ${pct(v2.metrics!.auroc!.afterCi![1])}] |`);
  });

  it('medctc report SWEEP_DIR rebuilds it from the folders (ordered by the swept values) and writes each report', () => {
    const r = medctc('report', root, '--json');
    expect(r.status, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out.sweep.map((p: string) => p.split('/').pop())).toEqual(['sweep.json', 'sweep.md']);
    expect(out.files.filter((p: string) => p.endsWith('report.html'))).toHaveLength(3);
    const s = JSON.parse(readFileSync(join(root, 'sweep.json'), 'utf8'));
    expect(s.variants.map((v: { values: { rank: number } }) => v.values.rank)).toEqual([2, 4, 16]);
  });
});

// No file medctc did not write is replaced: a sweep folder has no run.json to list its summary,
// so medctc recognises its own sweep.md / sweep.json by their content.
describe('sweep summary: foreign files', () => {
  const codeOf = (f: () => unknown): string | undefined => {
    try { f(); } catch (e) { return e instanceof DiagnosticError ? e.diagnostics[0]!.code : String(e); }
    return undefined;
  };
  it('replaces its own summary, refuses (E5590) a sweep.md or sweep.json it did not write and leaves it as it was', () => {
    expect(codeOf(() => writeSweepSummary(root, folders))).toBeUndefined();
    expect(codeOf(() => writeSweepSummary(root, folders, 'values'))).toBeUndefined();
    const md = join(root, 'sweep.md'), json = join(root, 'sweep.json');
    const own = readFileSync(md, 'utf8');
    for (const [file, foreign] of [[md, '# My notes on the rank sweep\n\nrank 4 looked best.\n'], [json, '{"rank": [2, 4, 16]}\n'], [json, 'not json']] as const) {
      const before = readFileSync(file, 'utf8');
      writeFileSync(file, foreign);
      expect(codeOf(() => writeSweepSummary(root, folders))).toBe('E5590');
      expect(readFileSync(file, 'utf8')).toBe(foreign);
      writeFileSync(file, before);
    }
    expect(readFileSync(md, 'utf8')).toBe(own);
  });

  it('medctc run refuses a sweep into a folder with a foreign sweep.json before any variant runs: exit 2, E5590', () => {
    const d = tempDir('report-sweep-foreign');
    const file = smallSpec(d, { volumes: 6, pathologies: 3, batch: 2, epochs: 1 });
    writeFileSync(file, readFileSync(file, 'utf8').replace(/rank 8/, 'rank sweep [8, 4]'));
    const out = join(d, 'runs');
    mkdirSync(out, { recursive: true });
    writeFileSync(join(out, 'sweep.json'), '{"mine": true}\n');
    const r = medctc('run', file, '--out', out, '--backend', 'cpu', '--quiet');
    expect(r.status, r.stderr).toBe(2);
    expect(r.stderr).toContain('error[E5590]');
    expect(r.stderr).toContain('sweep.json');
    expect(r.stderr).not.toMatch(/\n\s+at /);
    expect(readdirSync(out)).toEqual(['sweep.json']);
    expect(readFileSync(join(out, 'sweep.json'), 'utf8')).toBe('{"mine": true}\n');
    expect(existsSync(join(out, 'quickstart@rank=8'))).toBe(false);
  }, 120_000);
});

// The e2e test's shapes (test/run/e2e.test.ts) and rank 8 among the variants: the native kernel
// objects are cached per source, so after that test only the rank-4 LoRA kernels compile anew.
describe('medctc run on a sweep (cpu backend, 6 volumes, 2 steps per variant)', () => {
  it('writes each variant\'s report and, after the last, sweep.md / sweep.json in sweep order', () => {
    const d = tempDir('report-sweep-cli');
    const file = smallSpec(d, { volumes: 6, pathologies: 3, batch: 2, epochs: 1, baseline: true });
    writeFileSync(file, readFileSync(file, 'utf8').replace(/rank 8/, 'rank sweep [8, 4]'));
    const out = join(d, 'runs');
    const r = medctc('run', file, '--out', out, '--backend', 'cpu', '--quiet', '--json');
    expect(r.status, r.stderr).toBe(0);
    const printed = JSON.parse(r.stdout);
    expect(printed.sweep).toEqual([join(out, 'sweep.json'), join(out, 'sweep.md')]);
    expect(printed.variants.map((v: { report: string }) => v.report)).toEqual([join(out, 'quickstart@rank=8', 'report.html'), join(out, 'quickstart@rank=4', 'report.html')]);
    const s = JSON.parse(readFileSync(join(out, 'sweep.json'), 'utf8'));
    expect(s.variants.map((v: { folder: string; values: { rank: number } }) => [v.folder, v.values.rank])).toEqual([['quickstart@rank=8', 8], ['quickstart@rank=4', 4]]);
    for (const v of ['quickstart@rank=8', 'quickstart@rank=4']) {
      const log = readFileSync(join(out, v, 'train_log.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
      // The real executor's gradient norms: positive, finite, one per step.
      expect(log.map((l) => l.step)).toEqual([1, 2]);
      for (const l of log) expect(Number.isFinite(l.gradNorm) && l.gradNorm > 0, String(l.gradNorm)).toBe(true);
      const html = readFileSync(join(out, v, 'report.html'), 'utf8');
      expect(html).toContain('data-chart="train-grad-norm"');
      // run.json hashes the run's files, not the report written after it.
      expect(Object.keys(JSON.parse(readFileSync(join(out, v, 'run.json'), 'utf8')).files)).not.toContain('report.html');
    }
    expect(readFileSync(join(out, 'sweep.md'), 'utf8')).toMatch(/\| quickstart@rank=8 \| 8 \|[^\n]*\n\| quickstart@rank=4 \| 4 \|/);
  }, 300_000);
});
