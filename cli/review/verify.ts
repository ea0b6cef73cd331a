// `medctc verify DIR`: every file medctc.lock names, hashed again and compared with the lock.
// Read generically, so fields the lock gains later are still checked where their shape says what
// they are:
//   outputs   { relative path: sha256 }       relative to DIR (plans, report, kernels/, ...)
//   plans     { mode: sha256 | null }         DIR/plan.<mode>.json
//   sources   { path: sha256 | null }         relative to the spec's folder
//   weights   { path, manifest: { sha256, bytes } | null }   sha256 of the safetensors header (8-byte
//             length + JSON header) and the file size, as compiler/build.ts records them
//   data      { root, manifest: sha256 | null, <other>: { path: sha256 } }   root/manifest.json;
//             other path->hash maps relative to the data root (a CT-RATE source's `tables`), and
//             `volumes` { path: { sha256, bytes } } (runtime/data/dataset.ts dataLock), hashed
//             through the build's file-hash store (<cacheDir>/file-hashes.json from
//             experiment.json): only files whose inode, size, mtime or ctime changed are re-read
// The spec's folder: the lock's `specDir` (relative to DIR) when it has one, else the folder of
// run.json's `spec`, else the working directory; `--spec-dir` overrides. A run folder's run.json
// `files` (sha256 of every result file) is checked too. null in the lock means "absent when
// locked": the file appearing since is drift as well.
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { dirname, isAbsolute, join, relative, resolve } from 'node:path';
import { DiagnosticError, fileDiagnostic } from '../../base/diagnostics/types.js';
import { safetensorsHeaderHash, sha256File } from '../../base/hash.js';
import { hashFile, loadHashStore } from '../../runtime/data/filehash.js';

export type Status = 'ok' | 'changed' | 'missing' | 'appeared';

export interface Entry {
  section: string;
  /** As the lock names it. */
  name: string;
  /** The file hashed, as shown (relative to the working directory when inside it). */
  file: string;
  status: Status;
  expected: string | null;
  actual: string | null;
}

export interface Verified {
  dir: string;
  lock: string;
  experiment: string | null;
  specDir: string;
  entries: Entry[];
  /** Lock fields this version cannot interpret (reported, never silently passed). */
  unchecked: string[];
}

const HEX = /^[0-9a-f]{64}$/;
const shown = (p: string) => { const r = relative(process.cwd(), p); return r === '' ? '.' : !r.startsWith('..') && !isAbsolute(r) ? r : p; };
const isObj = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);
const isHashMap = (v: unknown): v is Record<string, string | null> => isObj(v) && Object.values(v).every((x) => x === null || (typeof x === 'string' && HEX.test(x)));
const isVolumeMap = (v: unknown): v is Record<string, { sha256: string; bytes: number }> =>
  isObj(v) && Object.values(v).every((x) => isObj(x) && typeof x.sha256 === 'string' && HEX.test(x.sha256) && typeof x.bytes === 'number');

/** `sha256 (N bytes)` of a volume now; a different size is drift without reading the file. */
function volumeNow(file: string, lockedBytes: number): string | null {
  let size: number;
  try { const st = statSync(file); if (!st.isFile()) return null; size = st.size; } catch { return null; }
  return size !== lockedBytes ? `(${size} bytes)` : `${hashFile(file)} (${size} bytes)`;
}

function entry(section: string, name: string, file: string, expected: string | null, actual: string | null): Entry {
  const status: Status = expected === actual ? 'ok' : expected === null ? 'appeared' : actual === null ? 'missing' : 'changed';
  return { section, name, file: shown(file), status, expected, actual };
}

/** Folders to verify: DIR itself when it holds a lock, else each sub-folder that does (a sweep's build). */
export function lockFolders(dir: string): string[] {
  if (existsSync(join(dir, 'medctc.lock'))) return [dir];
  if (!existsSync(dir) || !statSync(dir).isDirectory()) {
    throw new DiagnosticError(fileDiagnostic('E3028', `\`${dir}\` is not a folder`, dir, { help: 'name a build or run folder (one that holds medctc.lock)' }));
  }
  const subs = readdirSync(dir, { withFileTypes: true }).filter((d) => d.isDirectory() && existsSync(join(dir, d.name, 'medctc.lock'))).map((d) => join(dir, d.name)).sort();
  if (subs.length === 0) {
    throw new DiagnosticError(fileDiagnostic('E3028', `\`${join(dir, 'medctc.lock')}\` does not exist`, dir,
      { help: 'verify a folder written by `medctc build` or `medctc run` (a sweep: its folder or one variant\'s)' }));
  }
  return subs;
}

