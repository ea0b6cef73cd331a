// A synthetic chest CT: anatomy with per-patient variation, then each present pathology painted
// where it belongs, then the site's acquisition (noise, HU offset, field of view).
// HU references: air -1000, lung about -850, fat -100, soft tissue 40, blood 40 (170 with contrast),
// bone 300-700, metal clipped at 3071.
import { Canvas, type Vec3 } from './canvas.js';
import type { Findings } from './findings.js';
import { Rng } from './rng.js';
import type { Site } from './sites.js';

export type Side = 'right' | 'left' | 'bilateral';

/** What was drawn, in the terms a radiologist's report needs. */
export interface PhantomDetails {
  effusionSide: Side | null;
  noduleCount: number;
  noduleMaxMm: number;
  noduleLobe: string;
  consolidationLobe: string;
  opacityLobe: string;
  atelectasisSide: Side | null;
  device: 'pacemaker' | 'sternal wires' | 'port catheter' | null;
  emphysemaZone: 'upper' | 'diffuse';
  nodeMaxMm: number;
  hernia: 'small' | 'large' | null;
}

export interface Geometry { nx: number; ny: number; nz: number; sx: number; sy: number; sz: number }

const LUNG_RIGHT = 1, LUNG_LEFT = 2;

/** Patient anatomy, fixed per patient (all reconstructions of a scan share it). */
interface Anatomy {
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

export function renderPhantom(geom: Geometry, site: Site, f: Findings, patientRng: Rng, scanRng: Rng): { hu: Float32Array; details: PhantomDetails } {
  const rng = patientRng;
  const A = planAnatomy(rng, f);
  const c = new Canvas(geom.nx, geom.ny, geom.nz, geom.sx, geom.sy, geom.sz, -1000);
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
      lungSdf, (_x, y) => -865 + 35 * (y - L.yc) / L.ry, { lung: id });
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

  const d = emptyDetails();

