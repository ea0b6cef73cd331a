// The DataSet the runtime trains and evaluates on: CT-RATE-layout folders (real or generated),
// read by one set of loaders. Items are discovered as CT-CLIP does, by walking the split's folder
// for volumes; each must be listed in the split's labels, reports and metadata.
import { readdirSync, realpathSync, statSync } from 'node:fs';
import { basename, join, relative, resolve } from 'node:path';
import { CT_RATE_PATHOLOGIES, type DataSpec, type Preprocess, type PromptSpec } from '../../compiler/ir/experiment.js';
import { DiagnosticError } from '../../base/diagnostics/types.js';
import { diag } from '../../base/diagnostics/catalog.js';
import { VolumeCache } from './cache.js';
import { defaultWorkers, preprocessAll, preprocessEntry } from './prepare.js';
import { hashFile, loadHashStore, saveHashStore } from './filehash.js';
import { readLabels, readMetadata, readReports, reportText } from './ctrate_tables.js';
import { layoutPaths } from './layout.js';
import { quantizationGrid, validatePreprocess, type QuantGrid } from './preprocess.js';
import { startProgress, type ProgressMode } from './progress.js';
import { generateSynthetic, manifestMatches } from './synth/generate.js';
import { fileErrorText } from '../../base/files.js';

export { PREPROCESS_VERSION } from './prepare.js';

export interface DataItem {
  volumeName: string;
  /** The volume file as found on disk. */
  path: string;
  /** 0/1 per pathology, in the prompts' pathology order. */
  labels: Uint8Array;
  /** Findings + Impressions, as CT-CLIP builds it. */
  reportText: string;
  /** Preprocessed volume, (D, H, W) = preprocess.size, row-major; cached on disk. */
  load(): Promise<Float32Array>;
}

export interface DataSplit {
  name: string;
  items: DataItem[];
  /** (D, H, W) of every loaded volume. */
  shape: [number, number, number];
  /** Preprocesses every item not yet cached (the first pass), with progress. */
  prepare(opts?: { progress?: ProgressMode; workers?: number }): Promise<PrepareResult>;
}

/** What a first pass did: volumes preprocessed, read from the cache, and (of the computed ones)
 *  those whose cache entry was there but failed its checks (truncated, foreign, tampered). */
export interface PrepareResult { computed: number; cached: number; corrupt: number }

export interface DataSet {
  root: string;
  pathologies: string[];
  train: DataSplit;
  eval: DataSplit;
}

export interface OpenOptions {
  /** Folder that relative `root` / `cacheDir` are resolved against (default: the working directory). */
  baseDir?: string;
  progress?: ProgressMode;
  /** Worker threads for `prepare` (default: $MEDCTC_THREADS, else one per core; 1 = this thread). */
  workers?: number;
}

export async function openDataSet(spec: DataSpec, prompts: PromptSpec, opts: OpenOptions = {}): Promise<DataSet> {
  const base = opts.baseDir ?? process.cwd();
  const root = resolve(base, spec.source.root);
  validatePreprocess(spec.preprocess, spec.source.root);
  if (spec.source.kind === 'synthetic') {
    const s = spec.source;
    const args = { volumes: s.volumes, seed: s.seed, site: s.site, shape: s.shape };
    if (!manifestMatches(root, args)) {
      const bar = startProgress(opts.progress ?? 'auto', 'synthesising', s.volumes);
      try {
        generateSynthetic({ out: root, ...args }, (done) => bar.tick(done));
      } finally {
        bar.stop();
      }
    }
  }
  const cache = new VolumeCache(resolve(base, spec.cacheDir));
  loadHashStore(cache.dir);
  // Real volumes end on the 16-bit grid (half the cache bytes; error bound in README.md); synthetic
  // ones keep float32, so the committed pretraining run and quickstart figures stay bit for bit.
  const grid = spec.source.kind === 'synthetic' ? null : quantizationGrid(spec.preprocess);
  const open = (split: string) => openSplit(root, split, prompts.pathologies, spec.preprocess, spec.limit, cache, opts.progress ?? 'auto', grid, opts.workers);
  return { root, pathologies: [...prompts.pathologies], train: open(spec.trainSplit), eval: open(spec.evalSplit) };
}

