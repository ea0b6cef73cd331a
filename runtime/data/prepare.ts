// The preprocessing driver: one volume from file to cache entry (`preprocessEntry`, the same code
// in the main thread and in a worker), and the first pass over a split on worker threads
// (`preprocessAll`, one per core by default). Each volume's result depends only on its file, its
// metadata and the settings, never on which worker ran it or in which order, so the cache holds
// the same bytes for any worker count (test/data/workers.test.ts). Workers write the cache
// entries themselves; only counts and file hashes come back, never volumes.
import { availableParallelism } from 'node:os';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { Preprocess } from '../../compiler/ir/experiment.js';
import { DiagnosticError, type Diagnostic } from '../../base/diagnostics/types.js';
import { diag } from '../../base/diagnostics/catalog.js';
import { VolumeCache, cacheKey } from './cache.js';
import type { MetadataRow } from './ctrate_tables.js';
import { fileStamp, hashFile, memoEntry, seedHash, type Known } from './filehash.js';
import { readNiftiFile } from './nifti.js';
import { preprocessVolume, quantize, type QuantGrid } from './preprocess.js';
import { fileErrorText } from '../../base/files.js';

/** Bumped whenever preprocessing output changes for the same inputs, invalidating cached volumes. */
export const PREPROCESS_VERSION = 2;

export interface VolumeTask {
  path: string;
  /** The path as diagnostics show it. */
  shownAs: string;
  meta: MetadataRow;
  pp: Preprocess;
  /** Real data's 16-bit grid (runtime/data/preprocess.ts), null for synthetic. */
  grid: QuantGrid | null;
}

export interface EntryResult { data: Float32Array; fromCache: boolean; corrupt: boolean }

/** The preprocessed volume of `t`, from the cache when a valid entry is there, else computed and stored. */
export function preprocessEntry(t: VolumeTask, cache: VolumeCache): EntryResult {
  const { meta, pp, grid } = t;
  const spacingZXY: [number, number, number] = [meta.zSpacing, meta.xySpacing[0], meta.xySpacing[1]];
  let fileHash: string;
  try {
    fileHash = hashFile(t.path);
  } catch (e) {
    throw new DiagnosticError(diag('E5001', `cannot read ${t.shownAs}: it ${fileErrorText(e)}`, { file: t.shownAs, start: 0, end: 0 }));
  }
  const key = cacheKey({ v: PREPROCESS_VERSION, file: fileHash, slope: meta.slope, intercept: meta.intercept, spacingZXY, pp, grid });
  const hit = cache.lookup(key, pp.size);
  if ('data' in hit) return { data: hit.data, fromCache: true, corrupt: false };
  const vol = readNiftiFile(t.path, t.shownAs);
  const data = preprocessVolume(vol, { slope: meta.slope, intercept: meta.intercept, spacingZXY }, pp, t.shownAs);
  // Quantised here, before the cache: a cold and a warm run feed the model the same values.
  if (grid) quantize(data, grid);
  cache.put(key, pp.size, data, grid);
  return { data, fromCache: false, corrupt: hit.miss === 'corrupt' };
}

/** Worker threads for a first pass: $MEDCTC_THREADS when set, else one per core. */
export function defaultWorkers(env: NodeJS.ProcessEnv = process.env): number {
  const n = env.MEDCTC_THREADS ? Number(env.MEDCTC_THREADS) : NaN;
  return Number.isInteger(n) && n > 0 ? n : availableParallelism();
}

/** What a worker is sent and answers (runtime/data/preprocess_worker.ts). */
export interface WorkerRequest { index: number; task: VolumeTask; cacheDir: string; known: Known | null }
export type WorkerReply =
  | { index: number; ok: true; fromCache: boolean; corrupt: boolean; known: Known | null }
  | { index: number; ok: false; diagnostics: Diagnostic[] | null; message: string };

/** Runs one request (in a worker, or inline for a single worker). */
export function serve(req: WorkerRequest): WorkerReply {
  if (req.known) seedHash(req.task.path, req.known);
  try {
    const r = preprocessEntry(req.task, new VolumeCache(req.cacheDir));
    return { index: req.index, ok: true, fromCache: r.fromCache, corrupt: r.corrupt, known: memoEntry(req.task.path) ?? null };
  } catch (e) {
    if (e instanceof DiagnosticError) return { index: req.index, ok: false, diagnostics: e.diagnostics, message: e.message };
    return { index: req.index, ok: false, diagnostics: null, message: (e as Error).stack ?? String(e) };
  }
}

/** The compiled worker entry. Under vitest this module is the TypeScript source, which a worker
 *  thread cannot load, so the compiled copy in dist/ runs (`npm test` builds it first). */
function workerEntry(): URL {
  if (!import.meta.url.endsWith('.ts')) return new URL('./preprocess_worker.js', import.meta.url);
  const built = new URL('../../dist/runtime/data/preprocess_worker.js', import.meta.url);
  if (!existsSync(fileURLToPath(built))) throw new Error(`internal: ${fileURLToPath(built)} is missing; build first (npx tsc -p tsconfig.json)`);
  return built;
}

/**
 * Preprocesses every task into the cache with `workers` threads (1: in this thread), calling
 * `onDone` as each finishes (in completion order). On a failure no further task is started; the
 * ones running finish, and the failure of the lowest-numbered task is thrown — the same one for
 * any worker count, since tasks start in order.
 */
export async function preprocessAll(tasks: VolumeTask[], cacheDir: string, workers: number,
                                    onDone: (index: number, r: { fromCache: boolean; corrupt: boolean }) => void): Promise<void> {
  const request = (index: number): WorkerRequest => {
    const t = tasks[index]!;
    let known: Known | null = null;
    try { known = memoEntry(t.path, fileStamp(t.path)) ?? null; } catch { /* unreadable: the worker reports it */ }
    return { index, task: t, cacheDir, known };
  };
  const fail = (r: Extract<WorkerReply, { ok: false }>): never => {
    if (r.diagnostics) throw new DiagnosticError(r.diagnostics);
    throw new Error(r.message);
  };
  const n = Math.min(workers, tasks.length);
  if (n <= 1) {
    for (let i = 0; i < tasks.length; i++) {
      const r = serve(request(i));
      if (!r.ok) fail(r);
      else onDone(i, r);
    }
    return;
  }
  const entry = workerEntry();
  const pool = Array.from({ length: n }, () => new Worker(entry));
  let next = 0;
  const failures: Extract<WorkerReply, { ok: false }>[] = [];
  try {
    await Promise.all(pool.map((w) => new Promise<void>((done, reject) => {
      const send = () => {
        if (failures.length || next >= tasks.length) { done(); return; }
        w.postMessage(request(next++));
      };
      w.on('message', (r: WorkerReply) => {
        if (!r.ok) failures.push(r);
        else {
          if (r.known) seedHash(tasks[r.index]!.path, r.known);
          onDone(r.index, r);
        }
        send();
      });
      w.on('error', reject);
      w.on('exit', (code) => { if (code !== 0) reject(new Error(`internal: a preprocessing worker exited with code ${code}`)); });
      send();
    })));
  } finally {
    await Promise.all(pool.map((w) => w.terminate()));
  }
  if (failures.length) fail(failures.sort((a, b) => a.index - b.index)[0]!);
}
