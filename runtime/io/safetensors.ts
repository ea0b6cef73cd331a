// safetensors reader and writer (format: huggingface/safetensors). A file is an 8-byte u64 LE
// header length N, N bytes of UTF-8 JSON (may be space-padded), then one data buffer that the
// tensors cover exactly, with no holes and no overlaps. Reading is lazy (header first, then one
// tensor at a time by file offset) so a 1.7 GB checkpoint is never held whole. Every malformed
// file is a DiagnosticError (E550x-E551x) naming the file; the writer's bytes match the reference
// writer's layout (tensors by descending dtype alignment, then name; header padded to 8 bytes).
import { closeSync, fstatSync, readSync } from 'node:fs';
import { endianness } from 'node:os';
import { DiagnosticError, fileDiagnostic } from '../../base/diagnostics/types.js';
import type { RuntimeCode } from '../../base/diagnostics/codes/runtime.js';
import { writeFileAtomic } from '../../base/atomic.js';
import { JsonDuplicateKeyError, JsonSyntaxError, parseJsonStrict } from './json-strict.js';
import { fileErrorText, openRegularFile } from '../../base/files.js';

export type Dtype = 'F64' | 'F32' | 'F16' | 'BF16' | 'I64' | 'I32' | 'I16' | 'I8' | 'U64' | 'U32' | 'U16' | 'U8' | 'BOOL';

/** Declaration order of the reference implementation's `Dtype` enum (which derives Ord); its writer
 *  sorts by this, descending, so wider types come first and every tensor stays aligned. */
const DTYPE_ORDER: readonly Dtype[] = ['BOOL', 'U8', 'I8', 'I16', 'U16', 'F16', 'BF16', 'I32', 'U32', 'F32', 'F64', 'I64', 'U64'];

export const DTYPE_SIZE: Readonly<Record<Dtype, number>> = {
  BOOL: 1, U8: 1, I8: 1, I16: 2, U16: 2, F16: 2, BF16: 2, I32: 4, U32: 4, F32: 4, F64: 8, I64: 8, U64: 8,
};

/** Header limit of the reference reader (a guard against absurd allocations). */
export const MAX_HEADER_BYTES = 100_000_000;

/** Element storage per dtype. F16 and BF16 hold raw bit patterns (see `toFloat32`); BOOL holds 0/1 bytes. */
export interface DtypeArray {
  F64: Float64Array; F32: Float32Array; F16: Uint16Array; BF16: Uint16Array;
  I64: BigInt64Array; I32: Int32Array; I16: Int16Array; I8: Int8Array;
  U64: BigUint64Array; U32: Uint32Array; U16: Uint16Array; U8: Uint8Array; BOOL: Uint8Array;
}
export type TensorData = DtypeArray[Dtype];

export interface Tensor {
  dtype: Dtype;
  shape: number[];
  data: TensorData;
}

export interface TensorInfo {
  dtype: Dtype;
  shape: number[];
  /** [begin, end) relative to the start of the data buffer. */
  dataOffsets: [number, number];
}

export interface SafetensorsHeader {
  metadata: Record<string, string> | null;
  /** In file order (ascending offsets). */
  tensors: Map<string, TensorInfo>;
  /** Absolute file offset of the data buffer: 8 + header length. */
  dataStart: number;
}

if (endianness() !== 'LE') throw new Error('medctc safetensors I/O assumes a little-endian host');

function fail(code: RuntimeCode, file: string, message: string, help?: string): never {
  throw new DiagnosticError(fileDiagnostic(code, `${file}: ${message}`, file, help ? { help } : {}));
}

const numel = (shape: readonly number[]): number => shape.reduce((a, b) => a * b, 1);

// ---------------------------------------------------------------- reading

/** Reads the 8-byte prefix: the header length, checked against the limit and the file size. */
function headerLength(prefix: Uint8Array, fileSize: number, file: string): number {
  if (fileSize < 8) fail('E5502', file, `${fileSize} bytes, too short for the 8-byte header length`);
  const n = new DataView(prefix.buffer, prefix.byteOffset, 8).getBigUint64(0, true);
  if (n > BigInt(MAX_HEADER_BYTES)) fail('E5503', file, `header of ${n} bytes exceeds the ${MAX_HEADER_BYTES}-byte limit`, 'the file is probably not safetensors, or is corrupt');
  if (8n + n > BigInt(fileSize)) fail('E5502', file, `header claims ${n} bytes but the file has only ${fileSize - 8} after the length`, 'the file was probably cut short while copying or downloading');
  return Number(n);
}

