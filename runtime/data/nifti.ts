// NIfTI-1 / NIfTI-2 volumes, `.nii` or `.nii.gz`: header parsing by nifti-reader-js, gunzip by
// node:zlib, voxel decoding here (so endianness and every datatype are handled in one place).
// A compressed file is inflated in two steps: its first bytes for the header, then the whole file
// capped at the size that header declares, so a gzip bomb or an absurd header never allocates more
// than the image it claims to be (and nothing beyond runtime/util allocationLimitBytes).
// Voxels stay in NIfTI storage order, x fastest: index = (k * ny + j) * nx + i.
// Writing is NIfTI-1 int16 only: what `medctc synth` needs, with every header field fixed so
// output bytes depend only on the inputs.
import { constants as zlibConstants, gunzipSync } from 'node:zlib';
import * as nifti from 'nifti-reader-js';
import { DiagnosticError } from '../../base/diagnostics/types.js';
import { diag } from '../../base/diagnostics/catalog.js';
import { allocationLimitBytes, gib } from '../util/finite.js';
import { fileErrorText, readRegularFile } from '../../base/files.js';

export type NiftiDatatype = 'uint8' | 'int8' | 'int16' | 'uint16' | 'int32' | 'uint32' | 'int64' | 'uint64' | 'float32' | 'float64';
export type VoxelArray = Uint8Array | Int8Array | Int16Array | Uint16Array | Int32Array | Uint32Array | Float32Array | Float64Array;

export interface NiftiVolume {
  version: 1 | 2;
  /** Voxel counts (nx, ny, nz), NIfTI order. */
  dims: [number, number, number];
  /** Voxel sizes from the header's pixdim[1..3] (mm when xyzt_units says so). */
  pixdim: [number, number, number];
  datatype: NiftiDatatype;
  /** Header scaling as nibabel applies it: slope 0 or non-finite means "unscaled" (1, 0). */
  sclSlope: number;
  sclInter: number;
  /** Stored values, x fastest, native type, host byte order; int64 / uint64 as exact doubles
   *  (Float64Array: every value must be a safe integer, |v| <= 2^53 - 1, else E5006). */
  data: VoxelArray;
}

interface TypeInfo { name: NiftiDatatype; bytes: number; make: (n: number) => VoxelArray; get: (v: DataView, off: number, le: boolean) => number; wide?: true }
const TYPES: Record<number, TypeInfo> = {
  2: { name: 'uint8', bytes: 1, make: (n) => new Uint8Array(n), get: (v, o) => v.getUint8(o) },
  256: { name: 'int8', bytes: 1, make: (n) => new Int8Array(n), get: (v, o) => v.getInt8(o) },
  4: { name: 'int16', bytes: 2, make: (n) => new Int16Array(n), get: (v, o, le) => v.getInt16(o, le) },
  512: { name: 'uint16', bytes: 2, make: (n) => new Uint16Array(n), get: (v, o, le) => v.getUint16(o, le) },
  8: { name: 'int32', bytes: 4, make: (n) => new Int32Array(n), get: (v, o, le) => v.getInt32(o, le) },
  768: { name: 'uint32', bytes: 4, make: (n) => new Uint32Array(n), get: (v, o, le) => v.getUint32(o, le) },
  // 64-bit integers have no JS typed array that arithmetic works on: decoded to doubles below.
  1024: { name: 'int64', bytes: 8, make: (n) => new Float64Array(n), get: (v, o, le) => Number(v.getBigInt64(o, le)), wide: true },
  1280: { name: 'uint64', bytes: 8, make: (n) => new Float64Array(n), get: (v, o, le) => Number(v.getBigUint64(o, le)), wide: true },
  16: { name: 'float32', bytes: 4, make: (n) => new Float32Array(n), get: (v, o, le) => v.getFloat32(o, le) },
  64: { name: 'float64', bytes: 8, make: (n) => new Float64Array(n), get: (v, o, le) => v.getFloat64(o, le) },
};
const HOST_LE = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

function fail(code: 'E5001' | 'E5002' | 'E5003' | 'E5004' | 'E5005' | 'E5006' | 'E5008', message: string, file: string, help?: string): never {
  throw new DiagnosticError(diag(code, message, { file, start: 0, end: 0 }, help ? { help } : {}));
}

export function readNiftiFile(path: string, shownAs: string = path): NiftiVolume {
  let bytes: Uint8Array;
  try {
    bytes = readRegularFile(path);
  } catch (e) {
    fail('E5001', `cannot read ${shownAs}: it ${fileErrorText(e)}`, shownAs);
  }
  return decodeNifti(bytes, shownAs);
}

