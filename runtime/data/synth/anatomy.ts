// Normal chest anatomy with per-patient variation, painted in HU. Pathologies that change a
// normal structure rather than add a lesion (cardiomegaly, pericardial effusion, mosaic
// attenuation, bronchiectasis, peribronchial thickening) are drawn with that structure.
// Coordinates as in canvas.ts: mm from the volume centre, +X patient left, +Y posterior, +Z superior.
import { Canvas, type Vec3 } from './canvas.js';
import type { Findings } from './findings.js';
import { hash3 } from './noise.js';
import type { Rng } from './rng.js';
import type { Site } from './sites.js';

export interface Geometry { nx: number; ny: number; nz: number; sx: number; sy: number; sz: number }

export const LUNG_RIGHT = 1, LUNG_LEFT = 2;

/** Patient anatomy, fixed per patient (all reconstructions of a scan share it). */
export interface Anatomy {
  a: number; b: number; cy: number; fat: number;
  aIn: number; bIn: number;
  lungTop: number; lungBase: number; medHalf: number;
  heart: Vec3; heartR: Vec3;
  spineY: number; tracheaY: number; carinaZ: number;
  aortaPath: Vec3[];
  ribPhase: number;
}

function planAnatomy(rng: Rng, f: Findings): Anatomy {
  const a = rng.uniform(135, 162), b = rng.uniform(95, 118);
  const fat = rng.uniform(8, 24);
  const aIn = a - fat - 18, bIn = b - fat - 16;
  const lungTop = rng.uniform(115, 140), lungBase = rng.uniform(-125, -95);
  const hs = f['Cardiomegaly'] ? rng.uniform(1.32, 1.5) : rng.uniform(0.9, 1.04);
  const heartR: Vec3 = [46 * hs, 38 * hs, 44 * hs];
  const heart: Vec3 = [0.2 * aIn, -0.3 * bIn + 0.25 * (heartR[1] - 38), lungBase + 48 + 0.4 * (heartR[2] - 44)];
  const spineY = b - fat - 38;
  const tracheaY = spineY - 52;
  const carinaZ = heart[2] + heartR[2] + rng.uniform(5, 20);
  const archZ = Math.min(lungTop - 30, carinaZ + 45);
  // Aorta: ascending (right of midline, anterior), arch over the left main bronchus, descending
  // left of the spine.
  const ascY = tracheaY - 30, descX = 30, descY = spineY - 18;
  const aortaPath: Vec3[] = [[-18, ascY, heart[2] + heartR[2] * 0.5]];
  for (let t = 0; t <= 1.0001; t += 0.25) aortaPath.push([-18 + (descX + 18) * t, ascY + (descY - ascY) * t, archZ + 14 * Math.sin(Math.PI * t)]);
  aortaPath.push([descX, descY, lungBase - 25]);
  return { a, b, cy: rng.uniform(-6, 8), fat, aIn, bIn, lungTop, lungBase, medHalf: rng.uniform(22, 30),
    heart, heartR, spineY, tracheaY, carinaZ, aortaPath, ribPhase: rng.uniform(0, 28) };
}

/** A painted chest and what lesion painting needs to find its way around it. */
export interface Chest {
  c: Canvas;
  A: Anatomy;
  aortaR: number;
  inLung: (idx: number) => boolean;
  inSide: (id: number) => (idx: number) => boolean;
  /** A random point inside a lung (0 = either), optionally constrained; null if none found. */
  lungPoint: (side: number, ok?: (x: number, y: number, z: number, rho: number) => boolean) => Vec3 | null;
  /** "right upper lobe" and so on, for a point in a lung. */
  lobeOf: (p: Vec3) => string;
}