  // ---------------------------------------------------------------- pathologies
  if (f['Emphysema']) {
    d.emphysemaZone = rng.bern(0.7) ? 'upper' : 'diffuse';
    const zMin = d.emphysemaZone === 'upper' ? (A.lungTop + A.lungBase) / 2 - 20 : -big;
    c.forLung(0, (idx, _x, _y, z) => { if (z > zMin) c.hu[idx] = Math.min(c.hu[idx]!, -915); });
    const holes = rng.int(18, 45);
    for (let h = 0; h < holes; h++) {
      const p = lungPoint(0, (_x, _y, z) => z > zMin);
      if (p) c.sphere(p, rng.uniform(4, 12), -990, { mask: inLung, blend: 'min' });
    }
  }
  if (f['Pleural effusion']) {
    d.effusionSide = rng.pick<Side>(['right', 'left', 'bilateral', 'bilateral']);
    for (const id of sidesOf(d.effusionSide)) {
      const depth = rng.uniform(28, 60);
      paintDependentFluid(c, id, depth, A.lungTop, A.lungBase);
    }
  }
  if (f['Atelectasis']) {
    d.atelectasisSide = d.effusionSide ?? rng.pick<Side>(['right', 'left', 'bilateral']);
    for (const id of sidesOf(d.atelectasisSide)) {
      const p = lungPoint(id, (_x, y, z) => z < A.lungBase + 60 && y > A.cy);
      if (p) c.ellipsoid(p, [rng.uniform(28, 42), rng.uniform(14, 24), rng.uniform(18, 32)], rng.uniform(20, 45), { mask: inSide(id), lung: 0 });
    }
  }
  if (f['Consolidation']) {
    const p = lungPoint(0, (_x, _y, _z, rho) => rho < 0.85);
    if (p) {
      d.consolidationLobe = lobeOf(p);
      const id = p[0] < 0 ? LUNG_RIGHT : LUNG_LEFT;
      c.ellipsoid(p, [rng.uniform(22, 38), rng.uniform(20, 34), rng.uniform(22, 40)], () => 30 + 15 * rng.next(), { mask: inSide(id) });
      c.capsule([p[0] - 15, p[1], p[2] + 10], [p[0] + 10, p[1] + 4, p[2] - 12], 2.5, -950, { mask: inSide(id) });
    }
  }
  if (f['Lung opacity']) {
    const blobs = rng.int(1, 3);
    for (let bI = 0; bI < blobs; bI++) {
      const p = lungPoint(0);
      if (!p) continue;
      if (bI === 0) d.opacityLobe = lobeOf(p);
      c.ellipsoid(p, [rng.uniform(22, 45), rng.uniform(22, 45), rng.uniform(22, 45)], rng.uniform(-600, -480), { mask: inLung, blend: 'max', feather: 3 });
    }
  }
  if (f['Lung nodule']) {
    d.noduleCount = rng.pick([1, 1, 1, 2, 2, 3, 4]);
    for (let n = 0; n < d.noduleCount; n++) {
      const p = lungPoint(0, (_x, _y, _z, rho) => rho < 0.92);
      if (!p) continue;
      const r = rng.uniform(4.5, 12);
      if (2 * r > d.noduleMaxMm) { d.noduleMaxMm = Math.round(2 * r); d.noduleLobe = lobeOf(p); }
      c.sphere(p, r, rng.uniform(15, 60), { mask: inLung, blend: 'max' });
    }
  }
  if (f['Pulmonary fibrotic sequela']) {
    const strands = rng.int(10, 26);
    for (let s = 0; s < strands; s++) {
      const p = lungPoint(0, (_x, _y, z, rho) => rho > 0.6 && z < A.lungTop - 20);
      if (!p) continue;
      const len = rng.uniform(15, 40), th = rng.uniform(0, 2 * Math.PI), ph = rng.uniform(-0.6, 0.6);
      const q: Vec3 = [p[0] + len * Math.cos(th) * Math.cos(ph), p[1] + len * Math.sin(th) * Math.cos(ph), p[2] + len * Math.sin(ph)];
      c.capsule(p, q, rng.uniform(1.3, 2.4), rng.uniform(-80, 10), { mask: inLung, blend: 'max' });
    }
  }
  if (f['Interlobular septal thickening']) {
    const cell = rng.uniform(11, 15), thick = 1.3;
    c.forLung(0, (idx, x, y, z) => {
      if (c.lungRho[idx]! < 0.7) return;
      if (voronoiEdgeDistance(x / cell, y / cell, z / cell) * cell < thick) c.hu[idx] = Math.max(c.hu[idx]!, -320);
    });
  }
  if (f['Lymphadenopathy']) {
    const stations: Vec3[] = [
      [-16, A.tracheaY - 6, A.carinaZ + 25], [16, A.tracheaY - 10, A.carinaZ + 20], [0, A.tracheaY + 18, A.carinaZ - 18],
      [-(A.medHalf + 14), A.tracheaY + 16, A.carinaZ - 20], [A.medHalf + 14, A.tracheaY + 16, A.carinaZ - 20],
      [-8, A.tracheaY - 28, A.carinaZ + 5],
    ];
    const k = rng.int(2, 5);
    for (let s = 0; s < k; s++) {
      const st = stations.splice(rng.int(0, stations.length - 1), 1)[0]!;
      const r = rng.uniform(8, 14);
      d.nodeMaxMm = Math.max(d.nodeMaxMm, Math.round(2 * r));
      c.sphere(st, r, 42, { lung: 0 });
    }
  }
  if (f['Hiatal hernia']) {
    const large = rng.bern(0.35);
    d.hernia = large ? 'large' : 'small';
    const r = large ? rng.uniform(30, 40) : rng.uniform(18, 26);
    // Behind the heart, just above the hiatus: stomach wall, fluid, and an anterior gas cap.
    const p: Vec3 = [12, A.spineY - 30 - r * 0.5, A.lungBase + 12 + r * 0.4];
    c.sphere(p, r + 3, 35, { lung: 0 });
    c.sphere(p, r, (_x, y) => (y < p[1] - 0.35 * r ? -1000 : 15));
  }
  if (f['Arterial wall calcification']) {
    const spots = rng.int(3, 9);
    for (let s = 0; s < spots; s++) {
      const seg = rng.int(2, A.aortaPath.length - 2);
      const a0 = A.aortaPath[seg]!, a1 = A.aortaPath[seg + 1]!, t = rng.next();
      const ang = rng.uniform(0, 2 * Math.PI);
      const p: Vec3 = [a0[0] + (a1[0] - a0[0]) * t + aortaR * Math.cos(ang), a0[1] + (a1[1] - a0[1]) * t + aortaR * Math.sin(ang), a0[2] + (a1[2] - a0[2]) * t];
      c.sphere(p, rng.uniform(2.2, 4), rng.uniform(450, 1000), { blend: 'max' });
    }
  }
  if (f['Coronary artery wall calcification']) {
    const spots = rng.int(2, 6);
    for (let s = 0; s < spots; s++) {
      const th = rng.uniform(-0.3, 1.2), ph = rng.uniform(0.1, 0.7);
      const p: Vec3 = [H[0] + R[0] * Math.cos(ph) * Math.sin(th), H[1] - R[1] * Math.cos(ph) * Math.cos(th), H[2] + R[2] * Math.sin(ph)];
      c.sphere(p, rng.uniform(2, 3.6), rng.uniform(400, 1000), { blend: 'max' });
    }
  }
  if (f['Medical material']) {
    d.device = rng.pick(['pacemaker', 'sternal wires', 'port catheter'] as const);
    const metal = 3071;
    if (d.device === 'pacemaker' || d.device === 'port catheter') {
      const left = d.device === 'pacemaker';
      const gen: Vec3 = [(left ? 1 : -1) * 0.6 * A.a, A.cy - A.b + A.fat * 0.5 + 6, A.lungTop - 25];
      c.ellipsoid(gen, left ? [24, 8, 20] : [14, 8, 14], metal);
      c.capsule(gen, [-10, A.tracheaY - 22, A.carinaZ + 20], 2.2, metal, { blend: 'max' });
      c.capsule([-10, A.tracheaY - 22, A.carinaZ + 20], [H[0] - R[0] * 0.3, H[1], H[2]], 2.2, metal, { blend: 'max' });
    } else {
      const wires = rng.int(6, 8);
      for (let w = 0; w < wires; w++) {
        const z = A.lungBase + 20 + w * (A.lungTop - A.lungBase - 50) / wires;
        c.capsule([-11, A.cy - A.bIn - 8, z], [11, A.cy - A.bIn - 8, z], 2.6, metal, { blend: 'max' });
      }
    }
  }

