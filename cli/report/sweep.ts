// The sweep summary (sweep.md, sweep.json in the sweep's folder): one row per variant folder with
// the values that differ between variants, the trainable parameters and the headline metrics
// (after, with the bootstrap interval; before; the change with its paired interval). The values
// are the variants' sweep bindings (experiment.json `variant.bindings`); folders that are not
// variants of one sweep (a set of ablations) are compared on the explain rows that differ.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic } from '../../base/atomic.js';
import { DiagnosticError, fileDiagnostic } from '../../base/diagnostics/types.js';
import { canonicalJson } from '../../compiler/build.js';
import { METRIC_FIELDS, type Interval } from '../../runtime/eval/index.js';
import { rows, valueText } from '../review/explain.js';
import { isRunFolder, readRunFolder, type RunFolder } from './folder.js';
import { HEADLINE, METRIC_NAMES } from './html.js';

export interface MetricCell {
  after: number | null; afterCi: Interval | null;
  before: number | null; beforeCi: Interval | null;
  change: number | null; changeCi: Interval | null;
}

export interface SweepRow {
  folder: string;
  experiment: string;
  values: Record<string, unknown>;
  parameters: { trainable: number; total: number; fraction: number } | null;
  volumes: number | null;
  metrics: Record<string, MetricCell> | null;
}

export interface SweepSummary {
  sweepVersion: 1;
  /** What the `values` are: the sweep's bindings, or explain paths that differ between folders. */
  values: 'bindings' | 'differing';
  keys: string[];
  confidence: number | null;
  variants: SweepRow[];
}

/** Sub-folders of `dir` that hold a run, by name. */
export function sweepFolders(dir: string): string[] {
  if (!existsSync(dir) || !statSync(dir).isDirectory()) return [];
  return readdirSync(dir, { withFileTypes: true }).filter((d) => d.isDirectory() && isRunFolder(join(dir, d.name))).map((d) => d.name).sort();
}

const IGNORED = /^(name|variant(\..*|\[.*)?|outputs\.dir)$/;

function compareValues(a: unknown, b: unknown): number {
  if (typeof a === 'number' && typeof b === 'number') return a - b;
  const x = valueText(a), y = valueText(b);
  return x < y ? -1 : x > y ? 1 : 0;
}

/** The summary of the run folders `folders` (names under `root`), in the given order, or sorted by
 *  their values when `order` is 'values' (what `medctc report` does: sweep order is not on disk). */
export function sweepSummary(root: string, folders: readonly string[], order: 'given' | 'values' = 'given'): SweepSummary {
  if (folders.length === 0) {
    throw new DiagnosticError(fileDiagnostic('E0014', `\`${root}\` is neither a run folder nor a sweep folder (no run.json, metrics.json or experiment.json in it or in its sub-folders)`, root,
      { help: 'name a run folder, or a sweep folder (one sub-folder per variant, as `medctc run` writes for a sweep)' }));
  }
  const runs: { folder: string; f: RunFolder }[] = folders.map((folder) => ({ folder, f: readRunFolder(join(root, folder)) }));
  const exps = runs.map((r) => r.f.experiment);
  const allVariants = exps.every((e) => e?.variant) && new Set(exps.map((e) => e!.variant!.base)).size === 1;
  let keys: string[];
  let valuesOf: (i: number) => Record<string, unknown>;
  if (allVariants) {
    keys = [...new Set(exps.flatMap((e) => Object.keys(e!.variant!.bindings)))];
    valuesOf = (i) => Object.fromEntries(keys.map((k) => [k, exps[i]!.variant!.bindings[k] ?? null]));
  } else {
    const tables = exps.map((e) => new Map(e ? rows(e).map((r) => [r.path, r.value] as const) : []));
    const paths = [...new Set(tables.flatMap((t) => [...t.keys()]))].filter((p) => !IGNORED.test(p));
    keys = paths.filter((p) => new Set(tables.map((t) => (t.has(p) ? valueText(t.get(p)) : '\0absent'))).size > 1);
    valuesOf = (i) => Object.fromEntries(keys.map((k) => [k, tables[i]!.get(k) ?? null]));
  }
  let variants: SweepRow[] = runs.map(({ folder, f }, i) => {
    const m = f.metrics;
    const params = m?.parameters ?? (f.build && f.run?.train ? { trainable: f.build.parameters.trainable, total: f.build.parameters.total, fraction: f.build.parameters.trainableFraction } : null);
    return {
      folder,
      experiment: f.experiment?.name ?? m?.experiment ?? folder,
      values: valuesOf(i),
      parameters: params,
      volumes: m?.volumes ?? null,
      metrics: m ? Object.fromEntries(HEADLINE.map((k) => {
        const field = METRIC_FIELDS[k].mean;
        const a = m.baseline?.mean[field] ?? null, b = m.final.mean[field];
        return [k, {
          after: b, afterCi: m.final.meanCi?.[field] ?? null,
          before: a, beforeCi: m.baseline?.meanCi?.[field] ?? null,
          change: a === null || b === null ? null : b - a, changeCi: m.change?.mean[field]?.ci ?? null,
        } satisfies MetricCell];
      })) : null,
    };
  });
  if (order === 'values') {
    variants = [...variants].sort((x, y) => {
      for (const k of keys) { const c = compareValues(x.values[k], y.values[k]); if (c) return c; }
      return x.folder < y.folder ? -1 : x.folder > y.folder ? 1 : 0;
    });
  }
  const conf = runs.map((r) => r.f.metrics?.change?.confidence ?? r.f.metrics?.final.bootstrap?.confidence).find((c) => c !== undefined) ?? null;
  return { sweepVersion: 1, values: allVariants ? 'bindings' : 'differing', keys, confidence: conf, variants };
}

const pct = (x: number | null): string => (x === null ? '—' : (100 * x).toFixed(1));
const signed = (x: number): string => `${x >= 0 ? '+' : ''}${(100 * x).toFixed(1)}`;
const ci = (i: Interval | null, f: (x: number) => string = pct): string => (i ? ` [${f(i[0])}, ${f(i[1])}]` : '');

export function sweepMarkdown(s: SweepSummary, title: string): string {
  const level = s.confidence === null ? null : Math.round(100 * s.confidence);
  const out = [`# ${title}: ${s.variants.length} runs`, ''];
  out.push(s.values === 'bindings'
    ? `Values: the sweep's axes (${s.keys.map((k) => `\`${k}\``).join(', ')}). Metrics are means over the labels in percent: after training${level ? ` [${level}% bootstrap CI]` : ''}, and the change from before training${level ? ` [paired ${level}% CI]` : ''}.`
    : `Values: the configuration entries that differ between the runs (\`medctc explain\` paths). Metrics are means over the labels in percent: after training${level ? ` [${level}% bootstrap CI]` : ''}, and the change from before training${level ? ` [paired ${level}% CI]` : ''}.`, '');
  const head = ['run', ...s.keys.map((k) => `\`${k}\``), 'trainable', ...HEADLINE.flatMap((k) => [METRIC_NAMES[k], `Δ ${METRIC_NAMES[k]}`])];
  const line = (cells: string[]) => `| ${cells.map((c) => c.replace(/\|/g, '\\|')).join(' | ')} |`;
  out.push(line(head), line(head.map((_, i) => (i < 1 + s.keys.length ? '---' : '---:'))));
  for (const v of s.variants) {
    const p = v.parameters ? `${v.parameters.trainable.toLocaleString('en-US')} (${(100 * v.parameters.fraction).toFixed(2)}%)` : '—';
    const cells = HEADLINE.flatMap((k) => {
      const m = v.metrics?.[k];
      if (!m) return ['—', '—'];
      return [`${pct(m.after)}${ci(m.afterCi)}`, m.change === null ? '—' : `${signed(m.change)}${ci(m.changeCi, signed)}`];
    });
    out.push(line([v.folder, ...s.keys.map((k) => valueText(v.values[k])), p, ...cells]));
  }
  out.push('', 'Each run\'s folder has its own report.html (ROC and training curves, per-pathology results, configuration, lock).', '');
  return out.join('\n');
}