function listVolumes(dir: string): string[] {
  const out: string[] = [];
  // Folders by their real path: a link back up the tree is walked once, not until the stack ends.
  const seen = new Set<string>();
  const walk = (d: string) => {
    let real: string;
    try { real = realpathSync(d); } catch { return; }
    if (seen.has(real)) return;
    seen.add(real);
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      // Hugging Face snapshots hold symlinks into a blob store; follow them. A link that leads
      // nowhere is listed like a file, so reading it names what is wrong (E5001).
      let linkedDir = false;
      if (e.isSymbolicLink()) try { linkedDir = statSync(p).isDirectory(); } catch { /* dangling or a loop */ }
      if (e.isDirectory() || linkedDir) walk(p);
      else if (/\.nii(\.gz)?$/.test(e.name)) out.push(p);
    }
  };
  walk(dir);
  return out.sort((a, b) => (basename(a) < basename(b) ? -1 : basename(a) > basename(b) ? 1 : 0));
}

export function openSplit(root: string, split: string, pathologies: readonly string[], pp: Preprocess, limit: number | null,
                          cache: VolumeCache, progress: ProgressMode, grid: QuantGrid | null = null, workers = defaultWorkers()): DataSplit {
  const paths = layoutPaths(root, split);
  const shown = (p: string) => relative(process.cwd(), p) || p;
  let isDir = false;
  try { isDir = statSync(paths.volumes).isDirectory(); } catch { /* reported below */ }
  if (!isDir) {
    throw new DiagnosticError(diag('E5016', `split \`${split}\` has no volume folder ${shown(paths.volumes)}`, { file: shown(root), start: 0, end: 0 }));
  }
  const labels = readLabels(paths.labels, shown(paths.labels), pathologies, CT_RATE_PATHOLOGIES);
  const reports = readReports(paths.reports, shown(paths.reports));
  const metadata = readMetadata(paths.metadata, shown(paths.metadata));
  let files = listVolumes(paths.volumes);
  if (files.length === 0) {
    throw new DiagnosticError(diag('E5016', `split \`${split}\`: no .nii or .nii.gz volumes under ${shown(paths.volumes)}`, { file: shown(paths.volumes), start: 0, end: 0 }));
  }
  const seen = new Map<string, string>();
  for (const f of files) {
    const name = basename(f);
    const prev = seen.get(name);
    if (prev) throw new DiagnosticError(diag('E5014', `volume ${name} appears twice: ${shown(prev)} and ${shown(f)}`, { file: shown(f), start: 0, end: 0 }));
    seen.set(name, f);
    for (const [table, file] of [[labels.rows, labels.file], [reports.rows, reports.file], [metadata.rows, metadata.file]] as const) {
      if (!table.has(name)) {
        throw new DiagnosticError(diag('E5015', `volume ${shown(f)} has no row in ${file}`, { file, start: 0, end: 0 },
          { help: `add a row for \`${name}\` or remove the volume` }));
      }
    }
  }
  if (limit !== null) files = files.slice(0, limit);
  const items = files.map((f): DataItem => {
    const name = basename(f);
    const meta = metadata.rows.get(name)!;
    return {
      volumeName: name,
      path: f,
      labels: labels.rows.get(name)!.labels,
      reportText: reportText(reports.rows.get(name)!),
      load: async () => preprocessEntry({ path: f, shownAs: shown(f), meta, pp, grid }, cache).data,
    };
  });
  return {
    name: split,
    items,
    shape: [...pp.size],
    prepare: async (o = {}) => {
      const tasks = items.map((it) => ({ path: it.path, shownAs: shown(it.path), meta: metadata.rows.get(it.volumeName)!, pp, grid }));
      const bar = startProgress(o.progress ?? progress, `preprocessing ${split}`, items.length);
      let computed = 0, cached = 0, corrupt = 0, done = 0;
      try {
        await preprocessAll(tasks, cache.dir, o.workers ?? workers, (_, r) => {
          if (r.fromCache) cached++; else computed++;
          if (r.corrupt) corrupt++;
          bar.tick(++done);
        });
      } finally {
        bar.stop();
        saveHashStore(cache.dir);
      }
      return { computed, cached, corrupt };
    },
  };
}

