// The run folder's result files: metrics.json (schema: spec/metrics.schema.json), metrics.md,
// scores CSVs, train_log.jsonl, run.json. A run never writes into its folder directly: it writes
// into a hidden sibling, `.<name>.medctc-staging` (same parent, so the same filesystem and the same
// relative paths), and moves its files into place only once it has succeeded. Until then the
// previous run's results stay as they were; a failed or killed run leaves them untouched.
// medctc's own files in a run folder are the ones the previous run.json lists under `outputs`
// (plus what a medctc.lock there lists); anything else in the folder is the user's and is never
// overwritten or removed: a file of a name medctc wants to write is E5590 before the run starts.
import { existsSync, lstatSync, mkdirSync, readFileSync, readdirSync, renameSync, rmdirSync, rmSync, type Stats } from 'node:fs';
import { basename, dirname, join, relative, resolve } from 'node:path';
import { writeFileAtomic } from '../../base/atomic.js';
import { DiagnosticError, fileDiagnostic } from '../../base/diagnostics/types.js';
import { sha256 } from '../../base/hash.js';
import { canonicalJson } from '../../compiler/build.js';
import type { Metric } from '../../compiler/ir/experiment.js';
import { METRIC_FIELDS, renderTable, type EvalResults, type Interval } from '../eval/index.js';
import type { PairedChange } from '../eval/paired.js';

export const RESULT_FILES = ['train_log.jsonl', 'metrics.json', 'metrics.md', 'scores.csv', 'scores.baseline.csv', 'run.json', 'model.safetensors'] as const;
export const ADAPTER_DIR = 'adapter';
/** What the CLI writes after a run (cli/report): report.html, results.md and its charts. */
export const REPORT_FILES = ['report.html', 'results.md', 'charts/roc.png', 'charts/training.png'] as const;
/** The build artifacts `medctc run FILE` writes before the kernels (compiler/build.ts artifactFiles). */
const BUILD_FILES = ['experiment.json', 'plan.eval.json', 'plan.train.json', 'report.md', 'report.json', 'medctc.lock'] as const;
/** Every fixed name a run may write: checked against foreign files before the run starts. */
const RUN_NAMES = [...BUILD_FILES, ...RESULT_FILES, `${ADAPTER_DIR}/adapter_config.json`, `${ADAPTER_DIR}/adapter_model.safetensors`, ...REPORT_FILES];

/** The file inside a staging folder that says which process writes it (JSON { pid, dest }). */
export const STAGING_MARKER = '.medctc-staging';
/** Where a run into `dest` writes until it succeeds. */
export const stagingFor = (dest: string): string => join(dirname(resolve(dest)), `.${basename(resolve(dest))}.medctc-staging`);

export interface RunFolderWrite {
  /** The run folder the results end up in. */
  dest: string;
  /** The staging folder the run writes into. */
  dir: string;
  /** Files in `dest` medctc wrote (relative path -> sha256 when recorded): from run.json. */
  runOwned: Map<string, string | null>;
  /** Files in `dest` a medctc.lock there lists (a build folder): kept unless this run writes a build. */
  buildOwned: Map<string, string | null>;
}

/** lstat, or null when nothing is there: links are never followed out of the folder. */
const statOf = (p: string): Stats | null => {
  try { return lstatSync(p); } catch { return null; }
};

const readJson = (p: string): Record<string, unknown> | null => {
  try {
    const v: unknown = JSON.parse(readFileSync(p, 'utf8'));
    return v && typeof v === 'object' && !Array.isArray(v) ? v as Record<string, unknown> : null;
  } catch { return null; }
};

const isHashMap = (v: unknown): v is Record<string, string> => !!v && typeof v === 'object' && Object.values(v).every((h) => typeof h === 'string');