  // Acquisition: calibration offset, noise, and the reconstruction circle.
  const fovR = Math.min(c.nx * c.sx, c.ny * c.sy) / 2;
  for (let k = 0; k < c.nz; k++) {
    for (let j = 0; j < c.ny; j++) {
      for (let i = 0; i < c.nx; i++) {
        const idx = c.index(i, j, k);
        c.hu[idx] = Math.hypot(c.x(i), c.y(j)) > fovR ? site.outsideFovHU : c.hu[idx]! + site.offsetHU + site.noiseHU * scanRng.normal();
      }
    }
  }
  return { hu: c.hu, details: d };
}

/** Lung cross-section scale by fractional distance t below the apex: a rounded dome, full width from t = 0.5. */
function apexWidth(t: number): number {
  return 0.08 + 0.92 * Math.sqrt(Math.min(1, Math.max(t, 0) / 0.5));
}

function emptyDetails(): PhantomDetails {
  return { effusionSide: null, noduleCount: 0, noduleMaxMm: 0, noduleLobe: 'right upper lobe', consolidationLobe: 'right lower lobe',
    opacityLobe: 'right lower lobe', atelectasisSide: null, device: null, emphysemaZone: 'upper', nodeMaxMm: 0, hernia: null };
}

function sidesOf(s: Side): number[] {
  return s === 'bilateral' ? [LUNG_RIGHT, LUNG_LEFT] : s === 'right' ? [LUNG_RIGHT] : [LUNG_LEFT];
}

/** Fluid settles posteriorly (patients lie supine): per axial column, the most posterior `depth` mm
 *  of the lung become fluid, deeper towards the base. */
function paintDependentFluid(c: Canvas, id: number, depth: number, top: number, base: number): void {
  for (let k = 0; k < c.nz; k++) {
    const t = Math.min(1, Math.max(0, (top - c.z(k)) / (top - base)));
    const dz = depth * (0.35 + 0.65 * t);
    for (let i = 0; i < c.nx; i++) {
      let back = -1;
      for (let j = c.ny - 1; j >= 0; j--) if (c.lung[c.index(i, j, k)] === id) { back = j; break; }
      if (back < 0) continue;
      const yBack = c.y(back);
      for (let j = back; j >= 0; j--) {
        const idx = c.index(i, j, k);
        if (c.lung[idx] !== id) continue;
        const into = yBack - c.y(j);
        if (into > dz + c.sy) break;
        const a = into <= dz ? 1 : 1 - (into - dz) / c.sy;
        c.hu[idx] = c.hu[idx]! + a * (12 - c.hu[idx]!);
        if (a >= 0.5) c.lung[idx] = 0;
      }
    }
  }
}

function hash3(x: number, y: number, z: number): number {
  let h = Math.imul(x, 374761393) ^ Math.imul(y, 668265263) ^ Math.imul(z, 2147483647);
  h = Math.imul(h ^ (h >>> 13), 1274126177);
  return (h ^ (h >>> 16)) >>> 0;
}

/** Distance (in cell units) to the nearest boundary of a jittered-grid Voronoi tessellation, (F2 - F1) / 2. */
function voronoiEdgeDistance(x: number, y: number, z: number): number {
  const xi = Math.floor(x), yi = Math.floor(y), zi = Math.floor(z);
  let f1 = Infinity, f2 = Infinity;
  for (let dz = -1; dz <= 1; dz++) for (let dy = -1; dy <= 1; dy++) for (let dx = -1; dx <= 1; dx++) {
    const h = hash3(xi + dx, yi + dy, zi + dz);
    const px = xi + dx + (h & 255) / 255, py = yi + dy + ((h >>> 8) & 255) / 255, pz = zi + dz + ((h >>> 16) & 255) / 255;
    const dist = Math.hypot(px - x, py - y, pz - z);
    if (dist < f1) { f2 = f1; f1 = dist; } else if (dist < f2) f2 = dist;
  }
  return (f2 - f1) / 2;
}
