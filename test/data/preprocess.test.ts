import { describe, expect, it } from 'vitest';
import { cropOrPad, preprocessVolume, resampledShape, resizeTrilinear, toWindowedZXY, validatePreprocess } from '../../runtime/data/preprocess.js';
import type { NiftiVolume } from '../../runtime/data/nifti.js';
import type { Preprocess } from '../../compiler/ir/experiment.js';
import { DiagnosticError } from '../../base/diagnostics/types.js';

const close = (a: ArrayLike<number>, b: number[], eps = 1e-5) => {
  expect(a.length).toBe(b.length);
  b.forEach((v, i) => expect(Math.abs(a[i]! - v)).toBeLessThan(eps));
};

describe('HU scaling and window', () => {
  it('applies header scaling, then metadata slope/intercept, then clips', () => {
    // 1x1x5 volume; header: v = 2*raw + 1; metadata: HU = 1*v - 1024.
    const out = toWindowedZXY(Int16Array.from([0, 100, 500, 1600, -100]), [5, 1, 1],
      { headerSlope: 2, headerInter: 1, slope: 1, intercept: -1024 }, [-1000, 1000]);
    // v = 2*raw + 1 = [1, 201, 1001, 3201, -199]; HU = v - 1024 = [-1023, -823, -23, 2177, -1223]; clipped:
    close(out, [-1000, -823, -23, 1000, -1000]);
  });
  it('reorders NIfTI (x fastest) storage into (z, x, y) like CT-CLIP transpose(2, 0, 1)', () => {
    const [nx, ny, nz] = [2, 3, 4];
    const raw = Int16Array.from({ length: nx * ny * nz }, (_, n) => n); // value = (k*ny + j)*nx + i
    const out = toWindowedZXY(raw, [nx, ny, nz], { headerSlope: 1, headerInter: 0, slope: 1, intercept: 0 }, [-1e9, 1e9]);
    for (let k = 0; k < nz; k++) for (let i = 0; i < nx; i++) for (let j = 0; j < ny; j++) {
      expect(out[(k * nx + i) * ny + j]).toBe((k * ny + j) * nx + i);
    }
  });
});

describe('output size', () => {
  it('truncates like CT-CLIP resize_array: int(n * (spacing / target))', () => {
    expect(resampledShape([40, 48, 48], [7.75, 7, 7], [10, 10, 10])).toEqual([31, 33, 33]);
    expect(resampledShape([303, 512, 512], [1.25, 0.6, 0.6], [1.5, 0.75, 0.75])).toEqual([252, 409, 409]);
    expect(resampledShape([3, 3, 3], [1, 1, 1], [10, 10, 10])).toEqual([1, 1, 1]); // never 0
  });
});

describe('trilinear resize (torch align_corners=False)', () => {
  it('2x2x2 -> 3x3x3 of a linear field: samples at source coords 0, 0.5, 1 per axis', () => {
    const src = Float32Array.from({ length: 8 }, (_, n) => { const z = n >> 2, y = (n >> 1) & 1, x = n & 1; return 100 * z + 10 * y + x; });
    const out = resizeTrilinear(src, [2, 2, 2], [3, 3, 3]);
    const c = [0, 0.5, 1];
    const expected: number[] = [];
    for (const z of c) for (const y of c) for (const x of c) expected.push(100 * z + 10 * y + x);
    close(out, expected);
  });
  it('upsampling 2 -> 4 along W: [a, 3a/4 + b/4, a/4 + 3b/4, b] (edges clamp)', () => {
    const out = resizeTrilinear(Float32Array.from([8, 16, 0, 4]), [1, 2, 2], [1, 2, 4]);
    close(out, [8, 10, 14, 16, 0, 1, 3, 4]);
  });
  it('downsampling 4 -> 2 along D averages pairs (src = 0.5, 2.5)', () => {
    const out = resizeTrilinear(Float32Array.from([1, 3, 10, 30]), [4, 1, 1], [2, 1, 1]);
    close(out, [2, 20]);
  });
  it('3 -> 2 along H: src = 0.25 and 1.75', () => {
    const out = resizeTrilinear(Float32Array.from([0, 4, 8]), [1, 3, 1], [1, 2, 1]);
    close(out, [1, 7]);
  });
  it('same size is the identity', () => {
    const src = Float32Array.from({ length: 24 }, (_, i) => i * i);
    close(resizeTrilinear(src, [2, 3, 4], [2, 3, 4]), Array.from(src));
  });
});

describe('centre crop / pad', () => {
  it('crop 5 -> 2 starts at (5-2)//2 = 1', () => {
    close(cropOrPad(Float32Array.from([0, 1, 2, 3, 4]), [1, 1, 5], [1, 1, 2], -1), [1, 2]);
  });
  it('crop 6 -> 3 starts at 1', () => {
    close(cropOrPad(Float32Array.from([0, 1, 2, 3, 4, 5]), [6, 1, 1], [3, 1, 1], -1), [1, 2, 3]);
  });
  it('pad 3 -> 6: one before, two after (the odd voxel goes after)', () => {
    close(cropOrPad(Float32Array.from([7, 8, 9]), [1, 3, 1], [1, 6, 1], -1), [-1, 7, 8, 9, -1, -1]);
  });
  it('crop on one axis while padding another', () => {
    // (D, H, W) = (1, 2, 3) -> (1, 3, 1): H padded 2 -> 3 (0 before), W cropped 3 -> 1 (start 1)
    const src = Float32Array.from([1, 2, 3, 4, 5, 6]);
    close(cropOrPad(src, [1, 2, 3], [1, 3, 1], -1), [2, 5, -1]);
  });
});

describe('the whole pipeline', () => {
  const pp: Preprocess = { windowHU: [-1000, 1000], spacingMm: [2, 1, 1], size: [2, 2, 2], scale: 1000, padValue: -1 };
  it('metadata scaling, window, resample, scale, crop/pad, on a tiny volume', () => {
    // nx=2, ny=2, nz=2 stored values; z spacing 1 mm -> target 2 mm: D 2 -> int(2*0.5)=1 (src 0.5, the mean of both slices).
    const raw = Int16Array.from([24, 1024, 2024, 3024, 1024, 1024, 1024, 4000]);
    const vol: NiftiVolume = { version: 1, dims: [2, 2, 2], pixdim: [1, 1, 1], datatype: 'int16', sclSlope: 1, sclInter: 0, data: raw };
    const out = preprocessVolume(vol, { slope: 1, intercept: -1024, spacingZXY: [1, 1, 1] }, pp);
    // HU (clipped): z0: [-1000, 0, 1000, 1000] (i fastest, then j); z1: [0, 0, 0, 1000]
    // mean over z, laid out (x, y): (i0,j0)=-500, (i0,j1)=500, (i1,j0)=0, (i1,j1)=1000; /1000; D padded 1 -> 2 (after).
    close(out, [-0.5, 0.5, 0, 1, -1, -1, -1, -1]);
  });
  it('rejects settings that cannot work', () => {
    expect(() => validatePreprocess({ ...pp, windowHU: [5, 5] }, 'spec')).toThrow(DiagnosticError);
    expect(() => validatePreprocess({ ...pp, spacingMm: [0, 1, 1] }, 'spec')).toThrow(DiagnosticError);
    expect(() => validatePreprocess({ ...pp, size: [2, 2.5, 2] }, 'spec')).toThrow(DiagnosticError);
  });
});
