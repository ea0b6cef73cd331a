// NumPy arrays as `np.save` (.npy) and `np.savez` / `np.savez_compressed` (.npz: a zip of .npy
// members, CT-CLIP's preprocessing scripts write one member `arr_0`) write them. Only what a
// volume or a token-id table needs: little-endian (or byte-order-free) numeric dtypes, C order.
// The header is a Python dict literal; it is parsed by pattern, never evaluated.
import { closeSync, fstatSync, openSync, readFileSync } from 'node:fs';
import { DiagnosticError, fileDiagnostic } from '../../base/diagnostics/types.js';
import { readZipDirectory, readZipEntry } from './zip.js';

export interface NpyArray {
  shape: number[];
  /** NumPy's descr without the byte order: f4, f8, f2, i8, i4, i2, i1, u1, u2, u4. */
  dtype: string;
  /** Elements in C order, as float64 (exact for every integer dtype read here). */
  data: Float64Array;
}

const bad = (file: string, message: string): never => {
  throw new DiagnosticError(fileDiagnostic('E5600', `${file}: ${message}`, file, { help: 'write it with numpy: np.save(path, array) or np.savez(path, array)' }));
};

const READERS: Record<string, [number, (v: DataView, o: number) => number]> = {
  f8: [8, (v, o) => v.getFloat64(o, true)], f4: [4, (v, o) => v.getFloat32(o, true)],
  i8: [8, (v, o) => Number(v.getBigInt64(o, true))], i4: [4, (v, o) => v.getInt32(o, true)], i2: [2, (v, o) => v.getInt16(o, true)], i1: [1, (v, o) => v.getInt8(o)],
  u1: [1, (v, o) => v.getUint8(o)], u2: [2, (v, o) => v.getUint16(o, true)], u4: [4, (v, o) => v.getUint32(o, true)],
  f2: [2, (v, o) => halfToFloat(v.getUint16(o, true))],
};

function halfToFloat(h: number): number {
  const s = h & 0x8000 ? -1 : 1, e = (h >> 10) & 0x1f, m = h & 0x3ff;
  if (e === 0) return s * m * 2 ** -24;
  if (e === 31) return m ? NaN : s * Infinity;
  return s * (1 + m / 1024) * 2 ** (e - 15);
}

/** Decodes one .npy file held in memory. */
export function decodeNpy(bytes: Uint8Array, file: string): NpyArray {
  if (bytes.length < 10 || bytes[0] !== 0x93 || String.fromCharCode(...bytes.subarray(1, 6)) !== 'NUMPY') bad(file, 'not a .npy file (no \\x93NUMPY magic)');
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const major = bytes[6]!;
  const headerLen = major === 1 ? view.getUint16(8, true) : view.getUint32(8, true);
  const start = major === 1 ? 10 : 12;
  if (start + headerLen > bytes.length) bad(file, 'truncated header');
  const header = new TextDecoder('latin1').decode(bytes.subarray(start, start + headerLen));
  const descr = /'descr'\s*:\s*'([<>|=])([a-z]\d+)'/.exec(header);
  const fortran = /'fortran_order'\s*:\s*(True|False)/.exec(header);
  const shapeM = /'shape'\s*:\s*\(([^)]*)\)/.exec(header);
  if (!descr || !fortran || !shapeM) bad(file, `unreadable header ${JSON.stringify(header.trim())}`);
  const [, order, dtype] = descr!;
  const reader = READERS[dtype!];
  if (!reader) bad(file, `dtype ${order}${dtype} is not supported (float16/32/64, int8-64, uint8-32)`);
  if (order === '>' && reader![0] > 1) bad(file, `big-endian dtype ${order}${dtype}`);
  if (fortran![1] === 'True') bad(file, 'Fortran-ordered array (save it with np.ascontiguousarray first)');
  const shape = shapeM![1]!.split(',').map((s) => s.trim()).filter((s) => s !== '').map(Number);
  if (!shape.every((d) => Number.isInteger(d) && d >= 0)) bad(file, `bad shape (${shapeM![1]})`);
  const n = shape.reduce((a, b) => a * b, 1);
  const [size, get] = reader!;
  const off = start + headerLen;
  if (bytes.length - off < n * size) bad(file, `holds ${bytes.length - off} data bytes, shape [${shape.join(', ')}] of ${dtype} needs ${n * size}`);
  const data = new Float64Array(n);
  for (let i = 0; i < n; i++) data[i] = get(view, off + i * size);
  return { shape, dtype: dtype!, data };
}

export function readNpy(path: string, shownAs = path): NpyArray {
  let bytes: Buffer;
  try { bytes = readFileSync(path); } catch (e) { return bad(shownAs, `cannot read: ${(e as NodeJS.ErrnoException).code ?? String(e)}`); }
  return decodeNpy(bytes, shownAs);
}

/** The members of an .npz, by name without `.npy` (np.savez(f, x) names its member `arr_0`). */
export function readNpz(path: string, shownAs = path): Map<string, NpyArray> {
  let fd: number;
  try { fd = openSync(path, 'r'); } catch (e) { return bad(shownAs, `cannot read: ${(e as NodeJS.ErrnoException).code ?? String(e)}`); }
  try {
    const out = new Map<string, NpyArray>();
    for (const [name, entry] of readZipDirectory(fd, fstatSync(fd).size, shownAs)) {
      if (name.endsWith('.npy')) out.set(name.slice(0, -4), decodeNpy(readZipEntry(fd, entry, shownAs), `${shownAs}:${name}`));
    }
    return out;
  } finally {
    closeSync(fd);
  }
}
