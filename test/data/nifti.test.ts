import { describe, expect, it } from 'vitest';
import { gzipSync } from 'node:zlib';
import { decodeNifti, encodeNifti1Int16 } from '../../runtime/data/nifti.js';
import { preprocessVolume } from '../../runtime/data/preprocess.js';
import { PRESETS } from '../../compiler/models/presets.js';
import { allocationLimitBytes } from '../../runtime/util/finite.js';
import { DiagnosticError } from '../../base/diagnostics/types.js';

// Independent writers: the NIfTI-1 (348-byte) and NIfTI-2 (540-byte) header layouts, field by field.
type Dt = { code: number; bits: number; set: (v: DataView, o: number, x: number, le: boolean) => void };
const DT: Record<string, Dt> = {
  uint8: { code: 2, bits: 8, set: (v, o, x) => v.setUint8(o, x) },
  int8: { code: 256, bits: 8, set: (v, o, x) => v.setInt8(o, x) },
  int16: { code: 4, bits: 16, set: (v, o, x, le) => v.setInt16(o, x, le) },
  uint16: { code: 512, bits: 16, set: (v, o, x, le) => v.setUint16(o, x, le) },
  int32: { code: 8, bits: 32, set: (v, o, x, le) => v.setInt32(o, x, le) },
  uint32: { code: 768, bits: 32, set: (v, o, x, le) => v.setUint32(o, x, le) },
  float32: { code: 16, bits: 32, set: (v, o, x, le) => v.setFloat32(o, x, le) },
  float64: { code: 64, bits: 64, set: (v, o, x, le) => v.setFloat64(o, x, le) },
  int64: { code: 1024, bits: 64, set: (v, o, x, le) => v.setBigInt64(o, BigInt(x), le) },
  uint64: { code: 1280, bits: 64, set: (v, o, x, le) => v.setBigUint64(o, BigInt(x), le) },
};

function nifti1(dims: number[], pix: number[], dt: Dt, values: number[], o: { le?: boolean; slope?: number; inter?: number; magic?: string; truncate?: number } = {}): Uint8Array {
  const le = o.le ?? true;
  const bytes = dt.bits / 8;
  const buf = new Uint8Array(352 + values.length * bytes);
  const v = new DataView(buf.buffer);
  v.setInt32(0, 348, le);
  [3, ...dims, 1, 1, 1, 1].forEach((d, i) => v.setInt16(40 + 2 * i, d, le));
  v.setInt16(70, dt.code, le);
  v.setInt16(72, dt.bits, le);
  [1, ...pix, 1, 1, 1, 1].forEach((p, i) => v.setFloat32(76 + 4 * i, p, le));
  v.setFloat32(108, 352, le);
  v.setFloat32(112, o.slope ?? 0, le);
  v.setFloat32(116, o.inter ?? 0, le);
  const magic = o.magic ?? 'n+1\0';
  for (let i = 0; i < 4; i++) buf[344 + i] = magic.charCodeAt(i);
  values.forEach((x, i) => dt.set(v, 352 + i * bytes, x, le));
  return o.truncate ? buf.subarray(0, buf.length - o.truncate) : buf;
}

function nifti2(dims: number[], pix: number[], dt: Dt, values: number[], o: { le?: boolean; slope?: number; inter?: number } = {}): Uint8Array {
  const le = o.le ?? true;
  const bytes = dt.bits / 8;
  const off = 544;
  const buf = new Uint8Array(off + values.length * bytes);
  const v = new DataView(buf.buffer);
  v.setInt32(0, 540, le);
  const magic = 'n+2\0\r\n\x1a\n';
  for (let i = 0; i < 8; i++) buf[4 + i] = magic.charCodeAt(i);
  v.setInt16(12, dt.code, le);
  v.setInt16(14, dt.bits, le);
  [3, ...dims, 1, 1, 1, 1].forEach((d, i) => v.setBigInt64(16 + 8 * i, BigInt(d), le));
  [1, ...pix, 1, 1, 1, 1].forEach((p, i) => v.setFloat64(104 + 8 * i, p, le));
  v.setBigInt64(168, BigInt(off), le);
  v.setFloat64(176, o.slope ?? 0, le); // scl_slope (0: unset)
  v.setFloat64(184, o.inter ?? 0, le);
  values.forEach((x, i) => dt.set(v, off + i * bytes, x, le));
  return buf;
}

const valuesFor = (name: string, n: number): number[] => Array.from({ length: n }, (_, i) => {
  switch (name) {
    case 'uint8': return (i * 37) % 256;
    case 'int8': return ((i * 37) % 256) - 128;
    case 'int16': return i * 1021 - 12000;
    case 'uint16': return i * 2011;
    case 'int32': return i * 100_003 - 1_000_000;
    case 'uint32': return i * 150_000_001;
    case 'float32': return Math.fround(i * 0.37 - 2.5);
    // Beyond 32 bits, within the 2^53 that doubles hold exactly; the extremes included.
    case 'int64': return i === 0 ? -(2 ** 53 - 1) : i === 1 ? 2 ** 53 - 1 : i * 2 ** 40 - 2 ** 48 - 3;
    case 'uint64': return i === 0 ? 2 ** 53 - 1 : i * 2 ** 45 + 7;
    default: return i * 1e-7 - 3.25;
  }
});

