// CT-CLIP's preprocessing (scripts/data_inference_nii.py), step for step:
//   1. HU = metaSlope * v + metaIntercept, where v is the voxel after the header's own scl_slope/inter
//      (nibabel's get_fdata applies those first; CT-RATE v1 headers leave them unset); `preprocess
//      { hu }` picks either half alone (CT-RATE v2's headers already give HU) or neither;
//   2. clip to the HU window;
//   3. axis order: nibabel hands CT-CLIP the array as [x, y, z] and it calls transpose(2, 0, 1),
//      so the working array is (D, H, W) = (z, x, y): H runs along NIfTI x, W along NIfTI y.
//      We keep that convention so pretrained CT-CLIP weights see what they were trained on;
//   4. trilinear resample with torch F.interpolate(size=..., align_corners=False) semantics, where
//      size[a] = int(in[a] * (spacing[a] / target[a])) — truncation, as CT-CLIP's resize_array
//      (never below 1 voxel); spacing per axis of the working array, so (z, x, y);
//   5. divide by `scale`;
//   6. centre crop, start = max((in - out) // 2, 0), then pad with `padValue`,
//      before = (out - in) // 2 (the odd voxel goes after).
// Output: Float32Array of D*H*W values, row-major over (D, H, W).
import type { HuSource, Preprocess } from '../../compiler/ir/experiment.js';
import { DiagnosticError } from '../../base/diagnostics/types.js';
import { diag } from '../../base/diagnostics/catalog.js';
import type { NiftiVolume, VoxelArray } from './nifti.js';
import { allocationLimitBytes, describeNonFinite, gib, nonFinite } from '../util/finite.js';

export type Shape3 = [number, number, number];

/** Rescale, window and reorder (x fastest, [nx, ny, nz]) storage into a (z, x, y) Float32Array. */
export function toWindowedZXY(
  data: VoxelArray | Float32Array,
  dims: Shape3,
  scaling: { headerSlope: number; headerInter: number; slope: number; intercept: number },
  windowHU: [number, number],
): Float32Array {
  const [nx, ny, nz] = dims;
  const out = new Float32Array(nx * ny * nz);
  const [lo, hi] = windowHU;
  const a = scaling.slope * scaling.headerSlope;
  const b = scaling.slope * scaling.headerInter + scaling.intercept;
  for (let k = 0; k < nz; k++) {
    for (let j = 0; j < ny; j++) {
      const src = (k * ny + j) * nx;
      const dst = k * nx * ny + j;
      for (let i = 0; i < nx; i++) {
        const hu = a * data[src + i]! + b;
        out[dst + i * ny] = hu < lo ? lo : hu > hi ? hi : hu;
      }
    }
  }
  return out;
}

/** Output size per axis as CT-CLIP computes it: int(in * (spacing / target)), at least 1. */
export function resampledShape(shape: Shape3, spacing: Shape3, target: Shape3): Shape3 {
  return shape.map((n, a) => Math.max(1, Math.trunc(n * (spacing[a]! / target[a]!)))) as Shape3;
}

interface AxisTaps { i0: Int32Array; i1: Int32Array; w1: Float64Array }

/** torch's linear source index with align_corners=False: src = (dst + 0.5) * in/out - 0.5, clamped below at 0. */
function axisTaps(inSize: number, outSize: number): AxisTaps {
  const scale = inSize / outSize;
  const i0 = new Int32Array(outSize), i1 = new Int32Array(outSize), w1 = new Float64Array(outSize);
  for (let d = 0; d < outSize; d++) {
    const src = Math.max((d + 0.5) * scale - 0.5, 0);
    const lo = Math.min(Math.floor(src), inSize - 1);
    i0[d] = lo;
    i1[d] = lo < inSize - 1 ? lo + 1 : lo;
    w1[d] = src - lo;
  }
  return { i0, i1, w1 };
}

/** Trilinear resize of a (D, H, W) array, separable: W, then H, then D (linear interpolation on a
 *  tensor-product grid factorises exactly; only float rounding differs from a direct 8-tap sum). */