/** Decodes a `.nii` or `.nii.gz` image held in memory; `file` names it in diagnostics. */
export function decodeNifti(bytes: Uint8Array, file: string): NiftiVolume {
  let raw = bytes;
  const gzip = raw.length >= 2 && raw[0] === 0x1f && raw[1] === 0x8b;
  const inflated = (input: Uint8Array, opts: { preview?: boolean; cap?: number }): Uint8Array => {
    try {
      // Z_SYNC_FLUSH returns what a truncated stream inflates to instead of failing: the header preview.
      return gunzipSync(input, opts.preview ? { finishFlush: zlibConstants.Z_SYNC_FLUSH } : { maxOutputLength: opts.cap });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE') {
        fail('E5003', `${file} inflates to more than the ${opts.cap} bytes its NIfTI header declares`, file,
          'the file is corrupt or not what its header says; fetch it again');
      }
      return fail('E5003', `${file} is gzip-compressed but does not decompress (${(e as Error).message})`, file,
        'the download may be incomplete; fetch the file again');
    }
  };
  // 64 KiB of compressed input inflate to at most ~64 MiB, and hold any header (540 bytes).
  if (gzip) raw = inflated(raw.subarray(0, 65536), { preview: true });
  const header = readNiftiHeader(raw, file);
  const declared = Math.trunc(header.vox_offset) + [1, 2, 3].reduce((n, a) => n * (a <= header.dims[0]! ? Math.max(header.dims[a]!, 1) : 1), 1) * Math.max(header.numBitsPerVoxel / 8, 1);
  const limit = allocationLimitBytes();
  if (!(declared <= limit)) {
    fail('E5008', `${file}: its NIfTI header declares ${header.dims.slice(1, 1 + Math.min(Math.max(header.dims[0]!, 1), 7)).join('x')} voxels of ${header.numBitsPerVoxel} bits (${gib(declared)}), more than medctc holds in memory (${gib(limit)}, half of this machine's)`, file,
      'the header is corrupt, or the volume must be cropped or downsampled before use');
  }
  if (gzip) raw = inflated(bytes, { cap: declared });
  const buf = raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.byteLength) as ArrayBuffer;
  const version = nifti.isNIFTI2(buf) ? 2 : 1;
  const ndim = header.dims[0]!;
  const [nx, ny, nz] = [1, 2, 3].map((a) => (a <= ndim ? header.dims[a]! : 1)) as [number, number, number];
  for (let a = 4; a <= ndim; a++) {
    if (header.dims[a]! > 1) fail('E5005', `${file} has ${ndim} dimensions (dim[${a}] = ${header.dims[a]}); only 3D volumes are supported`, file);
  }
  if (!(ndim >= 1 && ndim <= 7) || !(nx > 0 && ny > 0 && nz > 0)) {
    fail('E5004', `${file}: invalid dimensions [${header.dims.join(', ')}]`, file);
  }
  const type = TYPES[header.datatypeCode];
  if (!type) fail('E5005', `${file}: NIfTI datatype code ${header.datatypeCode} is not supported`, file,
    'supported: uint8, int8, int16, uint16, int32, uint32, int64, uint64, float32, float64');
  if (header.numBitsPerVoxel !== type.bytes * 8) {
    fail('E5004', `${file}: bitpix ${header.numBitsPerVoxel} does not match datatype ${type.name} (${type.bytes * 8} bits)`, file);
  }
  const n = nx * ny * nz;
  const offset = Math.trunc(header.vox_offset);
  const minOffset = version === 2 ? 540 : 348;
  if (offset < minOffset) fail('E5004', `${file}: vox_offset ${header.vox_offset} lies inside the ${minOffset}-byte header`, file);
  const need = offset + n * type.bytes;
  if (raw.length < need) {
    fail('E5004', `${file}: header promises ${nx}x${ny}x${nz} ${type.name} voxels (${need} bytes with the header) but the file holds ${raw.length} bytes`, file,
      'the file is truncated or its header is wrong');
  }
  const data = type.make(n);
  if (type.wide) {
    const view = new DataView(buf, offset, n * type.bytes);
    const big = type.name === 'int64' ? (o: number) => view.getBigInt64(o, header.littleEndian) : (o: number) => view.getBigUint64(o, header.littleEndian);
    for (let i = 0; i < n; i++) {
      const b = big(i * 8);
      const x = Number(b);
      if (!Number.isSafeInteger(x)) {
        fail('E5006', `${file}: ${type.name} voxel ${i} holds ${b}, beyond 2^53 - 1 in magnitude, so it has no exact double`, file,
          'convert the volume to int32 or float32 (CT values fit in int16)');
      }
      data[i] = x;
    }
  } else if (header.littleEndian === HOST_LE) {
    new Uint8Array(data.buffer).set(raw.subarray(offset, need));
  } else {
    const view = new DataView(buf, offset, n * type.bytes);
    for (let i = 0; i < n; i++) data[i] = type.get(view, i * type.bytes, header.littleEndian);
  }
  const slope = header.scl_slope;
  const unscaled = !Number.isFinite(slope) || slope === 0;
  return {
    version,
    dims: [nx, ny, nz],
    pixdim: [header.pixDims[1] ?? 1, header.pixDims[2] ?? 1, header.pixDims[3] ?? 1],
    datatype: type.name,
    sclSlope: unscaled ? 1 : slope,
    sclInter: unscaled || !Number.isFinite(header.scl_inter) ? 0 : header.scl_inter,
    data,
  };
}