export function verifyFolder(dir: string, opts: { specDir?: string } = {}): Verified {
  const lockFile = join(dir, 'medctc.lock');
  const bad = (why: string): never => {
    throw new DiagnosticError(fileDiagnostic('E3028', `${shown(lockFile)} ${why}`, shown(lockFile), { help: 'rebuild the folder with `medctc build` to write a fresh lock' }));
  };
  let lock: unknown;
  try {
    lock = JSON.parse(readFileSync(lockFile, 'utf8'));
  } catch (e) {
    bad(existsSync(lockFile) ? `is not valid JSON: ${(e as Error).message}` : 'does not exist');
  }
  if (!isObj(lock)) bad('is not a JSON object');
  const l = lock as Record<string, unknown>;
  if (typeof l.lockVersion !== 'number' || !Number.isInteger(l.lockVersion) || l.lockVersion < 1) bad('has no lockVersion');
  if (!isHashMap(l.outputs)) bad('has no `outputs` map of sha256 hashes');

  let runJson: Record<string, unknown> | null = null;
  try { const v = JSON.parse(readFileSync(join(dir, 'run.json'), 'utf8')); if (isObj(v)) runJson = v; } catch { /* no run.json: a build folder */ }
  const specDir = opts.specDir !== undefined ? resolve(opts.specDir)
    : typeof l.specDir === 'string' ? resolve(dir, l.specDir)
      : typeof runJson?.spec === 'string' ? dirname(resolve(runJson.spec))
        : process.cwd();

  const entries: Entry[] = [];
  const unchecked: string[] = [];
  for (const [name, h] of Object.entries(l.outputs as Record<string, string | null>)) entries.push(entry('outputs', name, join(dir, name), h, sha256File(join(dir, name))));
  for (const [key, v] of Object.entries(l)) {
    if (['lockVersion', 'compiler', 'experiment', 'specDir', 'outputs', 'overrides'].includes(key)) continue; // overrides: values, not files
    if (key === 'plans' && isHashMap(v)) {
      for (const [mode, h] of Object.entries(v)) {
        const f = join(dir, `plan.${mode}.json`);
        if (h === null && !existsSync(f)) continue; // no such plan (an evaluation-only experiment has no train plan)
        entries.push(entry('plans', mode, f, h, sha256File(f)));
      }
    } else if (key === 'sources' && isHashMap(v)) {
      for (const [name, h] of Object.entries(v)) entries.push(entry('sources', name, resolve(specDir, name), h, sha256File(resolve(specDir, name))));
    } else if (key === 'weights' && (v === null || isObj(v))) {
      if (v === null) continue;
      const w = v as { path?: unknown; manifest?: unknown };
      if (typeof w.path !== 'string') { unchecked.push('weights'); continue; }
      const f = resolve(specDir, w.path);
      const m = w.manifest as { sha256?: string; bytes?: number } | null;
      const now = safetensorsHeaderHash(f);
      const code = (x: { sha256?: string; bytes?: number } | null) => (x ? `${x.sha256} (${x.bytes} bytes)` : null);
      entries.push(entry('weights', w.path, f, code(m), code(now)));
      for (const k of Object.keys(w)) if (k !== 'path' && k !== 'manifest') unchecked.push(`weights.${k}`);
    } else if (key === 'data' && isObj(v)) {
      const root = typeof v.root === 'string' ? resolve(specDir, v.root) : null;
      if (root === null) { unchecked.push('data'); continue; }
      for (const [k, x] of Object.entries(v)) {
        if (k === 'root') continue;
        if (k === 'volumes' && isVolumeMap(x)) {
          const cacheDir = lockedCacheDir(dir, specDir);
          if (cacheDir) loadHashStore(cacheDir);
          for (const [name, want] of Object.entries(x)) entries.push(entry('data', name, resolve(root, name), `${want.sha256} (${want.bytes} bytes)`, volumeNow(resolve(root, name), want.bytes)));
        } else if (k === 'manifest' && (x === null || (typeof x === 'string' && HEX.test(x)))) {
          entries.push(entry('data', 'manifest.json', join(root, 'manifest.json'), x, sha256File(join(root, 'manifest.json'))));
        } else if (isHashMap(x)) {
          for (const [name, h] of Object.entries(x)) entries.push(entry('data', name, resolve(root, name), h, sha256File(resolve(root, name))));
        } else unchecked.push(`data.${k}`);
      }
    } else if (isHashMap(v)) {
      // A path -> hash map this version does not know: relative to the folder, like `outputs`.
      for (const [name, h] of Object.entries(v)) entries.push(entry(key, name, join(dir, name), h, sha256File(join(dir, name))));
    } else unchecked.push(key);
  }
  // A run folder: run.json hashes every result file (adapter, metrics, scores, the lock itself).
  if (runJson && isHashMap(runJson.files)) {
    const locked = new Set(entries.filter((e) => e.section === 'outputs').map((e) => e.name));
    for (const [name, h] of Object.entries(runJson.files)) if (!locked.has(name)) entries.push(entry('run.json', name, join(dir, name), h, sha256File(join(dir, name))));
  }
  return { dir, lock: shown(lockFile), experiment: typeof l.experiment === 'string' ? l.experiment : null, specDir: shown(specDir), entries, unchecked };
}

/** The experiment's preprocess cache folder (where the file-hash store lives), from experiment.json. */
function lockedCacheDir(dir: string, specDir: string): string | null {
  try {
    const e = JSON.parse(readFileSync(join(dir, 'experiment.json'), 'utf8')) as { data?: { cacheDir?: unknown } };
    return typeof e.data?.cacheDir === 'string' ? resolve(specDir, e.data.cacheDir) : null;
  } catch {
    return null;
  }
}

export const drifted = (v: Verified) => v.entries.filter((e) => e.status !== 'ok');

