// Acquisition sites of the synthetic generator. A site fixes how a scanner images the same
// anatomy, so training on one site and evaluating on another is a controlled domain shift.
//
// | site   | noise σ (HU) | blood pool (HU)        | HU offset | in-plane FOV (mm) | z coverage (mm) | outside FOV (HU) |
// |--------|--------------|------------------------|-----------|-------------------|-----------------|------------------|
// | source | 10           | 40 (no contrast)       | 0         | 320 - 355         | 290 - 340       | -2048            |
// | target | 28           | 170 (contrast-enhanced)| +15       | 365 - 410         | 235 - 275       | -1024            |
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
}

export const SITES: Record<string, Site> = {
  source: { name: 'source', noiseHU: 10, bloodHU: 40, offsetHU: 0, fovXYmm: [320, 355], coverageZmm: [290, 340], outsideFovHU: -2048 },
  target: { name: 'target', noiseHU: 28, bloodHU: 170, offsetHU: 15, fovXYmm: [365, 410], coverageZmm: [235, 275], outsideFovHU: -1024 },
};

export const RESCALE_SLOPE = 1;
export const RESCALE_INTERCEPT = -1024;
