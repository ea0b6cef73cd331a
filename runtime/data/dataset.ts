// The DataSet the runtime trains and evaluates on: CT-RATE-layout folders (real or generated),
// read by one set of loaders. Items are discovered as CT-CLIP does, by walking the split's folder
// for volumes; each must be listed in the split's labels, reports and metadata.
import { readdirSync, statSync } from 'node:fs';
import { basename, join, relative, resolve } from 'node:path';
import { CT_RATE_PATHOLOGIES, type DataSpec, type Preprocess, type PromptSpec } from '../../compiler/ir/experiment.js';
import { DiagnosticError } from '../../base/diagnostics/types.js';
import { diag } from '../../base/diagnostics/catalog.js';
import { VolumeCache, cacheKey, hashFile } from './cache.js';
import { readLabels, readMetadata, readReports, reportText, type MetadataRow } from './ctrate_tables.js';
import { layoutPaths } from './layout.js';
import { readNiftiFile } from './nifti.js';
import { preprocessVolume, validatePreprocess } from './preprocess.js';
import { startProgress, type ProgressMode } from './progress.js';
import { generateSynthetic, manifestMatches } from './synth/generate.js';

/** Bumped whenever preprocessing output changes for the same inputs, invalidating cached volumes. */
export const PREPROCESS_VERSION = 1;

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
  prepare(opts?: { progress?: ProgressMode }): Promise<{ computed: number; cached: number }>;
}

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
  const open = (split: string) => openSplit(root, split, prompts.pathologies, spec.preprocess, spec.limit, cache, opts.progress ?? 'auto');
  return { root, pathologies: [...prompts.pathologies], train: open(spec.trainSplit), eval: open(spec.evalSplit) };
}

function listVolumes(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      // Hugging Face snapshots hold symlinks into a blob store; follow them.
      if (e.isDirectory() || (e.isSymbolicLink() && statSync(p).isDirectory())) walk(p);
      else if (/\.nii(\.gz)?$/.test(e.name)) out.push(p);
    }
  };
  walk(dir);
  return out.sort((a, b) => (basename(a) < basename(b) ? -1 : basename(a) > basename(b) ? 1 : 0));
}

export function openSplit(root: string, split: string, pathologies: readonly string[], pp: Preprocess, limit: number | null,
                          cache: VolumeCache, progress: ProgressMode): DataSplit {
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
      load: async () => loadPreprocessed(f, shown(f), meta, pp, cache).data,
    };
  });
  return {
    name: split,
    items,
    shape: [...pp.size],
    prepare: async (o = {}) => {
      const bar = startProgress(o.progress ?? progress, `preprocessing ${split}`, items.length);
      let computed = 0, cached = 0;
      try {
        for (let i = 0; i < items.length; i++) {
          const r = loadPreprocessed(files[i]!, shown(files[i]!), metadata.rows.get(items[i]!.volumeName)!, pp, cache);
          if (r.fromCache) cached++; else computed++;
          bar.tick(i + 1);
        }
      } finally {
        bar.stop();
      }
      return { computed, cached };
    },
  };
}

function loadPreprocessed(path: string, shownAs: string, meta: MetadataRow, pp: Preprocess, cache: VolumeCache): { data: Float32Array; fromCache: boolean } {
  const spacingZXY: [number, number, number] = [meta.zSpacing, meta.xySpacing[0], meta.xySpacing[1]];
  let fileHash: string;
  try {
    fileHash = hashFile(path);
  } catch (e) {
    throw new DiagnosticError(diag('E5001', `cannot read ${shownAs}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`, { file: shownAs, start: 0, end: 0 }));
  }
  const key = cacheKey({ v: PREPROCESS_VERSION, file: fileHash, slope: meta.slope, intercept: meta.intercept, spacingZXY, pp });
  const hit = cache.get(key, pp.size);
  if (hit) return { data: hit, fromCache: true };
  const vol = readNiftiFile(path, shownAs);
  const data = preprocessVolume(vol, { slope: meta.slope, intercept: meta.intercept, spacingZXY }, pp);
  cache.put(key, pp.size, data);
  return { data, fromCache: false };
}