/** The files a medctc run.json in `dir` says medctc wrote there (empty when there is none, or it is not medctc's). */
function runManifest(dir: string): Map<string, string | null> {
  const out = new Map<string, string | null>();
  const run = readJson(join(dir, 'run.json'));
  if (!run || typeof run.medctc !== 'string' || typeof run.runVersion !== 'number') return out;
  const hashes = isHashMap(run.files) ? run.files : {};
  if (Array.isArray(run.outputs)) {
    for (const rel of run.outputs) if (typeof rel === 'string') out.set(rel, hashes[rel] ?? null);
  } else {
    // A run.json from before `outputs`: its hashed files, itself, and the report written after it.
    for (const [rel, h] of Object.entries(hashes)) out.set(rel, h);
    for (const rel of ['run.json', ...REPORT_FILES]) out.set(rel, null);
  }
  return out;
}

/** The files a medctc.lock in `dir` lists, and the lock itself. */
function lockManifest(dir: string): Map<string, string | null> {
  const out = new Map<string, string | null>();
  const lock = readJson(join(dir, 'medctc.lock'));
  if (!lock || typeof lock.lockVersion !== 'number' || !isHashMap(lock.outputs)) return out;
  for (const [rel, h] of Object.entries(lock.outputs)) out.set(rel, h);
  out.set('medctc.lock', null);
  return out;
}

function listFiles(dir: string, prefix = ''): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { withFileTypes: true }).flatMap((d) => {
    const rel = prefix ? `${prefix}/${d.name}` : d.name;
    return d.isDirectory() ? listFiles(join(dir, d.name), rel) : [rel];
  }).sort();
}

const processAlive = (pid: number): boolean => {
  try { process.kill(pid, 0); return true; } catch (e) { return (e as NodeJS.ErrnoException).code === 'EPERM'; }
};

