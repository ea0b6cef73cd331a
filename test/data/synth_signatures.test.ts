// What each pathology and each acquisition site look like in the generated HU, measured on the
// image: the same patient (seed, anatomy, scanner noise) rendered with one pathology forced on and
// off, and the same patients imaged at both sites. Thresholds come from the generator's documented
// parameters (runtime/data/synth/{sites,lesions,anatomy}.ts headers and runtime/data/README.md).
import { describe, expect, it } from 'vitest';
import { CT_RATE_PATHOLOGIES } from '../../compiler/ir/experiment.js';
import { renderScan, type RenderedScan } from '../../runtime/data/synth/generate.js';
import type { Findings, Pathology } from '../../runtime/data/synth/findings.js';
import { SITES } from '../../runtime/data/synth/sites.js';

const SHAPE: [number, number, number] = [40, 48, 48];
const NONE = Object.fromEntries(CT_RATE_PATHOLOGIES.map((p) => [p, false])) as Findings;

function render(patient: number, on: Pathology | null, site = 'source'): RenderedScan {
  return renderScan({ seed: 7, site, shape: SHAPE, split: 'train', patient, findings: { ...NONE, ...(on ? { [on]: true } : {}) } });
}

/** Patient coordinates (mm) of voxel (i, j, k): canvas.ts's convention, +y posterior, +z superior. */
function voxels(s: RenderedScan, site: string) {
  const [W, H, D] = s.dims;
  const off = SITES[site]!.patientOffsetMm;
  const out: { idx: number; x: number; y: number; z: number; X: number; Y: number }[] = [];
  for (let k = 0; k < D; k++) for (let j = 0; j < H; j++) for (let i = 0; i < W; i++) {
    const X = (i - (W - 1) / 2) * s.spacing.xy, Y = (j - (H - 1) / 2) * s.spacing.xy;
    out.push({ idx: (k * H + j) * W + i, x: X - off[0], y: Y - off[1], z: (k - (D - 1) / 2) * s.spacing.z, X, Y });
  }
  return out;
}
const voxelMm3 = (s: RenderedScan) => s.spacing.xy * s.spacing.xy * s.spacing.z;
const mean = (a: number[]) => a.reduce((x, y) => x + y, 0) / a.length;
const std = (a: number[]) => { const m = mean(a); return Math.sqrt(a.reduce((x, y) => x + (y - m) ** 2, 0) / (a.length - 1)); };

const PATIENTS = [1, 2, 3];
const offScans = new Map(PATIENTS.map((p) => [p, render(p, null)]));

/** Per patient: the scan without findings, the scan with `p` forced on, and the voxel coordinates. */
function pairs(p: Pathology) {
  return PATIENTS.map((patient) => {
    const off = offScans.get(patient)!;
    return { patient, off, on: render(patient, p), vs: voxels(off, 'source') };
  });
}

/** Normalised ellipsoid radius of a point relative to the heart (1 on the myocardium's surface). */
function heartQ(s: RenderedScan, v: { x: number; y: number; z: number }, extraMm = 0): number {
  const H = s.anatomy.heart, R = s.anatomy.heartR;
  return Math.hypot((v.x - H[0]) / (R[0] + extraMm), (v.y - H[1]) / (R[1] + extraMm), (v.z - H[2]) / (R[2] + extraMm));
}

/** Lung tissue in the scan without findings: thoracic cavity, lung density (-865 +- 35 HU, noise 10). */
function lungVoxels(off: RenderedScan, vs: ReturnType<typeof voxels>) {
  const A = off.anatomy;
  return vs.filter((v) => Math.hypot(v.x / A.aIn, (v.y - A.cy) / A.bIn) < 1 && off.hu[v.idx]! > -945 && off.hu[v.idx]! < -760);
}

