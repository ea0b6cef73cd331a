// `medctc metrics`: a real (tiny, CPU) run's metrics.json reproduced from its scores.csv alone,
// the same numbers from a CT-RATE-style predictions CSV + the dataset's labels CSV, a hand-checked
// AUROC, and user errors as diagnostics (exit 2, one JSON document under --json).
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { smallSpec, tempDir } from '../run/helpers.js';
import { medctc } from './cli.js';

describe('medctc metrics on a real run', () => {
  const dir = tempDir('review-metrics');
  // 20 volumes: 16 train (batch 4), 4 eval; 6 pathologies; bootstrap 20 with seed 7 (smallSpec keeps the quickstart's `seed 7`).
  const file = smallSpec(dir, { volumes: 20, pathologies: 6, batch: 4, epochs: 1, baseline: true });
  const out = join(dir, 'run');
  const spec = readFileSync(file, 'utf8');

  it('reproduces metrics.json (final and baseline) from scores.csv exactly', () => {
    expect(spec).toContain('bootstrap 20 { confidence 0.95; seed 7 }');
    const run = medctc('run', file, '--out', out, '--backend', 'reference', '--quiet');
    expect(run.status, run.stderr).toBe(0);
    const saved = JSON.parse(readFileSync(join(out, 'metrics.json'), 'utf8'));
    // The run's own record of how it evaluated (experiment.json), not this test's assumption.
    const ev = JSON.parse(readFileSync(join(out, 'experiment.json'), 'utf8')).evaluate;
    expect(ev.bootstrap).toEqual({ samples: 20, confidence: 0.95, seed: 7 });
    const r = medctc('metrics', '--scores', join(out, 'scores.csv'), '--baseline-scores', join(out, 'scores.baseline.csv'),
      '--threshold', ev.threshold.kind, '--bootstrap', String(ev.bootstrap.samples), '--seed', String(ev.bootstrap.seed),
      '--confidence', String(ev.bootstrap.confidence), '--json');
    expect(r.status, r.stderr).toBe(0);
    const got = JSON.parse(r.stdout);
    expect(got.final).toEqual(saved.final);
    expect(got.baseline).toEqual(saved.baseline);
    expect(got.volumes).toBe(saved.volumes);
    // Not a vacuous equality: intervals present, and another seed moves them.
    expect(saved.final.meanCi.accuracy).not.toBeNull();
    const other = JSON.parse(medctc('metrics', '--scores', join(out, 'scores.csv'), '--bootstrap', '20', '--seed', '8', '--json').stdout);
    expect(other.final.mean).toEqual(saved.final.mean);
    expect(other.final.labels.map((l: { ci: unknown }) => l.ci)).not.toEqual(saved.final.labels.map((l: { ci: unknown }) => l.ci));
  });

  it('a predictions CSV with the dataset labels CSV gives the same results', () => {
    const lines = readFileSync(join(out, 'scores.csv'), 'utf8').trim().split('\n');
    const head = lines[0]!.split(',');
    const keep = head.map((h, i) => (h.endsWith(' (truth)') ? -1 : i)).filter((i) => i >= 0);
    const pred = lines.map((l) => { const c = l.split(','); return keep.map((i) => c[i]).join(','); }).join('\n') + '\n';
    const predFile = join(dir, 'predictions.csv');
    writeFileSync(predFile, pred);
    const labels = join(dir, 'data', 'multi_abnormality_labels', 'valid_predicted_labels.csv');
    const r = medctc('metrics', '--scores', predFile, '--labels', labels, '--bootstrap', '20', '--seed', '7', '--json');
    expect(r.status, r.stderr).toBe(0);
    const got = JSON.parse(r.stdout);
    expect(got.format).toBe('predictions');
    expect(got.final).toEqual(JSON.parse(readFileSync(join(out, 'metrics.json'), 'utf8')).final);
    // Without the labels there is no truth: a diagnostic that says how to give it.
    const bad = medctc('metrics', '--scores', predFile);
    expect(bad.status).toBe(2);
    expect(bad.stderr).toContain('error[E5011]');
    expect(bad.stderr).toContain('--labels');
  });

  it('prints the table the run prints', () => {
    const r = medctc('metrics', '--scores', join(out, 'scores.csv'), '--bootstrap', '20', '--seed', '7');
    expect(r.status, r.stderr).toBe(0);
    const md = readFileSync(join(out, 'metrics.md'), 'utf8');
    expect(r.stdout).toContain('[lo, hi]: 95% percentile bootstrap, 20 resamples, seed 7');
    // The run's markdown table row for a label appears, with the same numbers, in the text table.
    // The first such row is the final model's table (metrics.md: comparison, final, then baseline).
    const row = md.split('\n').find((l) => l.startsWith('| Medical material'));
    expect(row).toBeDefined();
    const cells = row!.split('|').map((c) => c.trim()).filter(Boolean);
    expect(cells.length).toBeGreaterThan(4);
    expect(r.stdout).toMatch(new RegExp(`Medical material +${cells[1]} `));
    for (const c of cells.slice(2)) expect(r.stdout).toContain(c);
  });
});

describe('medctc metrics on hand-made files', () => {
  const dir = tempDir('review-metrics-hand');

  it('AUROC is the share of correctly ordered positive/negative pairs', () => {
    // Label A: positives 0.9, 0.4; negatives 0.5, 0.1 -> pairs (0.9>0.5, 0.9>0.1, 0.4<0.5, 0.4>0.1): 3/4.
    const f = join(dir, 'scores.csv');
    writeFileSync(f, 'VolumeName,A,A (truth)\nv1,0.9,1\nv2,0.5,0\nv3,0.4,1\nv4,0.1,0\n');
    const r = medctc('metrics', '--scores', f, '--threshold', 'fixed:0.45', '--json');
    expect(r.status, r.stderr).toBe(0);
    const got = JSON.parse(r.stdout);
    expect(got.final.labels[0].metrics.auroc).toBe(0.75);
    // Fixed 0.45, strict >: predicted 1,1,0,0 against 1,0,1,0 -> 2 of 4 right.
    expect(got.final.labels[0].metrics.accuracy).toBe(0.5);
    expect(got.final.threshold).toEqual({ kind: 'fixed', value: 0.45 });
    expect(got.final.bootstrap).toBeNull();
  });

  it('user errors are diagnostics with exit 2, and --json prints one JSON document', () => {
    const f = join(dir, 'bad.csv');
    writeFileSync(f, 'VolumeName,A,A (truth)\nv1,0.9,1\nv1,0.5,0\n');
    const dup = medctc('metrics', '--scores', f, '--json');
    expect(dup.status).toBe(2);
    const doc = JSON.parse(dup.stdout);
    expect(doc.ok).toBe(false);
    expect(doc.diagnostics[0].code).toBe('E5014');
    expect(dup.stderr).not.toMatch(/at .*\.js:\d+/);
    writeFileSync(f, 'VolumeName,A,A (truth)\nv1,high,1\n');
    const nan = medctc('metrics', '--scores', f);
    expect(nan.status).toBe(2);
    expect(nan.stderr).toContain('error[E5013]');
    expect(nan.stderr).toContain(`${f}:2`);
    const rule = medctc('metrics', '--scores', f, '--threshold', 'median');
    expect(rule.status).toBe(2);
    expect(rule.stderr).toContain('error[E0001]');
    const missing = medctc('metrics', '--scores', join(dir, 'nope.csv'));
    expect(missing.status).toBe(2);
    expect(missing.stderr).toContain('error[E5001]');
  });
});