export function resizeTrilinear(src: Float32Array, shape: Shape3, out: Shape3): Float32Array {
  const [D, H, W] = shape;
  const [oD, oH, oW] = out;
  const tw = axisTaps(W, oW), th = axisTaps(H, oH), td = axisTaps(D, oD);
  const a = new Float32Array(D * H * oW);
  for (let r = 0; r < D * H; r++) {
    const s = r * W, t = r * oW;
    for (let x = 0; x < oW; x++) {
      const w = tw.w1[x]!;
      a[t + x] = (1 - w) * src[s + tw.i0[x]!]! + w * src[s + tw.i1[x]!]!;
    }
  }
  const b = new Float32Array(D * oH * oW);
  for (let z = 0; z < D; z++) {
    for (let y = 0; y < oH; y++) {
      const w = th.w1[y]!;
      const r0 = (z * H + th.i0[y]!) * oW, r1 = (z * H + th.i1[y]!) * oW, t = (z * oH + y) * oW;
      for (let x = 0; x < oW; x++) b[t + x] = (1 - w) * a[r0 + x]! + w * a[r1 + x]!;
    }
  }
  const plane = oH * oW;
  const c = new Float32Array(oD * plane);
  for (let z = 0; z < oD; z++) {
    const w = td.w1[z]!;
    const p0 = td.i0[z]! * plane, p1 = td.i1[z]! * plane, t = z * plane;
    for (let p = 0; p < plane; p++) c[t + p] = (1 - w) * b[p0 + p]! + w * b[p1 + p]!;
  }
  return c;
}

/** CT-CLIP's centre crop then pad, per axis: crop start max((in-out)//2, 0); pad before (out-kept)//2. */
export function cropOrPad(src: Float32Array, shape: Shape3, out: Shape3, padValue: number): Float32Array {
  const res = new Float32Array(out[0] * out[1] * out[2]).fill(padValue);
  const cropStart = shape.map((n, a) => Math.max(Math.floor((n - out[a]!) / 2), 0));
  const kept = shape.map((n, a) => Math.min(n - cropStart[a]!, out[a]!));
  const padBefore = kept.map((k, a) => Math.floor((out[a]! - k) / 2));
  for (let z = 0; z < kept[0]!; z++) {
    for (let y = 0; y < kept[1]!; y++) {
      const s = ((z + cropStart[0]!) * shape[1] + y + cropStart[1]!) * shape[2] + cropStart[2]!;
      const t = ((z + padBefore[0]!) * out[1] + y + padBefore[1]!) * out[2] + padBefore[2]!;
      res.set(src.subarray(s, s + kept[2]!), t);
    }
  }
  return res;
}

export interface VolumeScaling {
  /** CT-RATE metadata RescaleSlope / RescaleIntercept. */
  slope: number;
  intercept: number;
  /** Voxel spacing in mm of the (z, x, y) working axes. */
  spacingZXY: Shape3;
}

export function validatePreprocess(pp: Preprocess, where: string): void {
  const bad = (what: string): never => {
    throw new DiagnosticError(diag('E5020', `preprocessing: ${what}`, { file: where, start: 0, end: 0 }));
  };
  if (!(pp.windowHU[0] < pp.windowHU[1])) bad(`HU window [${pp.windowHU.join(', ')}] is empty`);
  if (!pp.spacingMm.every((s) => Number.isFinite(s) && s > 0)) bad(`target spacing [${pp.spacingMm.join(', ')}] must be positive`);
  if (!pp.size.every((s) => Number.isInteger(s) && s > 0)) bad(`size [${pp.size.join(', ')}] must be positive integers`);
  if (!(Number.isFinite(pp.scale) && pp.scale !== 0)) bad(`scale ${pp.scale} must be a non-zero number`);
  if (!Number.isFinite(pp.padValue)) bad(`pad value ${pp.padValue} must be finite`);
}

/** The affine map stored value -> HU that `hu` selects (compiler/ir/experiment.ts HU_SOURCES). The
 *  default keeps the expression CT-CLIP's scripts compute, so its values are bit for bit as before. */
export function huScaling(vol: Pick<NiftiVolume, 'sclSlope' | 'sclInter'>, scaling: Pick<VolumeScaling, 'slope' | 'intercept'>, hu: HuSource = 'header_and_metadata'):
  { headerSlope: number; headerInter: number; slope: number; intercept: number } {
  const header = hu === 'header_and_metadata' || hu === 'header', meta = hu === 'header_and_metadata' || hu === 'metadata';
  return {
    headerSlope: header ? vol.sclSlope : 1, headerInter: header ? vol.sclInter : 0,
    slope: meta ? scaling.slope : 1, intercept: meta ? scaling.intercept : 0,
  };
}

/** The whole CT-CLIP pipeline on a decoded volume; `file` names it in diagnostics. Voxels that are
 *  not finite after scaling (E5007) and a resampled size no machine holds (E5008) are refused
 *  before anything is computed. */