describe('pathology signatures: same patient, pathology forced on vs off', () => {
  it('the hook changes only the forced label and keeps anatomy and scanner', () => {
    const { off, on } = pairs('Medical material')[0]!;
    expect(on.findings).toEqual({ ...NONE, 'Medical material': true });
    expect(off.findings).toEqual(NONE);
    expect(on.spacing).toEqual(off.spacing);
    expect(on.anatomy).toEqual(off.anatomy);
    // Sampled findings are the patient's own unless overridden.
    const own = renderScan({ seed: 7, site: 'source', shape: SHAPE, split: 'train', patient: 1 });
    const same = renderScan({ seed: 7, site: 'source', shape: SHAPE, split: 'train', patient: 1, findings: own.findings });
    expect(same.stored).toEqual(own.stored);
  });

  it('cardiomegaly: a larger soft-tissue heart', () => {
    // anatomy.ts: heart radii (46, 38, 44) mm x scale 0.9-1.04, or 1.32-1.5 with cardiomegaly.
    const minGainMm3 = (4 / 3) * Math.PI * 46 * 38 * 44 * (1.32 ** 3 - 1.04 ** 3);
    for (const { patient, off, on, vs } of pairs('Cardiomegaly')) {
      const soft = (s: RenderedScan) => vs.filter((v) => s.hu[v.idx]! > -20 && s.hu[v.idx]! < 100);
      const gain = (soft(on).length - soft(off).length) * voxelMm3(off);
      expect(gain, `patient ${patient}: soft-tissue gain ${gain.toFixed(0)} mm3`).toBeGreaterThan(0.5 * minGainMm3);
      // The gain is around the heart: voxels that became soft tissue lie within the enlarged heart and its rim.
      const became = vs.filter((v) => off.hu[v.idx]! < -50 && on.hu[v.idx]! > -20 && on.hu[v.idx]! < 100);
      const nearHeart = became.filter((v) => heartQ(on, v, 4 + 1.5 * off.spacing.xy) <= 1).length;
      expect(nearHeart / became.length, `patient ${patient}`).toBeGreaterThan(0.9);
      expect(on.anatomy.heartR[0] / off.anatomy.heartR[0]).toBeGreaterThan(1.32 / 1.04 - 1e-9);
    }
  });

  it('pleural effusion: fluid in the dependent (posterior) lung base', () => {
    for (const { patient, off, on, vs } of pairs('Pleural effusion')) {
      const lung = lungVoxels(off, vs);
      const fluid = lung.filter((v) => on.hu[v.idx]! >= -20 && on.hu[v.idx]! <= 50); // 12 HU, noise 10, partial volume
      const A = off.anatomy, mid = (A.lungTop + A.lungBase) / 2;
      const vol = fluid.length * voxelMm3(off);
      // lesions.ts: the most posterior 28-60 mm of a lung, 35% of that at the apex.
      expect(vol, `patient ${patient}: ${vol.toFixed(0)} mm3 of fluid`).toBeGreaterThan(50_000);
      expect(fluid.filter((v) => v.y > A.cy).length / fluid.length, `patient ${patient}: posterior`).toBeGreaterThan(0.95);
      expect(fluid.filter((v) => v.z < mid).length / fluid.length, `patient ${patient}: basal`).toBeGreaterThan(0.5);
      const mhu = mean(fluid.map((v) => on.hu[v.idx]!));
      expect(mhu, `patient ${patient}: mean fluid HU`).toBeGreaterThan(0);
      expect(mhu).toBeLessThan(30);
      // The same lung voxels without the effusion hold no fluid-density voxel at all.
      expect(lung.filter((v) => off.hu[v.idx]! >= -20 && off.hu[v.idx]! <= 50).length).toBe(0);
    }
  });

  it('emphysema: more lung voxels below -950 HU', () => {
    for (const { patient, off, on, vs } of pairs('Emphysema')) {
      const A = off.anatomy;
      // Lung field (thoracic cavity between base and apex, not soft tissue) in the scan without findings.
      const field = vs.filter((v) => Math.hypot(v.x / A.aIn, (v.y - A.cy) / A.bIn) < 0.95 && v.z > A.lungBase && v.z < A.lungTop && off.hu[v.idx]! < -700);
      const low = (s: RenderedScan) => field.filter((v) => s.hu[v.idx]! < -950).length;
      const [lo, hi] = [low(off), low(on)];
      expect(hi - lo, `patient ${patient}: ${lo} -> ${hi} of ${field.length}`).toBeGreaterThan(0.01 * field.length);
      // and lung density overall drops (destruction to -915 HU over the affected zone).
      expect(mean(field.map((v) => on.hu[v.idx]!))).toBeLessThan(mean(field.map((v) => off.hu[v.idx]!)) - 15);
    }
  });

  it('lung nodule: a small dense blob inside lung', () => {
    for (const { patient, off, on, vs } of pairs('Lung nodule')) {
      const changed = vs.filter((v) => on.hu[v.idx] !== off.hu[v.idx]);
      expect(changed.length).toBeGreaterThan(0);
      // Dense: soft-tissue density (15-60 HU) where there was lung (-865 HU), partial volume aside.
      const peak = changed.reduce((b, v) => (on.hu[v.idx]! - off.hu[v.idx]! > on.hu[b.idx]! - off.hu[b.idx]! ? v : b));
      expect(on.hu[peak.idx]! - off.hu[peak.idx]!, `patient ${patient}`).toBeGreaterThan(300);
      expect(off.hu[peak.idx]!).toBeLessThan(-700);
      // Inside lung: the changed voxels were lung (some partial volume with a vessel or airway wall), never soft tissue or bone.
      for (const v of changed) expect(off.hu[v.idx]!, `patient ${patient}`).toBeLessThan(-100);
      expect(changed.filter((v) => off.hu[v.idx]! < -500).length / changed.length, `patient ${patient}`).toBeGreaterThanOrEqual(0.5);
      // Small: each nodule is a sphere of radius <= 12 mm; with up to 4 of them, every changed voxel
      // lies within 12 mm + one voxel diagonal of a voxel at least 300 HU denser than before.
      const cores = changed.filter((v) => on.hu[v.idx]! - off.hu[v.idx]! > 300);
      const reach = 12 + Math.hypot(on.spacing.xy, on.spacing.xy, on.spacing.z);
      for (const v of changed) expect(Math.min(...cores.map((c) => Math.hypot(c.x - v.x, c.y - v.y, c.z - v.z)))).toBeLessThanOrEqual(reach);
      expect(changed.length * voxelMm3(off)).toBeLessThan(on.details.noduleCount * (4 / 3) * Math.PI * reach ** 3);
    }
  });

  it('medical material: metal-bright voxels above 2000 HU', () => {
    for (const { patient, off, on, vs } of pairs('Medical material')) {
      const metal = (s: RenderedScan) => vs.filter((v) => s.hu[v.idx]! > 2000).length;
      expect(metal(off), `patient ${patient}`).toBe(0);
      expect(metal(on), `patient ${patient} (${on.details.device})`).toBeGreaterThan(3);
      // Stored as int16 without clipping: metal (3071 HU) + 1024 fits.
      expect(Math.max(...on.stored)).toBeGreaterThan(2000 + 1024);
    }
  });

  it('pericardial effusion: a fluid rim around the heart', () => {
    for (const { patient, off, on, vs } of pairs('Pericardial effusion')) {
      // anatomy.ts: pericardial fat (-90 HU) 4 mm thick, or fluid (12 HU) 9-17 mm thick with an effusion.
      const shell = vs.filter((v) => heartQ(off, v, 2) > 1 && heartQ(off, v, 9) <= 1);
      const fluid = (s: RenderedScan) => shell.filter((v) => s.hu[v.idx]! >= -20 && s.hu[v.idx]! <= 45).length;
      const fat = (s: RenderedScan) => shell.filter((v) => s.hu[v.idx]! >= -150 && s.hu[v.idx]! <= -50).length;
      expect(fluid(on) - fluid(off), `patient ${patient}: fluid ${fluid(off)} -> ${fluid(on)} of ${shell.length}`).toBeGreaterThan(0.3 * shell.length);
      expect(fat(on), `patient ${patient}: fat ${fat(off)} -> ${fat(on)}`).toBeLessThan(fat(off));
      // A rim, not a mass: the heart's core is unchanged.
      // (The aorta, drawn after the rim, starts inside the heart with a redrawn radius: blood 40 vs myocardium 42 HU.)
      const core = vs.filter((v) => heartQ(off, v) < 0.8);
      expect(Math.abs(mean(core.map((v) => on.hu[v.idx]! - off.hu[v.idx]!)))).toBeLessThan(3);
    }
  });
});