function expectDiag(fn: () => unknown, code: string, mentions: string): void {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(DiagnosticError);
    const d = (e as DiagnosticError).diagnostics[0]!;
    expect(d.code).toBe(code);
    expect(d.message).toContain(mentions);
    return;
  }
  throw new Error(`expected ${code}`);
}

describe('NIfTI reading', () => {
  const dims = [3, 2, 4];
  const n = 24;
  for (const name of Object.keys(DT)) {
    for (const gz of [false, true]) {
      for (const le of [true, false]) {
        it(`NIfTI-1 ${name} ${gz ? '.nii.gz' : '.nii'} ${le ? 'little' : 'big'}-endian`, () => {
          const vals = valuesFor(name, n);
          const raw = nifti1(dims, [0.5, 0.75, 2.5], DT[name]!, vals, { le });
          const vol = decodeNifti(gz ? gzipSync(raw) : raw, 'x.nii');
          expect(vol.version).toBe(1);
          expect(vol.datatype).toBe(name);
          expect(vol.dims).toEqual([3, 2, 4]);
          expect(vol.pixdim).toEqual([0.5, 0.75, 2.5]);
          expect(Array.from(vol.data)).toEqual(vals);
          expect([vol.sclSlope, vol.sclInter]).toEqual([1, 0]); // slope 0 in the header = unscaled
        });
      }
    }
  }
  it('keeps a header scl_slope / scl_inter when set', () => {
    const vol = decodeNifti(nifti1([2, 1, 1], [1, 1, 1], DT.int16!, [1, 2], { slope: 2, inter: -1024 }), 'x.nii');
    expect([vol.sclSlope, vol.sclInter]).toEqual([2, -1024]);
  });
  for (const name of Object.keys(DT)) {
    for (const le of [true, false]) {
      it(`NIfTI-2 ${name} ${le ? 'little' : 'big'}-endian, .nii and .nii.gz`, () => {
        const vals = valuesFor(name, n);
        const raw = nifti2(dims, [0.7, 0.7, 1.5], DT[name]!, vals, { le });
        for (const bytes of [raw, gzipSync(raw)]) {
          const vol = decodeNifti(bytes, 'x.nii');
          expect(vol.version).toBe(2);
          expect(vol.datatype).toBe(name);
          expect(vol.dims).toEqual([3, 2, 4]);
          expect(vol.pixdim).toEqual([0.7, 0.7, 1.5]); // float64 pixdim: exact
          expect(Array.from(vol.data)).toEqual(vals);
          expect([vol.sclSlope, vol.sclInter]).toEqual([1, 0]);
        }
      });
    }
  }
  it('NIfTI-2 big-endian keeps a header scl_slope / scl_inter', () => {
    const vol = decodeNifti(nifti2([2, 1, 1], [1, 1, 1], DT.int16!, [1, 2], { le: false, slope: 0.5, inter: -1024.25 }), 'x.nii');
    expect([vol.sclSlope, vol.sclInter]).toEqual([0.5, -1024.25]);
  });
  for (const [name, bad] of [['int64', 2n ** 53n + 2n], ['int64', -(2n ** 62n)], ['uint64', 2n ** 64n - 1n]] as const) {
    it(`${name} voxel ${bad} (not exact as a double) is E5006 naming the voxel`, () => {
      for (const make of [nifti1, nifti2] as const) {
        const bytes = make([2, 2, 1], [1, 1, 1], DT[name]!, [0, 1, 2, 3]);
        const view = new DataView(bytes.buffer);
        const at = bytes.length - 8 * 2; // voxel 2
        if (name === 'int64') view.setBigInt64(at, bad, true); else view.setBigUint64(at, bad, true);
        expectDiag(() => decodeNifti(bytes, `big${make === nifti1 ? 1 : 2}.nii`), 'E5006', `voxel 2 holds ${bad}`);
      }
    });
  }
  it('round-trips what the synthetic generator writes', () => {
    const data = Int16Array.from({ length: 5 * 4 * 3 }, (_, i) => (i * 977) % 4000 - 1024);
    const bytes = gzipSync(encodeNifti1Int16({ dims: [5, 4, 3], pixdim: [6.5, 6.5, 8.25], data, description: 'test' }));
    const vol = decodeNifti(bytes, 'v.nii.gz');
    expect(vol.datatype).toBe('int16');
    expect(vol.dims).toEqual([5, 4, 3]);
    expect(vol.pixdim).toEqual([6.5, 6.5, 8.25]);
    expect([vol.sclSlope, vol.sclInter]).toEqual([1, 0]);
    expect(Array.from(vol.data)).toEqual(Array.from(data));
  });
});

