// A minimal, read-only zip reader for PyTorch checkpoints: only the central directory is parsed
// (at the end of the file, so a multi-GB archive is never scanned), and each entry is located by
// file offset so its bytes can be read straight into their final array. PyTorch's writer stores
// entries uncompressed (method 0) and uses ZIP64 records past 4 GB; DEFLATE (method 8) is accepted
// for archives that were re-zipped by other tools. Anything else is E5581 naming the file.
import { readSync } from 'node:fs';
import { inflateRawSync } from 'node:zlib';
import { DiagnosticError, fileDiagnostic } from '../../base/diagnostics/types.js';

export interface ZipEntry {
  name: string;
  /** 0 stored, 8 deflate. */
  method: number;
  compressedSize: number;
  size: number;
  /** Absolute file offset of the entry's (possibly compressed) data, past its local header. */
  dataOffset: number;
}

const EOCD = 0x06054b50, ZIP64_LOCATOR = 0x07064b50, ZIP64_EOCD = 0x06064b50, CENTRAL = 0x02014b50, LOCAL = 0x04034b50;
const U32_MAX = 0xffffffff, U16_MAX = 0xffff;
/** readSync refuses lengths of 2 GiB and more; one tensor (to_visual_latent, 604 MB in f32) can come close. */
const READ_CHUNK = 1 << 30;

function corrupt(file: string, message: string): never {
  throw new DiagnosticError(fileDiagnostic('E5581', `${file}: ${message}`, file, { help: 'the file is probably truncated (an interrupted copy or download) or not a PyTorch zip archive' }));
}

/** Fills `into` from `position`; a short file is E5581. */
export function readAt(fd: number, into: Uint8Array, position: number, file: string): Uint8Array {
  let done = 0;
  while (done < into.length) {
    let got: number;
    try {
      got = readSync(fd, into, done, Math.min(into.length - done, READ_CHUNK), position + done);
    } catch (e) {
      throw new DiagnosticError(fileDiagnostic('E5580', `${file}: ${(e as Error).message}`, file));
    }
    if (got === 0) corrupt(file, `file ended at byte ${position + done}, ${into.length - done} bytes short of what it declares`);
    done += got;
  }
  return into;
}

/** 64-bit little-endian as a number, refusing values past 2^53 (no real file is that big). */
function u64(v: DataView, at: number, file: string): number {
  const n = v.getBigUint64(at, true);
  if (n > BigInt(Number.MAX_SAFE_INTEGER)) corrupt(file, `a ZIP64 field holds ${n}`);
  return Number(n);
}

