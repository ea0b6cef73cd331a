// The run folder's result files: metrics.json (schema: spec/metrics.schema.json), metrics.md,
// scores CSVs, train_log.jsonl, run.json. A run removes the previous run's result files first, so
// a folder never mixes a failed run's log with an earlier run's metrics.
import { existsSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { sha256 } from '../../base/hash.js';
import { canonicalJson } from '../../compiler/build.js';
import type { Metric } from '../../compiler/ir/experiment.js';
import { METRIC_FIELDS, renderTable, type EvalResults, type Interval } from '../eval/index.js';
import type { PairedChange } from '../eval/paired.js';

export const RESULT_FILES = ['train_log.jsonl', 'metrics.json', 'metrics.md', 'scores.csv', 'scores.baseline.csv', 'run.json', 'model.safetensors'] as const;
export const ADAPTER_DIR = 'adapter';

/** Removes an earlier run's result files; its adapter too when this run writes one (an
 *  evaluate-only run may be reading that very adapter). */
export function clearResults(dir: string, opts: { adapter: boolean }): void {
  for (const f of RESULT_FILES) rmSync(join(dir, f), { force: true });
  if (opts.adapter) rmSync(join(dir, ADAPTER_DIR), { recursive: true, force: true });
}

export interface MetricsFile {
  metricsVersion: 1;
  experiment: string;
  split: string;
  volumes: number;
  /** The metrics the experiment asked for (every metric is computed; these are the ones shown). */
  metrics: Metric[];
  /** What `final` evaluated: the base model alone, or with the trained (or given) adapter. */
  finalModel: 'base' | 'adapted';
  baseline: EvalResults | null;
  final: EvalResults;
  /** Baseline -> final change of each mean, with its paired bootstrap interval (null without both). */
  change?: PairedChange | null;
  /** What the run trained, of the model's parameters (null when it trained nothing). */
  parameters?: { trainable: number; total: number; fraction: number } | null;
}

const pct = (x: number | null): string => (x === null ? '—' : (100 * x).toFixed(1));

const ci = (i: Interval | null | undefined): string => (i ? ` [${pct(i[0])}, ${pct(i[1])}]` : '');
const signed = (x: number): string => `${x >= 0 ? '+' : ''}${(100 * x).toFixed(1)}`;

/** Mean of each requested metric before and after (with their intervals), and the change with
 *  its paired interval, in percent; the trainable parameters under it. */
export function comparisonTable(m: MetricsFile): string | null {
  if (!m.baseline) return null;
  const rows = m.metrics.map((k) => {
    const field = METRIC_FIELDS[k].mean;
    const a = m.baseline!.mean[field], b = m.final.mean[field];
    const c = m.change?.mean[field];
    const d = a === null || b === null ? '—' : `${signed(b - a)}${c?.ci ? ` [${signed(c.ci[0])}, ${signed(c.ci[1])}]` : ''}`;
    return `| ${k} | ${pct(a)}${ci(m.baseline!.meanCi?.[field])} | ${pct(b)}${ci(m.final.meanCi?.[field])} | ${d} |`;
  });
  const level = Math.round(100 * (m.change?.confidence ?? m.final.bootstrap?.confidence ?? 0.95));
  const head = m.change || m.final.meanCi
    ? `| mean metric (%) | before [${level}% CI] | after [${level}% CI] | change [paired ${level}% CI] |`
    : '| mean metric (%) | before | after | change |';
  const out = [head, '|---|---:|---:|---:|', ...rows];
  if (m.parameters) out.push('', `trainable parameters: ${m.parameters.trainable.toLocaleString('en-US')} of ${m.parameters.total.toLocaleString('en-US')} (${(100 * m.parameters.fraction).toFixed(2)}%)`);
  return out.join('\n') + '\n';
}

export function metricsMarkdown(m: MetricsFile, extra: string[] = []): string {
  const out = [`# ${m.experiment}: zero-shot evaluation on \`${m.split}\` (${m.volumes} volumes)`, ''];
  out.push(...extra);
  const cmp = comparisonTable(m);
  if (cmp) out.push('## Before and after training', '', cmp);
  out.push(`## ${m.finalModel === 'adapted' ? 'With the adapter' : 'Base model'}`, '', renderTable(m.final, { format: 'markdown', metrics: m.metrics }));
  if (m.baseline) out.push('## Before training (base model)', '', renderTable(m.baseline, { format: 'markdown', metrics: m.metrics }));
  return out.join('\n');
}

export const metricsJson = (m: MetricsFile): string => canonicalJson(m);

/** sha256 of every file in the run folder (recursively), relative path -> hash. run.json itself is
 *  left out, and so are the generated kernels, which medctc.lock already hashes one by one. */
export function hashFolder(dir: string, prefix = ''): Record<string, string> {
  const out: Record<string, string> = {};
  if (!existsSync(dir)) return out;
  for (const e of readdirSync(dir, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1))) {
    const rel = prefix ? `${prefix}/${e.name}` : e.name;
    if (e.isDirectory()) { if (rel !== 'kernels') Object.assign(out, hashFolder(join(dir, e.name), rel)); }
    else if (rel !== 'run.json' && !e.name.startsWith('.')) out[rel] = sha256(readFileSync(join(dir, e.name)));
  }
  return out;
}