export const SWEEP_FILES = ['sweep.json', 'sweep.md'] as const;
const SWEEP_MD_TITLE = /^# (sweep `[^`\n]*`|runs compared): \d+ runs\n/;
const SWEEP_MD_END = "\nEach run's folder has its own report.html";

/** Whether the file at `path` is one writeSweepSummary wrote (by its content: a sweep folder has
 *  no run.json to list it). */
function ownSweepFile(path: string, name: (typeof SWEEP_FILES)[number]): boolean {
  let text: string;
  try { text = readFileSync(path, 'utf8'); } catch { return false; }
  if (name === 'sweep.md') return SWEEP_MD_TITLE.test(text) && text.includes(SWEEP_MD_END);
  try {
    const j = JSON.parse(text) as Partial<SweepSummary>;
    return j?.sweepVersion === 1 && Array.isArray(j.variants) && Array.isArray(j.keys);
  } catch { return false; }
}

/** Refuses (E5590) when `root` holds a sweep.json or sweep.md medctc did not write: the summary
 *  never replaces a user's file. `medctc run` checks before the first variant runs. */
export function assertSweepSummaryReplaceable(root: string): void {
  const foreign = SWEEP_FILES.filter((n) => existsSync(join(root, n)) && !ownSweepFile(join(root, n), n));
  if (!foreign.length) return;
  throw new DiagnosticError(fileDiagnostic('E5590',
    `${root} holds ${foreign.length === 1 ? 'a file' : 'files'} medctc did not write and would overwrite: ${foreign.join(', ')} (not a medctc sweep summary)`, join(root, foreign[0]!),
    { help: 'choose another folder for the sweep (--out, outputs.dir) or move those files away; medctc only replaces a sweep summary it wrote' }));
}

/** Writes sweep.json and sweep.md into `root`; returns their paths. */
export function writeSweepSummary(root: string, folders: readonly string[], order: 'given' | 'values' = 'given'): { summary: SweepSummary; files: string[] } {
  assertSweepSummaryReplaceable(root);
  const s = sweepSummary(root, folders, order);
  const base = readRunFolder(join(root, folders[0]!)).experiment?.variant?.base;
  const title = s.values === 'bindings' && base ? `sweep \`${base}\`` : 'runs compared';
  writeFileAtomic(join(root, 'sweep.json'), canonicalJson(s));
  writeFileAtomic(join(root, 'sweep.md'), sweepMarkdown(s, title));
  return { summary: s, files: [join(root, 'sweep.json'), join(root, 'sweep.md')] };
}