describe('corrupt NIfTI', () => {
  const good = () => nifti1([2, 2, 2], [1, 1, 1], DT.int16!, [1, 2, 3, 4, 5, 6, 7, 8]);
  it('truncated gzip', () => {
    const gz = gzipSync(good());
    expectDiag(() => decodeNifti(gz.subarray(0, gz.length - 20), 'scan.nii.gz'), 'E5003', 'scan.nii.gz');
  });
  it('wrong magic', () => {
    expectDiag(() => decodeNifti(nifti1([2, 2, 2], [1, 1, 1], DT.int16!, [1, 2, 3, 4, 5, 6, 7, 8], { magic: 'abc\0' }), 'bad.nii'), 'E5002', 'bad.nii');
  });
  it('not NIfTI at all', () => {
    expectDiag(() => decodeNifti(new TextEncoder().encode('hello'), 'hello.nii'), 'E5002', 'hello.nii');
  });
  it('header promises more voxels than the file holds', () => {
    expectDiag(() => decodeNifti(nifti1([2, 2, 2], [1, 1, 1], DT.int16!, [1, 2, 3, 4, 5, 6, 7, 8], { truncate: 3 }), 'short.nii'), 'E5004', 'short.nii');
  });
  it('unsupported datatype', () => {
    const bytes = good();
    new DataView(bytes.buffer).setInt16(70, 32, true); // complex64
    new DataView(bytes.buffer).setInt16(72, 64, true);
    expectDiag(() => decodeNifti(bytes, 'complex.nii'), 'E5005', 'complex.nii');
  });
  it('a header declaring more than the machine holds is E5008 before anything is allocated', () => {
    // 30000^3 int16 voxels: 54 TB declared by a 352-byte file, gzipped or not.
    const huge = nifti1([30000, 30000, 30000], [1, 1, 1], DT.int16!, []);
    expectDiag(() => decodeNifti(huge, 'huge.nii'), 'E5008', 'huge.nii: its NIfTI header declares 30000x30000x30000 voxels of 16 bits');
    expectDiag(() => decodeNifti(gzipSync(huge), 'huge.nii.gz'), 'E5008', 'more than medctc holds in memory');
    expect(30000 ** 3 * 2).toBeGreaterThan(allocationLimitBytes());
  });
  it('gzip inflation is capped by the size the header declares (a gzip bomb is E5003)', () => {
    // A valid 2x2x2 int16 image (352 + 16 bytes) followed by 64 MiB of zeros inside the same stream.
    const bomb = gzipSync(Buffer.concat([good(), Buffer.alloc(64 << 20)]));
    expect(bomb.length).toBeLessThan(100_000);
    expectDiag(() => decodeNifti(bomb, 'bomb.nii.gz'), 'E5003', 'bomb.nii.gz inflates to more than the 368 bytes its NIfTI header declares');
    // The same image without the padding still reads.
    expect(Array.from(decodeNifti(gzipSync(good()), 'ok.nii.gz').data)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
  });
});

describe('non-finite and absurd values before any compute', () => {
  const pp = PRESETS.ct_clip_tiny.preprocess;
  const scaling = { slope: 1, intercept: -1024, spacingZXY: [1, 1, 1] as [number, number, number] };
  it('float32 voxels that are NaN or infinite are E5007 with their count and the first place', () => {
    const values = Array.from({ length: 24 }, (_, i) => i);
    values[5] = NaN; values[9] = NaN; values[20] = Infinity;
    const vol = decodeNifti(nifti1([2, 3, 4], [1, 1, 1], DT.float32!, values), 'nan.nii');
    // voxel 5 = (x, y, z) = (1, 2, 0) with x fastest over nx = 2, ny = 3.
    expectDiag(() => preprocessVolume(vol, scaling, pp, 'nan.nii'), 'E5007', 'nan.nii: 2 NaN and 1 infinite of 24 voxels are not finite after scaling (the first at voxel 5), i.e. (x, y, z) = (1, 2, 0)');
  });
  it('finite voxels that a metadata RescaleSlope overflows to infinity are E5007 too', () => {
    const vol = decodeNifti(nifti1([2, 2, 2], [1, 1, 1], DT.int16!, [0, 1, 2, 3, 4, 5, 6, 7]), 'big.nii');
    // 1e308 * v overflows for every v >= 2 (voxel 0 is 0, voxel 1 is 1e308 - 1024: finite).
    expectDiag(() => preprocessVolume(vol, { ...scaling, slope: 1e308 }, pp, 'big.nii'), 'E5007', '6 infinite of 8 voxels');
  });
  it('an absurd metadata spacing is E5008 before resampling allocates', () => {
    const vol = decodeNifti(nifti1([2, 2, 2], [1, 1, 1], DT.int16!, [0, 1, 2, 3, 4, 5, 6, 7]), 'sp.nii');
    expectDiag(() => preprocessVolume(vol, { ...scaling, spacingZXY: [1e7, 1e7, 1e7] }, pp, 'sp.nii'), 'E5008', 'sp.nii: resampling 2x2x2 voxels of spacing [10000000, 10000000, 10000000] mm');
    // A sane spacing of the same volume preprocesses.
    expect(preprocessVolume(vol, scaling, pp, 'sp.nii').length).toBe(pp.size[0] * pp.size[1] * pp.size[2]);
  });
});