const isCount = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;

/** Parses and validates a header (the N bytes after the length) for a file of `fileSize` bytes. */
export function parseHeader(headerBytes: Uint8Array, fileSize: number, file: string): SafetensorsHeader {
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(headerBytes);
  } catch {
    fail('E5504', file, 'header is not valid UTF-8');
  }
  if (!text.startsWith('{')) fail('E5504', file, 'header does not start with "{"');
  let json: unknown;
  try {
    json = parseJsonStrict(text);
  } catch (e) {
    if (e instanceof JsonDuplicateKeyError) {
      if (e.path.length === 0) fail('E5507', file, `tensor "${e.key}" is listed twice in the header`);
      fail('E5505', file, `key "${e.key}" appears twice in header entry "${e.path[0]}"`);
    }
    if (e instanceof JsonSyntaxError) fail('E5504', file, `header JSON: ${e.message}`);
    throw e;
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) fail('E5504', file, 'header is not a JSON object');

  const dataStart = 8 + headerBytes.length;
  const bufferLength = fileSize - dataStart;
  let metadata: Record<string, string> | null = null;
  const entries: [string, TensorInfo][] = [];
  for (const [name, raw] of Object.entries(json)) {
    if (name === '__metadata__') {
      if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) fail('E5505', file, '__metadata__ must be an object of strings');
      for (const [k, v] of Object.entries(raw)) if (typeof v !== 'string') fail('E5505', file, `__metadata__ value "${k}" is not a string`);
      metadata = { ...(raw as Record<string, string>) };
      continue;
    }
    if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) fail('E5505', file, `entry "${name}" is not an object`);
    const { dtype, shape, data_offsets: offsets } = raw as Record<string, unknown>;
    if (typeof dtype !== 'string') fail('E5505', file, `tensor "${name}" has no dtype`);
    if (!(dtype in DTYPE_SIZE)) fail('E5506', file, `tensor "${name}" has dtype ${dtype}`, `supported: ${DTYPE_ORDER.join(', ')}`);
    if (!Array.isArray(shape) || !shape.every(isCount)) fail('E5505', file, `tensor "${name}" shape must be a list of non-negative integers`);
    if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every(isCount)) fail('E5505', file, `tensor "${name}" data_offsets must be [begin, end] non-negative integers`);
    const [begin, end] = offsets as [number, number];
    if (begin > end || end > bufferLength) {
      fail('E5508', file, `tensor "${name}" data_offsets [${begin}, ${end}] fall outside the ${bufferLength}-byte data buffer`,
        end > bufferLength ? 'the file is probably truncated (an interrupted copy or download)' : undefined);
    }
    const expected = numel(shape as number[]) * DTYPE_SIZE[dtype as Dtype];
    if (end - begin !== expected) fail('E5511', file, `tensor "${name}" (${dtype} [${(shape as number[]).join(', ')}]) needs ${expected} bytes but data_offsets span ${end - begin}`);
    entries.push([name, { dtype: dtype as Dtype, shape: [...(shape as number[])], dataOffsets: [begin, end] }]);
  }

  // Coverage: walked in offset order, each tensor must start exactly where the previous ended.
  entries.sort((a, b) => a[1].dataOffsets[0] - b[1].dataOffsets[0] || a[1].dataOffsets[1] - b[1].dataOffsets[1] || (a[0] < b[0] ? -1 : 1));
  let covered = 0;
  let previous: string | null = null;
  for (const [name, info] of entries) {
    const [begin, end] = info.dataOffsets;
    if (begin < covered) fail('E5509', file, `tensor "${name}" [${begin}, ${end}] overlaps "${previous}" (which ends at ${covered})`);
    if (begin > covered) fail('E5510', file, `bytes [${covered}, ${begin}) of the data buffer belong to no tensor`);
    covered = end;
    previous = name;
  }
  if (covered !== bufferLength) fail('E5510', file, `bytes [${covered}, ${bufferLength}) at the end of the data buffer belong to no tensor`);
  return { metadata, tensors: new Map(entries), dataStart };
}

/** A typed view of `bytes` for `dtype` (F16/BF16 as raw bits, BOOL as bytes). `bytes` must be
 *  aligned for the dtype: callers pass a fresh, exactly-sized allocation. */
