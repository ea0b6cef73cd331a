// Focal pathologies painted into a chest: each where it belongs anatomically, with varied size
// and intensity, recording what was drawn so the report can describe it.
import { Canvas, type Vec3 } from './canvas.js';
import { LUNG_LEFT, LUNG_RIGHT, type Chest } from './anatomy.js';
import type { Findings } from './findings.js';
import { voronoiEdgeDistance } from './noise.js';
import type { Rng } from './rng.js';

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

export function paintLesions(chest: Chest, f: Findings, rng: Rng): PhantomDetails {
  const { c, A, aortaR, inLung, inSide, lungPoint, lobeOf } = chest;
  const big = 1e4;
  const H = A.heart, R = A.heartR;
  const d = emptyDetails();

  if (f['Emphysema']) {
    d.emphysemaZone = rng.bern(0.7) ? 'upper' : 'diffuse';
    const zMin = d.emphysemaZone === 'upper' ? (A.lungTop + A.lungBase) / 2 - 20 : -big;
    // Destruction fades in over 50 mm rather than stopping at a plane.
    c.forLung(0, (idx, _x, _y, z) => {
      const t = Math.min(1, Math.max(0, (z - zMin) / 50 + 0.5));
      if (t > 0) c.hu[idx] = Math.min(c.hu[idx]!, c.hu[idx]! + t * (-915 - c.hu[idx]!));
    });
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

  return d;
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
