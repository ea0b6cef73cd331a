// Content hashes of data files (volumes, CSVs), remembered while a file is unchanged: in memory for
// the life of the process, and on disk in `<cacheDir>/file-hashes.json` so a second build, run or
// verify of a CT-RATE copy (~50k volumes, terabytes) re-hashes only what changed. The lock's data
// manifest and the preprocess cache's keys both come from here.
//
// "Unchanged" is the file's (inode, size, mtime, ctime) to the nanosecond the file system keeps —
// stricter than path + size + mtime, because tools set mtime back (cp -p, rsync -t, tar), so an
// edited file of the same size can carry its old mtime; ctime cannot be set from user space. A
// memo is kept only for files whose ctime was RACY_NS in the past when hashed: file times come from
// a coarse clock, and a file changed right after hashing may still carry the same times (git's
// "racily clean" rule). The device number is left out so a remounted network share stays known.
import { closeSync, readFileSync, readSync, statSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { resolve } from 'node:path';
import { writeFileAtomic } from '../../base/atomic.js';
import { openRegularFile } from '../../base/files.js';

export const RACY_NS = 2_000_000_000n;

export interface Known { stamp: string; hash: string }
const memo = new Map<string, Known>();
let dirty = false;

/** What must be unchanged for a remembered hash to stand. */
export function fileStamp(path: string): string {
  const st = statSync(path, { bigint: true });
  return `${st.ino}:${st.size}:${st.mtimeNs}:${st.ctimeNs}`;
}

/** The remembered hash of `path` when its stamp still matches, else undefined. */
export function knownHash(path: string, stamp: string): string | undefined {
  const k = memo.get(resolve(path));
  return k && k.stamp === stamp ? k.hash : undefined;
}

/** The memo entry of `path` (only if its stamp is `stamp`, when given): what a worker thread is
 *  handed with a task and hands back, so the process-wide memo and the store stay complete. */
export function memoEntry(path: string, stamp?: string): Known | undefined {
  const k = memo.get(resolve(path));
  return k && (stamp === undefined || k.stamp === stamp) ? k : undefined;
}

/** Takes a memo entry from another thread (already past the racy check there). */
export function seedHash(path: string, k: Known): void {
  const key = resolve(path);
  if (memo.get(key)?.stamp !== k.stamp || memo.get(key)?.hash !== k.hash) { memo.set(key, { stamp: k.stamp, hash: k.hash }); dirty = true; }
}

/** Remembers a hash computed at `hashedAtNs` (ns since the epoch), unless the file was racily new. */
export function rememberHash(path: string, stamp: string, hash: string, hashedAtNs: bigint): void {
  const key = resolve(path);
  const ctime = BigInt(stamp.slice(stamp.lastIndexOf(':') + 1));
  if (ctime < hashedAtNs - RACY_NS) {
    if (memo.get(key)?.stamp !== stamp) { memo.set(key, { stamp, hash }); dirty = true; }
  } else if (memo.delete(key)) dirty = true;
}

/** sha256 of a file's bytes (lowercase hex), from the memo while the file is unchanged. */
export function hashFile(path: string): string {
  const stamp = fileStamp(path);
  const known = knownHash(path, stamp);
  if (known !== undefined) return known;
  const hashedAtNs = BigInt(Date.now()) * 1_000_000n;
  const hash = sha256Streamed(path);
  rememberHash(path, stamp, hash, hashedAtNs);
  return hash;
}

/** sha256 of a file read in 8 MiB pieces: a 500 MB volume is hashed without holding it. */
function sha256Streamed(path: string): string {
  const h = createHash('sha256');
  const buf = Buffer.allocUnsafe(8 << 20);
  const fd = openRegularFile(path);
  try {
    for (let n; (n = readSync(fd, buf, 0, buf.length, null)) > 0;) h.update(buf.subarray(0, n));
  } finally {
    closeSync(fd);
  }
  return h.digest('hex');
}

const STORE = 'file-hashes.json';
const STORE_VERSION = 1;

/** Adds the hashes remembered in `<dir>/file-hashes.json` (missing or unreadable: none). */
export function loadHashStore(dir: string): void {
  let doc: unknown;
  try { doc = JSON.parse(readFileSync(resolve(dir, STORE), 'utf8')); } catch { return; }
  const d = doc as { version?: unknown; files?: unknown };
  if (d.version !== STORE_VERSION || d.files === null || typeof d.files !== 'object') return;
  for (const [path, v] of Object.entries(d.files as Record<string, unknown>)) {
    if (Array.isArray(v) && typeof v[0] === 'string' && typeof v[1] === 'string' && /^[0-9a-f]{64}$/.test(v[1]) && !memo.has(path)) {
      memo.set(path, { stamp: v[0], hash: v[1] });
    }
  }
}

/** Writes every remembered hash to `<dir>/file-hashes.json` (atomically) when some are new. */
export function saveHashStore(dir: string): void {
  if (!dirty) return;
  const files = Object.fromEntries([...memo].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([p, k]) => [p, [k.stamp, k.hash]]));
  writeFileAtomic(resolve(dir, STORE), JSON.stringify({ version: STORE_VERSION, files }) + '\n', { sync: false });
  dirty = false;
}
