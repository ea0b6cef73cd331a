// The preprocessed-volume cache: one file per (volume content, preprocessing settings), so a
// second epoch or a second experiment over the same data reads floats instead of redoing
// gunzip + resampling. Entries: "MCTC" magic, u32 format version, u32 D, H, W, then D*H*W
// little-endian float32. Written atomically (base/atomic.ts), so readers never see half an entry;
// an entry that fails its checks is treated as absent and rewritten. No fsync (`sync: false`):
// a lost entry is only recomputed, and the first pass writes thousands.
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic } from '../../base/atomic.js';
import { sha256 } from '../../base/hash.js';

const MAGIC = 0x4354434d; // "MCTC" read little-endian
const FORMAT = 1;
const HEADER = 20;
const HOST_LE = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

const fileHashes = new Map<string, { stamp: string; hash: string }>();

/** A file changed this long after it was hashed may still carry the same timestamps: file times
 *  come from a coarse clock, and mtime can be set back by tools (cp -p, rsync -t, tar). ctime cannot
 *  be set from user space, so a memo is trusted only for files whose ctime was this far in the past
 *  when they were hashed (git's "racily clean" rule). */
const RACY_NS = 2_000_000_000n;

/** sha256 of a file's bytes, remembered for the life of the process while the file is unchanged
 *  (same device, inode, size, mtime and ctime, to the nanosecond the file system keeps). */
export function hashFile(path: string): string {
  const st = statSync(path, { bigint: true });
  const stamp = `${st.dev}:${st.ino}:${st.size}:${st.mtimeNs}:${st.ctimeNs}`;
  const known = fileHashes.get(path);
  if (known && known.stamp === stamp) return known.hash;
  const hashedAtNs = BigInt(Date.now()) * 1_000_000n;
  const hash = sha256(readFileSync(path));
  if (st.ctimeNs < hashedAtNs - RACY_NS) fileHashes.set(path, { stamp, hash });
  else fileHashes.delete(path);
  return hash;
}

export function cacheKey(parts: unknown): string {
  return sha256(JSON.stringify(parts)).slice(0, 40);
}

export class VolumeCache {
  constructor(readonly dir: string) {}

  private path(key: string): string { return join(this.dir, key.slice(0, 2), `${key}.f32`); }

  get(key: string, shape: [number, number, number]): Float32Array | null {
    let bytes: Buffer;
    try {
      bytes = readFileSync(this.path(key));
    } catch {
      return null;
    }
    const n = shape[0] * shape[1] * shape[2];
    if (bytes.length !== HEADER + 4 * n) return null;
    const v = new DataView(bytes.buffer, bytes.byteOffset, HEADER);
    if (v.getUint32(0, true) !== MAGIC || v.getUint32(4, true) !== FORMAT) return null;
    if (v.getUint32(8, true) !== shape[0] || v.getUint32(12, true) !== shape[1] || v.getUint32(16, true) !== shape[2]) return null;
    const out = new Float32Array(n);
    if (HOST_LE) {
      new Uint8Array(out.buffer).set(bytes.subarray(HEADER));
    } else {
      const src = new DataView(bytes.buffer, bytes.byteOffset + HEADER, 4 * n);
      for (let i = 0; i < n; i++) out[i] = src.getFloat32(4 * i, true);
    }
    return out;
  }

  put(key: string, shape: [number, number, number], data: Float32Array): void {
    const path = this.path(key);
    const bytes = new Uint8Array(HEADER + 4 * data.length);
    const v = new DataView(bytes.buffer);
    [MAGIC, FORMAT, ...shape].forEach((x, i) => v.setUint32(4 * i, x, true));
    if (HOST_LE) bytes.set(new Uint8Array(data.buffer, data.byteOffset, 4 * data.length), HEADER);
    else for (let i = 0; i < data.length; i++) v.setFloat32(HEADER + 4 * i, data[i]!, true);
    writeFileAtomic(path, bytes, { sync: false });
  }
}
