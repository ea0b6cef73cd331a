// The preprocessed-volume cache: one file per (volume content, preprocessing settings), so a
// second epoch or a second experiment over the same data reads values instead of redoing
// gunzip + resampling. An entry (format 2, `<dir>/<xx>/<key>.mctc`), little-endian:
//   0  "MCTC" magic (u32)   4  format version 2 (u32)   8  D, H, W (u32 x 3)
//   20 encoding (u32): 1 = float32 values, 2 = int16 codes on a grid, value = offset + code * step
//   24 offset (f64)   32 step (f64)   40 sha256 of bytes [0, 40) and of the payload (32 bytes)
//   72 payload: D*H*W float32 or int16
// The cache never changes a value: `put` stores int16 codes only when every value decodes back to
// the same float32 bits, else float32. Real volumes are quantised onto the grid by preprocessing
// itself (dataset.ts), so their entries are int16 (half of float32); synthetic ones stay float32.
// A short, long, foreign or tampered entry fails its checks (size, header, checksum) and is
// treated as absent, so it is recomputed and replaced. Written atomically (base/atomic.ts): readers
// never see half an entry. No fsync (`sync: false`): a lost entry is only recomputed.
import { readFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { writeFileAtomic } from '../../base/atomic.js';
import { sha256 } from '../../base/hash.js';
import type { QuantGrid } from './preprocess.js';

const MAGIC = 0x4354434d; // "MCTC" read little-endian
const FORMAT = 2;
const F32 = 1, I16 = 2;
const SUMMED = 40;
const HEADER = 72;
const HOST_LE = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

export function cacheKey(parts: unknown): string {
  return sha256(JSON.stringify(parts)).slice(0, 40);
}

/** Why `lookup` found no usable entry: none there, or one that fails its checks (recomputed). */
export type CacheMiss = 'absent' | 'corrupt';

export class VolumeCache {
  constructor(readonly dir: string) {}

  path(key: string): string { return join(this.dir, key.slice(0, 2), `${key}.mctc`); }

  get(key: string, shape: [number, number, number]): Float32Array | null {
    const r = this.lookup(key, shape);
    return 'data' in r ? r.data : null;
  }

  lookup(key: string, shape: [number, number, number]): { data: Float32Array } | { miss: CacheMiss } {
    let bytes: Buffer;
    try {
      bytes = readFileSync(this.path(key));
    } catch {
      return { miss: 'absent' };
    }
    const corrupt = { miss: 'corrupt' as const };
    const n = shape[0] * shape[1] * shape[2];
    if (bytes.length < HEADER) return corrupt;
    const v = new DataView(bytes.buffer, bytes.byteOffset, HEADER);
    if (v.getUint32(0, true) !== MAGIC || v.getUint32(4, true) !== FORMAT) return corrupt;
    if (v.getUint32(8, true) !== shape[0] || v.getUint32(12, true) !== shape[1] || v.getUint32(16, true) !== shape[2]) return corrupt;
    const enc = v.getUint32(20, true);
    const width = enc === F32 ? 4 : enc === I16 ? 2 : 0;
    if (width === 0 || bytes.length !== HEADER + width * n) return corrupt;
    const sum = createHash('sha256').update(bytes.subarray(0, SUMMED)).update(bytes.subarray(HEADER)).digest();
    if (!sum.equals(bytes.subarray(SUMMED, HEADER))) return corrupt;
    const out = new Float32Array(n);
    if (enc === F32) {
      if (HOST_LE) new Uint8Array(out.buffer).set(bytes.subarray(HEADER));
      else { const src = new DataView(bytes.buffer, bytes.byteOffset + HEADER, 4 * n); for (let i = 0; i < n; i++) out[i] = src.getFloat32(4 * i, true); }
    } else {
      const offset = v.getFloat64(24, true), step = v.getFloat64(32, true);
      const codes = int16View(bytes.subarray(HEADER), n);
      for (let i = 0; i < n; i++) out[i] = offset + codes[i]! * step;
    }
    return { data: out };
  }

  /** Stores `data`; as int16 codes on `grid` when every value is exactly a grid value, else as float32. */
  put(key: string, shape: [number, number, number], data: Float32Array, grid: QuantGrid | null = null): void {
    const codes = grid ? exactCodes(data, grid) : null;
    const bytes = new Uint8Array(HEADER + (codes ? 2 : 4) * data.length);
    const v = new DataView(bytes.buffer);
    [MAGIC, FORMAT, ...shape, codes ? I16 : F32].forEach((x, i) => v.setUint32(4 * i, x, true));
    v.setFloat64(24, codes ? grid!.offset : 0, true);
    v.setFloat64(32, codes ? grid!.step : 1, true);
    if (codes) {
      if (HOST_LE) bytes.set(new Uint8Array(codes.buffer, codes.byteOffset, 2 * codes.length), HEADER);
      else for (let i = 0; i < codes.length; i++) v.setInt16(HEADER + 2 * i, codes[i]!, true);
    } else if (HOST_LE) {
      bytes.set(new Uint8Array(data.buffer, data.byteOffset, 4 * data.length), HEADER);
    } else {
      for (let i = 0; i < data.length; i++) v.setFloat32(HEADER + 4 * i, data[i]!, true);
    }
    bytes.set(createHash('sha256').update(bytes.subarray(0, SUMMED)).update(bytes.subarray(HEADER)).digest(), SUMMED);
    writeFileAtomic(this.path(key), bytes, { sync: false });
  }
}

/** The int16 codes of `data` on `g`, or null when some value is not exactly (to the bit) a grid value. */
function exactCodes(data: Float32Array, g: QuantGrid): Int16Array | null {
  const codes = new Int16Array(data.length);
  const back = new Float32Array(1);
  for (let i = 0; i < data.length; i++) {
    const x = data[i]!;
    const c = Math.round((x - g.offset) / g.step);
    if (!(c >= -32768 && c <= 32767)) return null;
    back[0] = g.offset + c * g.step;
    if (back[0] !== x || (x === 0 && Object.is(x, -0))) return null;
    codes[i] = c;
  }
  return codes;
}

function int16View(bytes: Uint8Array, n: number): Int16Array {
  if (!HOST_LE) { const dv = new DataView(bytes.buffer, bytes.byteOffset, 2 * n); return Int16Array.from({ length: n }, (_, i) => dv.getInt16(2 * i, true)); }
  // Buffers from readFileSync may start at an odd offset inside a shared pool.
  return bytes.byteOffset % 2 === 0 ? new Int16Array(bytes.buffer, bytes.byteOffset, n) : new Int16Array(bytes.slice().buffer, 0, n);
}
