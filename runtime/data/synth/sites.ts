// Acquisition sites of the synthetic generator. A site fixes how a scanner images the same
// anatomy, so training on one site and evaluating on another is a controlled domain shift.
//
// | site   | noise σ (HU) | blood pool (HU)         | HU offset | in-plane FOV (mm) | z coverage (mm) | patient offset (mm) | outside FOV (HU) |
// |--------|--------------|-------------------------|-----------|-------------------|-----------------|---------------------|------------------|
// | source | 10           | 40 (no contrast)        | 0         | 320 - 355         | 290 - 340       | (0, 0)              | -2048            |
// | target | 40           | 170 (contrast-enhanced) | +25       | 365 - 410         | 235 - 275       | (0, +20) (lower table) | -1024         |
//
// Voxel spacing = FOV / voxels along the axis, so it varies per volume and with --shape, and
// every volume needs resampling. Both sites store int16 with RescaleSlope 1 / RescaleIntercept -1024.

export interface Site {
  name: string;
  noiseHU: number;
  bloodHU: number;
  offsetHU: number;
  fovXYmm: [number, number];
  coverageZmm: [number, number];
  outsideFovHU: number;
  /** Patient centre relative to the volume centre (x, y mm); +y = lower in the image (table height). */
  patientOffsetMm: [number, number];
}

export const SITES: Record<string, Site> = {
  source: { name: 'source', noiseHU: 10, bloodHU: 40, offsetHU: 0, fovXYmm: [320, 355], coverageZmm: [290, 340], outsideFovHU: -2048, patientOffsetMm: [0, 0] },
  target: { name: 'target', noiseHU: 40, bloodHU: 170, offsetHU: 25, fovXYmm: [365, 410], coverageZmm: [235, 275], outsideFovHU: -1024, patientOffsetMm: [0, 20] },
};

export const RESCALE_SLOPE = 1;
export const RESCALE_INTERCEPT = -1024;
