// A synthetic chest CT: anatomy with per-patient variation (anatomy.ts), then each present
// pathology painted where it belongs (lesions.ts), then the site's acquisition (noise, HU offset,
// field of view). HU references: air -1000, lung about -850, fat -100, soft tissue 40,
// blood 40 (170 with contrast), bone 300-700, metal clipped at 3071.
import { paintChest, type Anatomy, type Geometry } from './anatomy.js';
import type { Findings } from './findings.js';
import { paintLesions, type PhantomDetails } from './lesions.js';
import type { Rng } from './rng.js';
import type { Site } from './sites.js';

export type { Anatomy, Geometry } from './anatomy.js';
export type { PhantomDetails, Side } from './lesions.js';

/** `anatomy` and `aortaR` (mm, canvas coordinates) let tests look where a structure was drawn. */
export function renderPhantom(geom: Geometry, site: Site, f: Findings, patientRng: Rng, scanRng: Rng): { hu: Float32Array; details: PhantomDetails; anatomy: Anatomy; aortaR: number } {
  const chest = paintChest(geom, site, f, patientRng);
  const d = paintLesions(chest, f, patientRng);
  const c = chest.c;
  // Acquisition: calibration offset, noise, and the reconstruction circle.
  const fovR = Math.min(c.nx * c.sx, c.ny * c.sy) / 2;
  for (let k = 0; k < c.nz; k++) {
    for (let j = 0; j < c.ny; j++) {
      for (let i = 0; i < c.nx; i++) {
        const idx = c.index(i, j, k);
        c.hu[idx] = Math.hypot(c.x(i) + c.offset[0], c.y(j) + c.offset[1]) > fovR ? site.outsideFovHU : c.hu[idx]! + site.offsetHU + site.noiseHU * scanRng.normal();
      }
    }
  }
  return { hu: c.hu, details: d, anatomy: chest.A, aortaR: chest.aortaR };
}