export function preprocessVolume(vol: NiftiVolume, scaling: VolumeScaling, pp: Preprocess, file = 'volume'): Float32Array {
  const [nx, ny, nz] = vol.dims;
  const zxy: Shape3 = [nz, nx, ny];
  const fail = (code: 'E5007' | 'E5008', message: string, help: string): never => {
    throw new DiagnosticError(diag(code, message, { file, start: 0, end: 0 }, { help }));
  };
  // As toWindowedZXY scales: HU = slope·(headerSlope·v + headerInter) + intercept.
  const hu = huScaling(vol, scaling, pp.hu);
  const a = hu.slope * hu.headerSlope, b = hu.slope * hu.headerInter + hu.intercept;
  const bad = nonFinite(vol.data, a, b);
  if (bad) {
    const i = bad.first, x = i % nx, y = Math.floor(i / nx) % ny, z = Math.floor(i / (nx * ny));
    fail('E5007', `${file}: ${describeNonFinite(bad, vol.data.length, 'voxels are not finite after scaling', 'voxel')}, i.e. (x, y, z) = (${x}, ${y}, ${z}); stored ${vol.data[i]}, scaled by ${a} and offset by ${b} (preprocess.hu ${pp.hu ?? 'header_and_metadata'}: header scl_slope ${vol.sclSlope} / scl_inter ${vol.sclInter}, metadata RescaleSlope ${scaling.slope} / RescaleIntercept ${scaling.intercept})`,
      'a corrupt or float volume with NaN/Inf voxels, or a RescaleSlope/RescaleIntercept that overflows; fix or drop the volume');
  }
  const size = resampledShape(zxy, scaling.spacingZXY, pp.spacingMm);
  // The resize's three passes are alive at once beside the windowed input (f32 each).
  const [D, H, W] = zxy, [oD, oH, oW] = size;
  const bytes = 4 * (D * H * W + D * H * oW + D * oH * oW + oD * oH * oW);
  if (!(bytes <= allocationLimitBytes())) {
    fail('E5008', `${file}: resampling ${D}x${H}x${W} voxels of spacing [${scaling.spacingZXY.join(', ')}] mm (z, x, y) to [${pp.spacingMm.join(', ')}] mm gives ${oD}x${oH}x${oW} voxels, ${gib(bytes)} to compute, more than medctc holds in memory (${gib(allocationLimitBytes())})`,
      'check the volume\'s ZSpacing/XYSpacing in the metadata CSV, or preprocess.spacing');
  }
  const windowed = toWindowedZXY(vol.data, vol.dims, hu, pp.windowHU);
  const resized = size.every((n, a) => n === zxy[a]) ? windowed : resizeTrilinear(windowed, zxy, size);
  // Dividing (not multiplying by 1/scale) keeps values bit-identical to numpy's img / 1000.
  for (let i = 0; i < resized.length; i++) resized[i] = resized[i]! / pp.scale;
  return cropOrPad(resized, size, pp.size, pp.padValue);
}

/** The 16-bit grid that real (CT-RATE) volumes end on: 65,536 evenly spaced values from the lowest
 *  to the highest value preprocessing can produce (the scaled window's ends and the pad value).
 *  value(code) = offset + code * step for code in [-32768, 32767]. */
export interface QuantGrid { offset: number; step: number }

export function quantizationGrid(pp: Preprocess): QuantGrid {
  const ends = [pp.windowHU[0] / pp.scale, pp.windowHU[1] / pp.scale, pp.padValue];
  const lo = Math.min(...ends), hi = Math.max(...ends);
  const step = (hi - lo) / 65535;
  return { offset: lo + 32768 * step, step };
}

/** The largest |quantize(v) - v| for v in the grid's range: half a step, plus the float32 rounding
 *  of the grid value (2^-24 relative; bounded here by 2^-23 of the range's largest magnitude). */
export function quantizationBound(g: QuantGrid): number {
  const m = Math.max(Math.abs(g.offset - 32768 * g.step), Math.abs(g.offset + 32767 * g.step));
  return g.step / 2 + m * 2 ** -23;
}

/** Rounds every value (in place) to the nearest grid value, clamped to the grid's range; NaN stays NaN. */
export function quantize(data: Float32Array, g: QuantGrid): Float32Array {
  const { offset, step } = g;
  for (let i = 0; i < data.length; i++) {
    const c = Math.round((data[i]! - offset) / step);
    data[i] = offset + (c < -32768 ? -32768 : c > 32767 ? 32767 : c) * step;
  }
  return data;
}