export function tensorData(dtype: Dtype, bytes: Uint8Array): TensorData {
  const b = bytes.buffer, o = bytes.byteOffset, n = bytes.byteLength / DTYPE_SIZE[dtype];
  switch (dtype) {
    case 'F64': return new Float64Array(b, o, n);
    case 'F32': return new Float32Array(b, o, n);
    case 'F16': case 'BF16': case 'U16': return new Uint16Array(b, o, n);
    case 'I64': return new BigInt64Array(b, o, n);
    case 'I32': return new Int32Array(b, o, n);
    case 'I16': return new Int16Array(b, o, n);
    case 'I8': return new Int8Array(b, o, n);
    case 'U64': return new BigUint64Array(b, o, n);
    case 'U32': return new Uint32Array(b, o, n);
    case 'U8': case 'BOOL': return bytes;
  }
}

/** A safetensors file opened for lazy reads: the header is parsed and validated up front, tensor
 *  bytes are read on demand. Close it when done (or use `withSafetensors`). */
export class SafetensorsFile {
  private constructor(readonly path: string, private fd: number | null, readonly header: SafetensorsHeader, readonly size: number) {}

  static open(path: string): SafetensorsFile {
    let fd: number;
    try {
      fd = openRegularFile(path);
    } catch (e) {
      return fail('E5501', path, `it ${fileErrorText(e)}`);
    }
    try {
      const size = fstatSync(fd).size;
      const prefix = readExactly(fd, Math.min(8, size), 0, path);
      const n = headerLength(prefix, size, path);
      const header = parseHeader(readExactly(fd, n, 8, path), size, path);
      return new SafetensorsFile(path, fd, header, size);
    } catch (e) {
      closeSync(fd);
      throw e;
    }
  }

  get metadata(): Record<string, string> | null { return this.header.metadata; }
  /** Tensor names in file order. */
  names(): string[] { return [...this.header.tensors.keys()]; }
  has(name: string): boolean { return this.header.tensors.has(name); }

  info(name: string): TensorInfo {
    const info = this.header.tensors.get(name);
    if (!info) fail('E5512', this.path, `no tensor named "${name}"`, nearest(name, this.names()));
    return info;
  }

  read(name: string): Tensor {
    const info = this.info(name);
    if (this.fd === null) throw new Error(`SafetensorsFile ${this.path} is closed`);
    const [begin, end] = info.dataOffsets;
    const bytes = readExactly(this.fd, end - begin, this.header.dataStart + begin, this.path);
    return { dtype: info.dtype, shape: [...info.shape], data: tensorData(info.dtype, bytes) };
  }

  /** Reads a floating-point tensor as float32 (F16/BF16/F64 converted); integer dtypes are E5513. */
  readF32(name: string): Float32Array {
    return toFloat32(this.read(name), this.path, name);
  }

  close(): void {
    if (this.fd !== null) closeSync(this.fd);
    this.fd = null;
  }
}

export function withSafetensors<T>(path: string, fn: (f: SafetensorsFile) => T): T {
  const f = SafetensorsFile.open(path);
  try { return fn(f); } finally { f.close(); }
}

/** Reads every tensor of a (small) file. For large checkpoints use `SafetensorsFile`. */
export function readSafetensors(path: string): { metadata: Record<string, string> | null; tensors: Map<string, Tensor> } {
  return withSafetensors(path, (f) => ({ metadata: f.metadata, tensors: new Map(f.names().map((n) => [n, f.read(n)])) }));
}

/** Decodes a whole file held in memory; `file` names it in diagnostics. */
export function decodeSafetensors(bytes: Uint8Array, file = '<memory>'): { metadata: Record<string, string> | null; tensors: Map<string, Tensor> } {
  const n = headerLength(bytes.subarray(0, 8), bytes.length, file);
  const header = parseHeader(bytes.subarray(8, 8 + n), bytes.length, file);
  const tensors = new Map<string, Tensor>();
  for (const [name, info] of header.tensors) {
    const [begin, end] = info.dataOffsets;
    const copy = bytes.slice(header.dataStart + begin, header.dataStart + end);
    tensors.set(name, { dtype: info.dtype, shape: [...info.shape], data: tensorData(info.dtype, copy) });
  }
  return { metadata: header.metadata, tensors };
}