const foreignError = (dest: string, names: string[], stagedIn?: string): DiagnosticError => new DiagnosticError(fileDiagnostic('E5590',
  `${dest} holds ${names.length === 1 ? 'a file' : 'files'} medctc did not write and would overwrite: ${names.slice(0, 5).join(', ')}${names.length > 5 ? `, and ${names.length - 5} more` : ''}`, dest,
  { help: `${stagedIn ? `this run's results are in ${stagedIn} (removed by the next run into this folder); ` : ''}choose another run folder (--out, outputs.dir) or move those files away; medctc only replaces files a run.json or medctc.lock in the folder lists` }));

/**
 * Starts a run into `dest` (a writable folder: preflight.ts ensureOutputDir): checks that no other
 * medctc run is writing into it, and that none of the names a run writes belongs to a foreign file there;
 * then makes the staging folder. A staging folder a dead run left behind is removed (it is
 * medctc's, known by its marker); if that run died while moving its files into place, the files it
 * had moved count as medctc's.
 */
export function openRunFolder(destIn: string): RunFolderWrite {
  const dest = resolve(destIn);
  const dir = stagingFor(dest);
  const runOwned = runManifest(dest);
  const buildOwned = lockManifest(dest);
  if (statOf(dir)) {
    const marker = readJson(join(dir, STAGING_MARKER));
    if (!marker || typeof marker.pid !== 'number') {
      throw new DiagnosticError(fileDiagnostic('E5590', `${dir} is in the way: medctc stages a run into ${destIn} there, and that folder is not one medctc made`, dir,
        { help: 'move it away, or choose another run folder' }));
    }
    if (marker.pid !== process.pid && processAlive(marker.pid)) {
      throw new DiagnosticError(fileDiagnostic('E5591', `another medctc run (process ${marker.pid}) is writing into ${destIn}`, destIn,
        { help: `wait for it to finish, or choose another run folder; if no medctc is running, remove ${dir}` }));
    }
    // A commit moves run.json last: a staging folder that still holds one died mid-commit.
    for (const [rel] of runManifest(dir)) if (!runOwned.has(rel)) runOwned.set(rel, null);
    rmSync(dir, { recursive: true, force: true });
  }
  const owned = (rel: string) => runOwned.has(rel) || buildOwned.has(rel);
  const foreign = RUN_NAMES.filter((rel) => statOf(join(dest, rel)) && !owned(rel));
  if (foreign.length) throw foreignError(destIn, foreign);
  try {
    mkdirSync(dir, { recursive: true });
  } catch (e) {
    throw new DiagnosticError(fileDiagnostic('E5520', `cannot make the staging folder ${dir}: ${(e as Error).message}`, dir));
  }
  writeFileAtomic(join(dir, STAGING_MARKER), JSON.stringify({ pid: process.pid, dest }) + '\n', { sync: false });
  return { dest, dir, runOwned, buildOwned };
}

/**
 * Moves a finished run's files from staging into the run folder: every staged file replaces
 * medctc's file of that name; medctc's files from the previous run that this run did not write
 * are removed (when unchanged since, and unless `keep` says otherwise, e.g. the adapter an
 * evaluate-only run read); foreign files are never touched. run.json, with `outputs` listing
 * everything of medctc's now in the folder, moves last.
 */
export function commitRunFolder(w: RunFolderWrite, opts: { keep?: (rel: string) => boolean } = {}): void {
  const { dest, dir } = w;
  const staged = listFiles(dir).filter((rel) => rel !== STAGING_MARKER);
  const fresh = new Set(staged);
  const owned = (rel: string) => w.runOwned.has(rel) || w.buildOwned.has(rel);
  const foreign = staged.filter((rel) => {
    const st = statOf(join(dest, rel));
    return st !== null && (!owned(rel) || st.isDirectory());
  });
  if (foreign.length) throw foreignError(dest, foreign, dir);
  // A run that writes no build keeps the build it ran from (`medctc run BUILD_DIR` into itself).
  const writesBuild = fresh.has('medctc.lock');
  const previous = new Map([...w.buildOwned, ...w.runOwned]);
  const kept: string[] = [], stale: string[] = [];
  for (const [rel, hash] of previous) {
    if (fresh.has(rel)) continue;
    const p = join(dest, rel);
    if (!statOf(p)?.isFile()) continue;
    if (opts.keep?.(rel) || (!writesBuild && w.buildOwned.has(rel))) { kept.push(rel); continue; }
    // A file the user changed since medctc wrote it is theirs now.
    if (hash !== null && sha256(readFileSync(p)) !== hash) continue;
    stale.push(rel);
  }
  const runJson = join(dir, 'run.json');
  const run = readJson(runJson);
  if (run) writeFileAtomic(runJson, canonicalJson({ ...run, outputs: [...new Set([...staged, ...kept])].sort() }));
  try {
    for (const rel of staged) {
      if (rel === 'run.json') continue;
      mkdirSync(dirname(join(dest, rel)), { recursive: true });
      renameSync(join(dir, rel), join(dest, rel));
    }
    for (const rel of stale) {
      rmSync(join(dest, rel), { force: true });
      // Folders the removed files leave empty (charts/, adapter/, kernels/) go too; others stay.
      for (let d = dirname(rel); d !== '.'; d = dirname(d)) { try { rmdirSync(join(dest, d)); } catch { break; } }
    }
    if (run) renameSync(runJson, join(dest, 'run.json'));
  } catch (e) {
    throw new DiagnosticError(fileDiagnostic('E5520', `cannot move the run's results from ${dir} into ${dest}: ${(e as Error).message}`, dest,
      { help: `the files not yet moved are in ${dir}` }));
  }
  rmSync(dir, { recursive: true, force: true });
}

/**
 * After a failed run: a staging folder holding the run's training log, or finished results that
 * could not be moved into place, stays (until the next run into the folder) so nothing is lost;
 * any other is removed. Returns what the run's diagnostic should add (null: nothing worth saying).
 */
export function abandonRunFolder(w: RunFolderWrite): string | null {
  const shown = (p: string) => relative(process.cwd(), p) || p;
  const finished = existsSync(join(w.dir, 'run.json'));
  const logged = !finished && existsSync(join(w.dir, 'train_log.jsonl'));
  if (!finished && !logged) rmSync(w.dir, { recursive: true, force: true });
  const previous = existsSync(join(w.dest, 'run.json'));
  if (!logged && !previous) return null;
  return [logged ? `this run's training log is in ${shown(join(w.dir, 'train_log.jsonl'))} until the next run into ${shown(w.dest)}` : null,
    previous ? `the previous results in ${shown(w.dest)} are unchanged` : null].filter((x) => x).join('; ');
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
