// A PNG contact sheet of a few volumes: axial, coronal and sagittal mid-slices at true physical
// aspect (nearest neighbour, window [-1000, 300] HU), with the volume name and its present
// labels written beside them, so a person can check that the data looks like a chest CT.
import type { NiftiVolume } from '../nifti.js';
import { encodePng } from '../../io/png.js';
import { ADVANCE, drawText } from './font.js';

export interface PreviewVolume {
  name: string;
  volume: NiftiVolume;
  /** HU = slope * stored + intercept (after the header's own scaling). */
  slope: number;
  intercept: number;
  /** mm per voxel along NIfTI x, y, z. */
  spacing: [number, number, number];
  labels: string[];
}

const MM_PER_PX = 1.5;
const LO = -1000, HI = 300;
const TEXT_W = 250, GAP = 6;

export function renderPreview(vols: PreviewVolume[]): Uint8Array {
  const panels = vols.map((v) => {
    const [nx, ny, nz] = v.volume.dims;
    const [sx, sy, sz] = v.spacing;
    const a = v.volume.sclSlope * v.slope, b = v.volume.sclInter * v.slope + v.intercept;
    const hu = (i: number, j: number, k: number) => a * v.volume.data[(k * ny + j) * nx + i]! + b;
    const px = (mm: number) => Math.max(1, Math.round(mm / MM_PER_PX));
    const k0 = Math.round(nz * 0.45), j0 = Math.floor(ny / 2), i0 = Math.round(nx * 0.32);
    // Each panel: width, height, and the HU at pixel (u, v).
    return [
      { w: px(nx * sx), h: px(ny * sy), at: (u: number, w: number) => hu(Math.min(nx - 1, Math.floor(u * MM_PER_PX / sx)), Math.min(ny - 1, Math.floor(w * MM_PER_PX / sy)), k0) },
      { w: px(nx * sx), h: px(nz * sz), at: (u: number, w: number) => hu(Math.min(nx - 1, Math.floor(u * MM_PER_PX / sx)), j0, nz - 1 - Math.min(nz - 1, Math.floor(w * MM_PER_PX / sz))) },
      { w: px(ny * sy), h: px(nz * sz), at: (u: number, w: number) => hu(i0, Math.min(ny - 1, Math.floor(u * MM_PER_PX / sy)), nz - 1 - Math.min(nz - 1, Math.floor(w * MM_PER_PX / sz))) },
    ];
  });
  const rowH = panels.map((p) => Math.max(...p.map((q) => q.h), 12 * (vols.length ? 1 : 0)));
  const width = Math.max(...panels.map((p) => p.reduce((s, q) => s + q.w + GAP, GAP))) + TEXT_W;
  const height = rowH.reduce((s, h) => s + h + GAP, GAP);
  const img = new Uint8Array(width * height * 3);
  let y0 = GAP;
  vols.forEach((v, r) => {
    let x0 = GAP;
    for (const p of panels[r]!) {
      for (let w = 0; w < p.h; w++) {
        for (let u = 0; u < p.w; u++) {
          const t = Math.max(0, Math.min(1, (p.at(u, w) - LO) / (HI - LO)));
          const g = Math.round(t * 255);
          img.set([g, g, g], ((y0 + w) * width + x0 + u) * 3);
        }
      }
      x0 += p.w + GAP;
    }
    drawText(img, width, height, x0 + 4, y0 + 2, v.name.replace(/\.nii(\.gz)?$/, ''), [255, 220, 90]);
    const lines = v.labels.length ? v.labels : ['no findings'];
    const maxChars = Math.floor((TEXT_W - 8) / ADVANCE);
    lines.forEach((l, i) => drawText(img, width, height, x0 + 4, y0 + 14 + 10 * i, l.slice(0, maxChars), [120, 220, 255]));
    y0 += rowH[r]! + GAP;
  });
  return encodePng(width, height, img, 3);
}