function readExactly(fd: number, length: number, position: number, file: string): Uint8Array {
  const out = new Uint8Array(length);
  let done = 0;
  while (done < length) {
    let got: number;
    try {
      got = readSync(fd, out, done, length - done, position + done);
    } catch (e) {
      return fail('E5501', file, (e as Error).message);
    }
    if (got === 0) fail('E5502', file, `file ended at byte ${position + done}, expected ${length - done} more`);
    done += got;
  }
  return out;
}

function nearest(name: string, names: string[]): string {
  const hits = names.filter((n) => n.endsWith(name.split('.').pop() ?? name)).slice(0, 3);
  return hits.length > 0 ? `similar names: ${hits.join(', ')}` : `the file holds ${names.length} tensors`;
}

// ---------------------------------------------------------------- float conversions

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

export function f16ToF32(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f, frac = h & 0x3ff;
  if (exp === 0) return sign * frac * 2 ** -24;
  if (exp === 0x1f) return frac ? NaN : sign * Infinity;
  return sign * (1 + frac / 1024) * 2 ** (exp - 15);
}

export function bf16ToF32(h: number): number {
  u32[0] = (h & 0xffff) << 16;
  return f32[0]!;
}

/** float32 -> IEEE half bits, round to nearest even (like a PyTorch `.half()` cast). */
export function f32ToF16Bits(x: number): number {
  f32[0] = x;
  const bits = u32[0]!;
  const sign = (bits >>> 16) & 0x8000;
  const exp = (bits >>> 23) & 0xff;
  let frac = bits & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (frac ? 0x200 : 0);
  const e = exp - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign; // below half the smallest subnormal: rounds to zero
    frac |= 0x800000;
    const shift = 14 - e;
    let half = frac >>> shift;
    const rem = frac & ((1 << shift) - 1), mid = 1 << (shift - 1);
    if (rem > mid || (rem === mid && (half & 1))) half++;
    return sign | half;
  }
  let half = (e << 10) | (frac >>> 13);
  const rem = frac & 0x1fff;
  if (rem > 0x1000 || (rem === 0x1000 && (half & 1))) half++; // a carry into the exponent is still correct
  return sign | half;
}

/** float32 -> bfloat16 bits, round to nearest even; NaN stays a (quiet) NaN. */
export function f32ToBf16Bits(x: number): number {
  f32[0] = x;
  const bits = u32[0]!;
  if ((bits & 0x7f800000) === 0x7f800000 && (bits & 0x7fffff)) return ((bits >>> 16) | 0x40) & 0xffff;
  return ((bits + 0x7fff + ((bits >>> 16) & 1)) >>> 16) & 0xffff;
}

/** A floating-point tensor's values as float32. */
export function toFloat32(t: Tensor, file = '<memory>', name = '<tensor>'): Float32Array {
  switch (t.dtype) {
    case 'F32': return t.data as Float32Array;
    case 'F64': return Float32Array.from(t.data as Float64Array);
    case 'F16': return Float32Array.from(t.data as Uint16Array, f16ToF32);
    case 'BF16': {
      const out = new Float32Array(t.data.length);
      new Uint32Array(out.buffer).set(Uint32Array.from(t.data as Uint16Array, (h) => h << 16));
      return out;
    }
    default: return fail('E5513', file, `tensor "${name}" is ${t.dtype}, not a floating-point type`);
  }
}

/** Packs float32 values into a tensor of `dtype` (F32, F16, BF16 or F64). */
export function fromFloat32(values: Float32Array, shape: number[], dtype: 'F32' | 'F16' | 'BF16' | 'F64' = 'F32'): Tensor {
  switch (dtype) {
    case 'F32': return { dtype, shape, data: values };
    case 'F64': return { dtype, shape, data: Float64Array.from(values) };
    case 'F16': return { dtype, shape, data: Uint16Array.from(values, f32ToF16Bits) };
    case 'BF16': return { dtype, shape, data: Uint16Array.from(values, f32ToBf16Bits) };
  }
}

// ---------------------------------------------------------------- writing

/**
 * Encodes tensors as a safetensors file. Layout follows the reference writer: tensors sorted by
 * descending dtype (alignment) then name, `__metadata__` first with its keys sorted (the reference
 * uses a HashMap there, whose order is arbitrary; sorting keeps our bytes deterministic), compact
 * JSON padded with spaces to a multiple of 8 bytes. Invalid input is a bug in the caller: Error.
 * Returns the file as consecutive parts (length, header, then views of each tensor's data, not
 * copies) so a large checkpoint can be written without assembling it in memory.
 */
