// Atomic file writes: readers see either the old file or the complete new one, never a torn write.
// The temp file sits in the destination folder so the final rename never crosses filesystems.
import { closeSync, fsyncSync, mkdirSync, openSync, renameSync, rmSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { DiagnosticError, fileDiagnostic } from './diagnostics/types.js';

let counter = 0;

export interface AtomicWriteOptions {
  /**
   * fsync the file and its folder (default true), so the new content survives a crash. Files that
   * can be regenerated (caches, a build folder whose lock is written last) pass false: they stay
   * atomic (never torn) and skip the two syncs, which dominate writing hundreds of small files.
   */
  sync?: boolean;
}

/**
 * Writes `parts` (concatenated) to `path` via `<dir>/.<name>.<pid>.<n>.tmp` (+ fsync) + rename.
 * Creates the parent folder. Failures are E5520 naming `path`; the temp file is removed.
 * The one atomic writer of medctc: grammar, compiler, runtime and cli all write through it.
 */
export function writeFileAtomic(path: string, parts: Uint8Array | string | readonly (Uint8Array | string)[], opts: AtomicWriteOptions = {}): void {
  const sync = opts.sync ?? true;
  const dir = dirname(path);
  const tmp = join(dir, `.${basename(path)}.${process.pid}.${counter++}.tmp`);
  const list = Array.isArray(parts) ? parts : [parts as Uint8Array | string];
  let fd: number | null = null;
  try {
    mkdirSync(dir, { recursive: true });
    fd = openSync(tmp, 'w');
    for (const p of list) {
      const bytes = typeof p === 'string' ? Buffer.from(p, 'utf8') : p;
      let off = 0;
      while (off < bytes.length) off += writeSync(fd, bytes, off, bytes.length - off);
    }
    if (sync) fsyncSync(fd);
    closeSync(fd);
    fd = null;
    renameSync(tmp, path);
    if (sync) syncDir(dir);
  } catch (e) {
    if (fd !== null) try { closeSync(fd); } catch { /* already failing */ }
    try { rmSync(tmp, { force: true }); } catch { /* the folder itself is unusable */ }
    throw new DiagnosticError(fileDiagnostic('E5520', `cannot write ${path}: ${(e as Error).message}`, path));
  }
}

/** Makes the rename durable; some platforms (Windows) cannot open folders, which is harmless to skip. */
function syncDir(dir: string): void {
  let fd: number;
  try { fd = openSync(dir, 'r'); } catch { return; }
  try { fsyncSync(fd); } catch { /* not supported for folders here */ } finally { closeSync(fd); }
}

/**
 * writeFileAtomic for content made piece by piece: each part is awaited and written before the
 * next is asked for, so a file larger than memory (a data bundle of preprocessed volumes) is never
 * held whole. Same temp file, rename, syncs and E5520 as writeFileAtomic; an error thrown by
 * `parts` itself removes the temp file and propagates unchanged.
 */
export async function writeFileAtomicFrom(path: string, parts: AsyncIterable<Uint8Array | string> | Iterable<Uint8Array | string>, opts: AtomicWriteOptions = {}): Promise<void> {
  const sync = opts.sync ?? true;
  const dir = dirname(path);
  const tmp = join(dir, `.${basename(path)}.${process.pid}.${counter++}.tmp`);
  let fd: number | null = null;
  const cleanup = (): void => {
    if (fd !== null) try { closeSync(fd); } catch { /* already failing */ }
    fd = null;
    try { rmSync(tmp, { force: true }); } catch { /* the folder itself is unusable */ }
  };
  const fail = (e: unknown): never => {
    cleanup();
    throw new DiagnosticError(fileDiagnostic('E5520', `cannot write ${path}: ${(e as Error).message}`, path));
  };
  try {
    mkdirSync(dir, { recursive: true });
    fd = openSync(tmp, 'w');
  } catch (e) { fail(e); }
  try {
    for await (const p of parts) {
      const bytes = typeof p === 'string' ? Buffer.from(p, 'utf8') : p;
      let off = 0;
      try {
        while (off < bytes.length) off += writeSync(fd!, bytes, off, bytes.length - off);
      } catch (e) { fail(e); }
    }
  } catch (e) {
    cleanup();
    throw e;
  }
  try {
    if (sync) fsyncSync(fd!);
    closeSync(fd!);
    fd = null;
    renameSync(tmp, path);
    if (sync) syncDir(dir);
  } catch (e) { fail(e); }
}