export function paintChest(geom: Geometry, site: Site, f: Findings, rng: Rng): Chest {
  const A = planAnatomy(rng, f);
  const c = new Canvas(geom.nx, geom.ny, geom.nz, geom.sx, geom.sy, geom.sz, -1000, site.patientOffsetMm);
  const big = 1e4;
  const blood = site.bloodHU;

  // Body wall: skin/muscle shell, subcutaneous fat, chest wall muscle, then the thoracic cavity.
  const ellipseCyl = (ea: number, eb: number) => (x: number, y: number) => (Math.hypot(x / ea, (y - A.cy) / eb) - 1) * Math.min(ea, eb);
  const layer = (ea: number, eb: number, hu: number) => {
    const e = ellipseCyl(ea, eb);
    c.paint([-ea, A.cy - eb, -big], [ea, A.cy + eb, big], (x, y) => e(x, y), hu);
  };
  layer(A.a, A.b, 40);
  layer(A.a - 3, A.b - 3, -100);
  layer(A.a - 3 - A.fat, A.b - 3 - A.fat, 45);
  layer(A.aIn, A.bIn, 35);
  // The scanner table under the patient.
  c.paint([-170, A.cy + A.b + 10, -big], [170, A.cy + A.b + 16, big], (x, y) => Math.abs(y - (A.cy + A.b + 13)) - 3, 120);

  // Upper abdomen below the diaphragm: liver on the right, stomach with a gas cap on the left.
  c.ellipsoid([-0.35 * A.aIn, A.cy, A.lungBase - 45], [0.62 * A.aIn, 0.82 * A.bIn, 95], 58);
  c.ellipsoid([0.42 * A.aIn, A.cy - 0.25 * A.bIn, A.lungBase - 35], [42, 38, 38], 30);
  c.ellipsoid([0.42 * A.aIn, A.cy - 0.4 * A.bIn, A.lungBase - 22], [22, 14, 12], -1000);

  // Mediastinal fat around the great vessels.
  c.ellipsoid([0, A.cy - 0.12 * A.bIn, A.carinaZ - 10], [0.22 * A.aIn, 0.6 * A.bIn, 120], -95);

  // Lungs: an ellipse per side, tapering to the apex, cut below by a domed diaphragm (the right
  // higher, over the liver) and medially by the mediastinum. Denser posteriorly (gravity).
  const lungEllipse = (side: number) => ({
    xc: side * 0.5 * A.aIn, yc: A.cy - 0.04 * A.bIn, rx: 0.47 * A.aIn, ry: 0.86 * A.bIn,
    base: A.lungBase + (side < 0 ? 15 : 0),
  });
  for (const side of [-1, 1]) {
    const L = lungEllipse(side);
    const id = side < 0 ? LUNG_RIGHT : LUNG_LEFT;
    const lungSdf = (x: number, y: number, z: number): number => {
      const w = apexWidth((A.lungTop - z) / (A.lungTop - L.base));
      const q = Math.hypot((x - L.xc) / (L.rx * w), (y - L.yc) / (L.ry * w));
      const dia = L.base + 28 * Math.max(0, 1 - q * q);
      return Math.max((q - 1) * L.rx * w, dia - z, z - A.lungTop, A.medHalf - side * x);
    };
    c.paint([L.xc - L.rx, L.yc - L.ry, L.base - 5], [L.xc + L.rx, L.yc + L.ry, A.lungTop],
      lungSdf, (_x, y) => -865 + 35 * (y - L.yc) / L.ry, { lung: id, lungMinCoverage: 0.01 });
    c.forLung(id, (idx, x, y, z) => {
      const w = apexWidth((A.lungTop - z) / (A.lungTop - L.base));
      c.lungRho[idx] = Math.hypot((x - L.xc) / (L.rx * w), (y - L.yc) / (L.ry * w));
    });
  }
  const inLung = (idx: number) => c.lung[idx] !== 0;
  const inSide = (id: number) => (idx: number) => c.lung[idx] === id;

  // A point inside a lung (rejection sampling over voxels), optionally constrained.
  const lungPoint = (side: number, ok: (x: number, y: number, z: number, rho: number) => boolean = () => true): Vec3 | null => {
    for (let tries = 0; tries < 4000; tries++) {
      const i = rng.int(0, c.nx - 1), j = rng.int(0, c.ny - 1), k = rng.int(0, c.nz - 1);
      const idx = c.index(i, j, k);
      const l = c.lung[idx]!;
      if (l !== 0 && (side === 0 || l === side) && ok(c.x(i), c.y(j), c.z(k), c.lungRho[idx]!)) {
        return [c.x(i) + rng.uniform(-0.5, 0.5) * c.sx, c.y(j) + rng.uniform(-0.5, 0.5) * c.sy, c.z(k) + rng.uniform(-0.5, 0.5) * c.sz];
      }
    }
    return null;
  };
  const lobeOf = (p: Vec3): string => {
    const mid = (A.lungTop + A.lungBase) / 2;
    const sideName = p[0] < 0 ? 'right' : 'left';
    if (p[2] > mid + 10) return `${sideName} upper lobe`;
    if (sideName === 'right' && p[2] > mid - 25 && p[1] < A.cy) return 'right middle lobe';
    return `${sideName} lower lobe`;
  };

  // Mosaic attenuation: lobular patches of alternating density (air trapping next to normal lung).
  if (f['Mosaic attenuation pattern']) {
    const cell = rng.uniform(22, 32), off = [rng.uniform(0, 50), rng.uniform(0, 50), rng.uniform(0, 50)];
    c.forLung(0, (idx, x, y, z) => {
      const h = hash3(Math.floor((x + off[0]!) / cell), Math.floor((y + off[1]!) / cell), Math.floor((z + off[2]!) / cell));
      c.hu[idx] = (h & 1) ? -950 : -745;
    });
  }

  // Airways and vessels: a small tree per lung from the hilum towards the periphery.
  const trachea: [Vec3, Vec3] = [[0, A.tracheaY, A.lungTop + 40], [0, A.tracheaY, A.carinaZ]];
  const bronchiectasis = f['Bronchiectasis'], thickWalls = f['Peribronchial thickening'];
  for (const side of [-1, 1]) {
    const id = side < 0 ? LUNG_RIGHT : LUNG_LEFT;
    const hilum: Vec3 = [side * (A.medHalf + 12), A.tracheaY + 12, A.carinaZ - 22];
    c.capsule(trachea[1], hilum, 8.5, -30);
    c.capsule(trachea[1], hilum, 6.5, -1000);
    const grow = (from: Vec3, gen: number, lumen: number) => {
      const n = gen === 0 ? 3 : 2;
      for (let b = 0; b < n; b++) {
        const to = lungPoint(id, (x, _y, z) => Math.abs(x - from[0]) < 80 && Math.abs(z - from[2]) < 90 + 30 * gen);
        if (!to) continue;
        const frac = gen === 2 ? 1 : 0.55;
        const end: Vec3 = [from[0] + (to[0] - from[0]) * frac, from[1] + (to[1] - from[1]) * frac, from[2] + (to[2] - from[2]) * frac];
        const lower = end[2] < (A.lungTop + A.lungBase) / 2;
        const dilated = bronchiectasis && lower && gen >= 1;
        const lum = dilated ? rng.uniform(4.5, 7) : lumen;
        const wall = thickWalls ? rng.uniform(3.2, 4.5) : dilated ? 1.8 : 1.1;
        const vessel: Vec3 = [end[0] + 6, end[1] + 4, end[2]];
        c.capsule([from[0] + 5, from[1] + 4, from[2]], vessel, lumen * 1.1, blood, { mask: inSide(id) });
        c.capsule(from, end, lum + wall, thickWalls ? 15 : -40, { mask: inSide(id), blend: 'max' });
        c.capsule(from, end, lum, -1000, { mask: inSide(id) });
        if (gen < 2) grow(end, gen + 1, lumen * 0.7);
      }
    };
    grow(hilum, 0, 5);
  }
  c.capsule(trachea[0], trachea[1], 10.5, 20, { lung: 0 });
  c.capsule(trachea[0], trachea[1], 8.5, -1000);
  // Oesophagus between trachea and spine.
  c.capsule([6, A.spineY - 28, A.lungTop + 40], [14, A.spineY - 30, A.lungBase - 10], 7.5, 38, { lung: 0 });

  // Heart inside its pericardial fat; pericardial effusion replaces the fat with a fluid rim.
  const H = A.heart, R = A.heartR;
  const rim = f['Pericardial effusion'] ? rng.uniform(9, 17) : 4;
  c.ellipsoid(H, [R[0] + rim, R[1] + rim, R[2] + rim], f['Pericardial effusion'] ? 12 : -90, { lung: 0 });
  // Myocardium around the blood-filled chambers (they separate only with contrast).
  c.ellipsoid(H, R, site.bloodHU > 100 ? 105 : 42, { lung: 0 });
  c.ellipsoid([H[0] - 0.1 * R[0], H[1] + 0.05 * R[1], H[2]], [R[0] * 0.72, R[1] * 0.7, R[2] * 0.72], blood);
  // Pulmonary trunk to the left hilum; aorta: ascending, arch, descending beside the spine.
  c.capsule([H[0] + 5, H[1] - 10, H[2] + R[2] * 0.6], [A.medHalf + 8, A.tracheaY + 6, A.carinaZ - 18], 12, blood, { lung: 0 });
  const aortaR = rng.uniform(12, 15);
  for (let s = 0; s + 1 < A.aortaPath.length; s++) c.capsule(A.aortaPath[s]!, A.aortaPath[s + 1]!, aortaR, blood, { lung: 0 });

  // Spine: vertebral body (cortex, then cancellous bone), canal, spinous process; ribs; sternum.
  const vz: [number, number] = [-big, big];
  c.paint([-22, A.spineY - 22, vz[0]], [22, A.spineY + 22, vz[1]], (x, y) => Math.hypot(x, y - A.spineY) - 19, 650, { lung: 0 });
  c.paint([-22, A.spineY - 22, vz[0]], [22, A.spineY + 22, vz[1]], (x, y) => Math.hypot(x, y - A.spineY) - 15, 280);
  c.paint([-9, A.spineY + 20, vz[0]], [9, A.spineY + 38, vz[1]], (x, y) => Math.hypot(x, y - (A.spineY + 29)) - 7, 15);
  c.capsule([0, A.spineY + 36, -big], [0, A.spineY + 36, big], 5, 600);
  c.paint([-0.85 * A.aIn, A.cy - A.bIn - 12, A.lungBase + 10], [0.85 * A.aIn, A.cy - A.bIn + 4, A.lungTop - 10],
    (x, y) => Math.max(Math.abs(x) - 14, Math.abs(y - (A.cy - A.bIn - 5)) - 6), 450);
  const ringR = Math.min(A.aIn, A.bIn);
  c.paint([-A.aIn - 14, A.cy - A.bIn - 14, A.lungBase - 10], [A.aIn + 14, A.cy + A.bIn + 14, A.lungTop + 10], (x, y, z) => {
    const ring = Math.abs(Math.hypot(x / A.aIn, (y - A.cy) / A.bIn) * ringR - (ringR + 5)) - 4.5;
    const zz = z + 0.35 * (A.cy - y) + A.ribPhase;
    const ph = ((zz % 28) + 28) % 28;
    const band = Math.abs(ph - 5) - 5;
    const cartilage = Math.abs(x) < 30 && y < A.cy;
    return cartilage ? 1e3 : Math.max(ring, band);
  }, 700, { lung: 0 });


  return { c, A, aortaR, inLung, inSide, lungPoint, lobeOf };
}

/** Lung cross-section scale by fractional distance t below the apex: a rounded dome, full width from t = 0.5. */
function apexWidth(t: number): number {
  return 0.08 + 0.92 * Math.sqrt(Math.min(1, Math.max(t, 0) / 0.5));
}