export function safetensorsParts(tensors: Iterable<[string, Tensor]> | Record<string, Tensor>, metadata: Record<string, string> | null = null): Uint8Array[] {
  const list = Symbol.iterator in tensors ? [...(tensors as Iterable<[string, Tensor]>)] : Object.entries(tensors);
  for (const [name, t] of list) {
    if (!(t.dtype in DTYPE_SIZE)) throw new Error(`safetensors: unsupported dtype ${t.dtype}`);
    if (t.shape.every((d) => isCount(d)) && t.data.byteLength !== numel(t.shape) * DTYPE_SIZE[t.dtype]) throw new Error(`safetensors: tensor "${name}" has ${t.data.byteLength} bytes for ${t.dtype} [${t.shape.join(', ')}]`);
  }
  const { head, order } = safetensorsHeader(list.map(([name, t]) => [name, t]), metadata);
  const byName = new Map(list);
  return [...head, ...order.map((name) => { const d = byName.get(name)!.data; return new Uint8Array(d.buffer, d.byteOffset, d.byteLength); })];
}

/**
 * The start of a safetensors file for tensors given by dtype and shape only: `head` (the length
 * and the padded JSON header) and `order`, the names in the order their data must follow. What
 * `safetensorsParts` writes before the data, for writers that stream the data (a data bundle
 * larger than memory). Invalid input is a bug in the caller: Error.
 */
export function safetensorsHeader(tensors: readonly [string, { dtype: Dtype; shape: readonly number[] }][], metadata: Record<string, string> | null = null): { head: Uint8Array[]; order: string[] } {
  const list = [...tensors];
  const seen = new Set<string>();
  for (const [name, t] of list) {
    if (name === '__metadata__' || name.length === 0) throw new Error(`safetensors: invalid tensor name "${name}"`);
    if (seen.has(name)) throw new Error(`safetensors: duplicate tensor name "${name}"`);
    seen.add(name);
    if (!(t.dtype in DTYPE_SIZE)) throw new Error(`safetensors: unsupported dtype ${t.dtype}`);
    if (!t.shape.every((d) => isCount(d))) throw new Error(`safetensors: tensor "${name}" has an invalid shape [${String(t.shape)}]`);
  }
  const rank = (d: Dtype): number => DTYPE_ORDER.indexOf(d);
  list.sort(([an, a], [bn, b]) => rank(b.dtype) - rank(a.dtype) || (an < bn ? -1 : an > bn ? 1 : 0));

  // Assembled by hand rather than from an object: JSON.stringify would move integer-like names
  // ("0", "1") to the front, and the entry order must be the data order.
  const members: string[] = [];
  const str = (s: string): string => JSON.stringify(s);
  if (metadata !== null) {
    const keys = Object.keys(metadata).sort();
    members.push(`"__metadata__":{${keys.map((k) => `${str(k)}:${str(metadata[k]!)}`).join(',')}}`);
  }
  let offset = 0;
  for (const [name, t] of list) {
    const n = numel(t.shape) * DTYPE_SIZE[t.dtype];
    members.push(`${str(name)}:{"dtype":${str(t.dtype)},"shape":[${t.shape.join(',')}],"data_offsets":[${offset},${offset + n}]}`);
    offset += n;
  }
  let json = Buffer.from(`{${members.join(',')}}`, 'utf8');
  const pad = (8 - (json.length % 8)) % 8;
  if (pad > 0) json = Buffer.concat([json, Buffer.alloc(pad, 0x20)]);
  const length = new Uint8Array(8);
  new DataView(length.buffer).setBigUint64(0, BigInt(json.length), true);
  return { head: [length, json], order: list.map(([name]) => name) };
}

/** The whole file as one byte array (see `safetensorsParts`). */
export function encodeSafetensors(tensors: Iterable<[string, Tensor]> | Record<string, Tensor>, metadata: Record<string, string> | null = null): Uint8Array {
  const parts = safetensorsParts(tensors, metadata);
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) { out.set(p, o); o += p.length; }
  return out;
}

/** Encodes and writes atomically (temp file + fsync + rename). */
export function writeSafetensors(path: string, tensors: Iterable<[string, Tensor]> | Record<string, Tensor>, metadata: Record<string, string> | null = null): void {
  writeFileAtomic(path, safetensorsParts(tensors, metadata));
}