/** A volume as the lock pins it. */
export interface LockedVolume { sha256: string; bytes: number }

/** What medctc.lock records about an experiment's data (`data` in the lock), relative to `root`:
 *  - every source: `root`, and `manifest`, the sha256 of `<root>/manifest.json` (a synthetic
 *    source's generator parameters) or null;
 *  - `ct_rate` sources also `tables` (labels, reports and metadata CSVs of both splits: sha256 or
 *    null when absent) and `volumes` (each volume the experiment reads, `limit` applied:
 *    { sha256, bytes }), so the lock identifies the copy of CT-RATE and `medctc verify` names a
 *    changed volume. Hashes come from runtime/data/filehash.ts: a re-build re-hashes only files
 *    that changed. A synthetic source is pinned by its manifest (its volumes are a function of it
 *    and of SYNTH_VERSION, and do not exist yet when a run writes its lock before generating). */
export function dataLock(spec: DataSpec, baseDir: string, opts: { progress?: ProgressMode } = {}): Record<string, unknown> {
  const root = resolve(baseDir, spec.source.root);
  const manifest = join(root, 'manifest.json');
  const out: Record<string, unknown> = { root: spec.source.root, manifest: isFile(manifest) ? hashFile(manifest) : null };
  if (spec.source.kind === 'synthetic') return out;
  const cacheDir = resolve(baseDir, spec.cacheDir);
  loadHashStore(cacheDir);
  const rel = (p: string) => relative(root, p).split('\\').join('/');
  const tables: Record<string, string | null> = {};
  const volumes: string[] = [];
  for (const split of [...new Set([spec.trainSplit, spec.evalSplit])]) {
    const paths = layoutPaths(root, split);
    for (const t of [paths.labels, paths.reports, paths.metadata]) tables[rel(t)] = isFile(t) ? hashFile(t) : null;
    let isDir = false;
    try { isDir = statSync(paths.volumes).isDirectory(); } catch { /* no volumes yet: nothing to pin */ }
    if (isDir) volumes.push(...(spec.limit === null ? listVolumes(paths.volumes) : listVolumes(paths.volumes).slice(0, spec.limit)));
  }
  const pinned: Record<string, LockedVolume> = {};
  const bar = startProgress(opts.progress ?? 'auto', 'hashing volumes', volumes.length);
  let saved = performance.now();
  try {
    volumes.forEach((v, i) => {
      try {
        pinned[rel(v)] = { sha256: hashFile(v), bytes: statSync(v).size };
      } catch (e) {
        const shownAs = relative(process.cwd(), v) || v;
        throw new DiagnosticError(diag('E5001', `cannot read ${shownAs}: it ${fileErrorText(e)}`, { file: shownAs, start: 0, end: 0 }));
      }
      bar.tick(i + 1);
      // A first pass over CT-RATE takes hours: keep what is done if it is interrupted.
      if (performance.now() - saved > 60_000) { saveHashStore(cacheDir); saved = performance.now(); }
    });
  } finally {
    bar.stop();
    saveHashStore(cacheDir);
  }
  return { ...out, tables, volumes: pinned };
}

function isFile(p: string): boolean {
  try { return statSync(p).isFile(); } catch { return false; }
}