describe('acquisition sites: the same patients imaged at source and target', () => {
  // Finer in-plane sampling than the default so the aorta has a clean core at both sites.
  const shape: [number, number, number] = [40, 96, 96];
  const scans = Object.fromEntries(Object.keys(SITES).map((site) => [site, PATIENTS.map((patient) =>
    renderScan({ seed: 7, site, shape, split: 'train', patient, findings: NONE }))])) as Record<string, RenderedScan[]>;

  for (const site of Object.keys(SITES)) {
    const S = SITES[site]!;
    it(`${site}: noise sigma ${S.noiseHU} HU and offset ${S.offsetHU} HU in the air in front of the patient`, () => {
      const air: number[] = [];
      for (const s of scans[site]!) {
        const A = s.anatomy, vox = s.spacing.xy;
        const fovR = (Math.min(s.dims[0], s.dims[1]) * vox) / 2;
        for (const v of voxels(s, site)) {
          const outside = (Math.hypot(v.x / A.a, (v.y - A.cy) / A.b) - 1) * Math.min(A.a, A.b) > 2 * vox;
          if (outside && v.y < A.cy && Math.hypot(v.X, v.Y) < fovR - 2 * vox) air.push(s.hu[v.idx]!);
        }
      }
      expect(air.length).toBeGreaterThan(2000);
      const sd = std(air), m = mean(air);
      expect(Math.abs(sd - S.noiseHU) / S.noiseHU, `std ${sd.toFixed(2)} over ${air.length} voxels`).toBeLessThan(0.1);
      expect(Math.abs(m - (-1000 + S.offsetHU)), `mean ${m.toFixed(2)}`).toBeLessThan(5 * S.noiseHU / Math.sqrt(air.length) + 0.5);
    });

    it(`${site}: blood pool ${S.bloodHU} HU (+ offset) in the descending aorta`, () => {
      const blood: number[] = [];
      for (const s of scans[site]!) {
        const P = s.anatomy.aortaPath, [x0, y0, z1] = P.at(-2)!, z0 = P.at(-1)![2];
        // Fully inside the vessel: one voxel edge (mean spacing) away from its wall.
        const edge = (2 * s.spacing.xy + s.spacing.z) / 3;
        for (const v of voxels(s, site)) {
          if (v.z > z0 + edge && v.z < z1 - edge && Math.hypot(v.x - x0, v.y - y0) < s.aortaR - edge) blood.push(s.hu[v.idx]!);
        }
      }
      expect(blood.length).toBeGreaterThan(50);
      const m = mean(blood);
      expect(Math.abs(m - (S.bloodHU + S.offsetHU)), `mean ${m.toFixed(1)} HU over ${blood.length} voxels`).toBeLessThan(5 * S.noiseHU / Math.sqrt(blood.length) + 1);
    });

    it(`${site}: spacing from field of view ${S.fovXYmm.join('-')} mm and coverage ${S.coverageZmm.join('-')} mm; ${S.outsideFovHU} HU outside the reconstruction circle`, () => {
      for (const s of scans[site]!) {
        const fov = s.spacing.xy * Math.max(shape[1], shape[2]), cov = s.spacing.z * shape[0];
        expect(fov).toBeGreaterThanOrEqual(S.fovXYmm[0] - 0.01);
        expect(fov).toBeLessThanOrEqual(S.fovXYmm[1] + 0.01);
        expect(cov).toBeGreaterThanOrEqual(S.coverageZmm[0] - 0.01);
        expect(cov).toBeLessThanOrEqual(S.coverageZmm[1] + 0.01);
        for (const k of [0, shape[0] - 1]) expect(s.hu[k * shape[1] * shape[2]]).toBe(S.outsideFovHU); // corner voxel
      }
    });
  }

  it('source and target differ: the shift a model must cope with', () => {
    const [src, tgt] = [SITES.source!, SITES.target!];
    // Non-overlapping documented ranges: every target scan has a wider field and a shorter coverage.
    for (let p = 0; p < PATIENTS.length; p++) {
      expect(scans.target![p]!.spacing.xy).toBeGreaterThan(scans.source![p]!.spacing.xy);
      expect(scans.target![p]!.spacing.z).toBeLessThan(scans.source![p]!.spacing.z);
      expect(scans.target![p]!.anatomy).toEqual(scans.source![p]!.anatomy); // same patient
    }
    expect(tgt.noiseHU / src.noiseHU).toBeGreaterThanOrEqual(2);
    expect(tgt.bloodHU - src.bloodHU).toBeGreaterThanOrEqual(100);
  });
});
