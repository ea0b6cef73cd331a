// sha256 helpers shared by the compiler (medctc.lock), the runtime (locked kernels, run.json file
// hashes, caches) and the cli (verify). Hashes are lowercase hex.
import { createHash } from 'node:crypto';
import { closeSync, readFileSync, readSync, statSync } from 'node:fs';
import { openRegularFile } from './files.js';

/** sha256 of `data` (a string is hashed as UTF-8), as 64 hex digits. */
export function sha256(data: string | Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

/** sha256 of a file's bytes, or null when `path` is missing or not a regular file. */
export function sha256File(path: string): string | null {
  try {
    return statSync(path).isFile() ? sha256(readFileSync(path)) : null;
  } catch {
    return null;
  }
}

/**
 * The hash medctc.lock records for a weights file without reading the whole file: sha256 of the
 * safetensors header (its 8-byte length and the JSON header, at most 100 MB), plus the file size.
 * null when the file is missing.
 */
export function safetensorsHeaderHash(path: string): { sha256: string; bytes: number } | null {
  let fd: number;
  try { fd = openRegularFile(path); } catch { return null; }
  try {
    const size = statSync(path).size;
    const head = Buffer.alloc(8);
    readSync(fd, head, 0, 8, 0);
    const n = size >= 8 ? Number(head.readBigUInt64LE(0)) : 0;
    const header = Buffer.alloc(Math.min(n, Math.max(0, size - 8), 100_000_000));
    readSync(fd, header, 0, header.length, 8);
    return { sha256: sha256(Buffer.concat([head, header])), bytes: size };
  } finally {
    closeSync(fd);
  }
}