/** Every entry of the archive, by name, from its central directory. */
export function readZipDirectory(fd: number, fileSize: number, file: string): Map<string, ZipEntry> {
  // The end-of-central-directory record is 22 bytes plus a comment of at most 64 KiB.
  const tailLength = Math.min(fileSize, 22 + U16_MAX);
  const tail = readAt(fd, new Uint8Array(tailLength), fileSize - tailLength, file);
  const tv = new DataView(tail.buffer);
  let eocd = -1;
  for (let i = tailLength - 22; i >= 0; i--) {
    if (tv.getUint32(i, true) === EOCD && i + 22 + tv.getUint16(i + 20, true) <= tailLength) { eocd = i; break; }
  }
  if (eocd < 0) corrupt(file, 'no zip end-of-central-directory record');
  let count = tv.getUint16(eocd + 10, true);
  let dirSize = tv.getUint32(eocd + 12, true);
  let dirOffset = tv.getUint32(eocd + 16, true);
  const eocdAbs = fileSize - tailLength + eocd;
  if (count === U16_MAX || dirSize === U32_MAX || dirOffset === U32_MAX) {
    if (eocdAbs < 20) corrupt(file, 'ZIP64 sizes are flagged but there is no ZIP64 locator');
    const loc = new DataView(readAt(fd, new Uint8Array(20), eocdAbs - 20, file).buffer);
    if (loc.getUint32(0, true) !== ZIP64_LOCATOR) corrupt(file, 'ZIP64 sizes are flagged but there is no ZIP64 locator');
    const recAt = u64(loc, 8, file);
    const rec = new DataView(readAt(fd, new Uint8Array(56), recAt, file).buffer);
    if (rec.getUint32(0, true) !== ZIP64_EOCD) corrupt(file, `no ZIP64 end-of-central-directory record at byte ${recAt}`);
    count = u64(rec, 32, file);
    dirSize = u64(rec, 40, file);
    dirOffset = u64(rec, 48, file);
  }
  if (dirOffset + dirSize > fileSize) corrupt(file, `the central directory [${dirOffset}, ${dirOffset + dirSize}) lies past the end of the ${fileSize}-byte file`);
  const dir = readAt(fd, new Uint8Array(dirSize), dirOffset, file);
  const dv = new DataView(dir.buffer);
  const entries = new Map<string, ZipEntry>();
  let p = 0;
  for (let i = 0; i < count; i++) {
    if (p + 46 > dirSize || dv.getUint32(p, true) !== CENTRAL) corrupt(file, `central directory entry ${i} is malformed`);
    const flags = dv.getUint16(p + 8, true);
    const method = dv.getUint16(p + 10, true);
    let compressedSize = dv.getUint32(p + 20, true);
    let size = dv.getUint32(p + 24, true);
    const nameLength = dv.getUint16(p + 28, true), extraLength = dv.getUint16(p + 30, true), commentLength = dv.getUint16(p + 32, true);
    let localOffset = dv.getUint32(p + 42, true);
    if (p + 46 + nameLength + extraLength + commentLength > dirSize) corrupt(file, `central directory entry ${i} runs past the directory`);
    const name = new TextDecoder('utf-8').decode(dir.subarray(p + 46, p + 46 + nameLength));
    // ZIP64 extended information: only the fields whose 32-bit slot is saturated, in this order.
    let e = p + 46 + nameLength;
    const extraEnd = e + extraLength;
    while (e + 4 <= extraEnd) {
      const id = dv.getUint16(e, true), len = dv.getUint16(e + 2, true);
      if (id === 0x0001) {
        let f = e + 4;
        const take = (): number => { if (f + 8 > e + 4 + len) corrupt(file, `entry "${name}" has a short ZIP64 field`); const v = u64(dv, f, file); f += 8; return v; };
        if (size === U32_MAX) size = take();
        if (compressedSize === U32_MAX) compressedSize = take();
        if (localOffset === U32_MAX) localOffset = take();
      }
      e += 4 + len;
    }
    if (flags & 1) corrupt(file, `entry "${name}" is encrypted`);
    if (method !== 0 && method !== 8) corrupt(file, `entry "${name}" uses zip compression method ${method} (only stored and deflate are read)`);
    if (method === 0 && compressedSize !== size) corrupt(file, `stored entry "${name}" declares ${compressedSize} compressed and ${size} uncompressed bytes`);
    // The local header repeats name and extra with its own lengths (PyTorch pads the extra field
    // so data is 64-byte aligned), so the data offset has to come from it, not the directory.
    if (localOffset + 30 > fileSize) corrupt(file, `entry "${name}" starts past the end of the file`);
    const local = new DataView(readAt(fd, new Uint8Array(30), localOffset, file).buffer);
    if (local.getUint32(0, true) !== LOCAL) corrupt(file, `entry "${name}" has no local header at byte ${localOffset}`);
    const dataOffset = localOffset + 30 + local.getUint16(26, true) + local.getUint16(28, true);
    if (dataOffset + compressedSize > fileSize) corrupt(file, `entry "${name}" [${dataOffset}, ${dataOffset + compressedSize}) runs past the end of the ${fileSize}-byte file`);
    if (entries.has(name)) corrupt(file, `entry "${name}" appears twice`);
    entries.set(name, { name, method, compressedSize, size, dataOffset });
    p += 46 + nameLength + extraLength + commentLength;
  }
  return entries;
}

/** An entry's uncompressed bytes, whole (for the small ones: data.pkl, version, byteorder). */
export function readZipEntry(fd: number, entry: ZipEntry, file: string): Uint8Array {
  const raw = readAt(fd, new Uint8Array(entry.compressedSize), entry.dataOffset, file);
  if (entry.method === 0) return raw;
  let out: Buffer;
  try {
    out = inflateRawSync(raw);
  } catch (e) {
    return corrupt(file, `entry "${entry.name}" does not inflate: ${(e as Error).message}`);
  }
  if (out.length !== entry.size) corrupt(file, `entry "${entry.name}" inflates to ${out.length} bytes, its header says ${entry.size}`);
  return new Uint8Array(out.buffer, out.byteOffset, out.length);
}