function readNiftiHeader(raw: Uint8Array, file: string): nifti.NIFTI1 | nifti.NIFTI2 {
  const buf = raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.byteLength) as ArrayBuffer;
  if (!nifti.isNIFTI(buf)) {
    fail('E5002', `${file} has no NIfTI-1 ("n+1") or NIfTI-2 ("n+2") magic; it is not a single-file NIfTI image`, file);
  }
  try {
    return nifti.readHeader(buf);
  } catch (e) {
    return fail('E5002', `${file}: NIfTI header unreadable (${(e as Error).message})`, file);
  }
}

export interface Int16VolumeToWrite {
  dims: [number, number, number];
  /** Voxel size in mm (x, y, z). */
  pixdim: [number, number, number];
  data: Int16Array;
  /** Up to 79 ASCII characters stored in `descrip`. */
  description: string;
}

/** An uncompressed NIfTI-1 single file (348-byte header, 4-byte empty extension flag, data at 352).
 *  Stored as LPS-like storage the way DICOM-derived CTs usually are: i -> patient left, j -> posterior,
 *  k -> superior, so the sform/qform map (i, j, k) to RAS+ with x and y negated. */
export function encodeNifti1Int16(vol: Int16VolumeToWrite): Uint8Array {
  const [nx, ny, nz] = vol.dims;
  const n = nx * ny * nz;
  if (vol.data.length !== n) throw new Error(`encodeNifti1Int16: ${vol.data.length} voxels for dims ${vol.dims.join('x')}`);
  const out = new Uint8Array(352 + n * 2);
  const v = new DataView(out.buffer);
  const [sx, sy, sz] = vol.pixdim;
  v.setInt32(0, 348, true);
  [3, nx, ny, nz, 1, 1, 1, 1].forEach((d, i) => v.setInt16(40 + 2 * i, d, true));
  v.setInt16(70, 4, true); // datatype int16
  v.setInt16(72, 16, true); // bitpix
  [1, sx, sy, sz, 1, 1, 1, 1].forEach((p, i) => v.setFloat32(76 + 4 * i, p, true));
  v.setFloat32(108, 352, true); // vox_offset
  v.setFloat32(112, 1, true); // scl_slope: stored values are not rescaled by the header
  v.setFloat32(116, 0, true);
  out[123] = 2; // xyzt_units: mm
  const desc = vol.description.replace(/[^\x20-\x7e]/g, '?').slice(0, 79);
  for (let i = 0; i < desc.length; i++) out[148 + i] = desc.charCodeAt(i);
  const ox = ((nx - 1) / 2) * sx, oy = ((ny - 1) / 2) * sy, oz = -((nz - 1) / 2) * sz;
  v.setInt16(252, 1, true); // qform_code: scanner
  v.setInt16(254, 1, true); // sform_code: scanner
  v.setFloat32(264, 1, true); // quatern_d = 1: 180 degrees about z, i.e. x and y flipped
  v.setFloat32(268, ox, true);
  v.setFloat32(272, oy, true);
  v.setFloat32(276, oz, true);
  [-sx, 0, 0, ox].forEach((x, i) => v.setFloat32(280 + 4 * i, x, true));
  [0, -sy, 0, oy].forEach((x, i) => v.setFloat32(296 + 4 * i, x, true));
  [0, 0, sz, oz].forEach((x, i) => v.setFloat32(312 + 4 * i, x, true));
  out.set([0x6e, 0x2b, 0x31, 0x00], 344); // "n+1\0"
  if (HOST_LE) out.set(new Uint8Array(vol.data.buffer, vol.data.byteOffset, n * 2), 352);
  else for (let i = 0; i < n; i++) v.setInt16(352 + 2 * i, vol.data[i]!, true);
  return out;
}
