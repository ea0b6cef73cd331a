import { describe, expect, it } from 'vitest';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { CT_RATE_PATHOLOGIES } from '../../compiler/ir/experiment.js';
import { generateSynthetic, renderScan, splitSizes, SYNTH_VERSION } from '../../runtime/data/synth/generate.js';
import { createHash } from 'node:crypto';
import { EXPECTED_PREVALENCE, findingsToLabels, sampleFindings } from '../../runtime/data/synth/findings.js';
import { IMPRESSION_TERMS } from '../../runtime/data/synth/reports.js';
import { Rng } from '../../runtime/data/synth/rng.js';
import { readCsvTable } from '../../runtime/data/ctrate_tables.js';
import { readNiftiFile } from '../../runtime/data/nifti.js';
import { volumeRelativePath } from '../../runtime/data/layout.js';
import { expectDiagnostic, tempDir } from './helpers.js';

function files(root: string): Map<string, Buffer> {
  const out = new Map<string, Buffer>();
  const walk = (d: string) => {
    for (const e of readdirSync(d)) {
      const p = join(d, e);
      if (statSync(p).isDirectory()) walk(p); else out.set(relative(root, p), readFileSync(p));
    }
  };
  walk(root);
  return out;
}

describe('synthetic CT-RATE generator', () => {
  const args = { volumes: 7, seed: 42, site: 'source', shape: [20, 24, 24] as [number, number, number] };
  const a = join(tempDir('syn'), 'a'), b = join(tempDir('syn'), 'b'), c = join(tempDir('syn'), 'c');
  const ma = generateSynthetic({ out: a, ...args });
  generateSynthetic({ out: b, ...args });
  generateSynthetic({ out: c, ...args, seed: 43 });

  it('writes the CT-RATE layout, nested by patient and scan', () => {
    const names = [...files(a).keys()].sort();
    expect(names).toContain('multi_abnormality_labels/train_predicted_labels.csv');
    expect(names).toContain('multi_abnormality_labels/valid_predicted_labels.csv');
    expect(names).toContain('radiology_text_reports/validation_reports.csv');
    expect(names).toContain('metadata/validation_metadata.csv');
    expect(names).toContain('train/train_1/train_1_a/train_1_a_1.nii.gz');
    const vols = names.filter((n) => n.endsWith('.nii.gz'));
    expect(vols.length).toBe(7);
    for (const v of vols) expect(v).toMatch(/^(train|valid)\/\1_\d+\/\1_\d+_a\/\1_\d+_a_\d\.nii\.gz$/);
    const sizes = splitSizes(7);
    expect(vols.filter((v) => v.startsWith('valid/')).length).toBe(sizes.valid);
    expect(sizes).toEqual({ train: 6, valid: 1 });
  });

  it('is byte-identical for the same seed and differs for another', () => {
    const fa = files(a), fb = files(b), fc = files(c);
    expect([...fa.keys()].sort()).toEqual([...fb.keys()].sort());
    for (const [k, v] of fa) expect(v.equals(fb.get(k)!), k).toBe(true);
    const vol = 'train/train_1/train_1_a/train_1_a_1.nii.gz';
    expect(fc.get(vol)?.equals(fa.get(vol)!)).toBe(false);
  });

  it('stores int16 with slope 1 / intercept -1024; metadata holds the true (varied) spacing', () => {
    const meta = readCsvTable(join(a, 'metadata/train_metadata.csv'), 'meta');
    const spacings = new Set<string>();
    for (const row of meta.rows) {
      const name = row.cells.get('VolumeName')!;
      expect(row.cells.get('RescaleSlope')).toBe('1');
      expect(row.cells.get('RescaleIntercept')).toBe('-1024');
      const xy = Number(/^\[([\d.]+),/.exec(row.cells.get('XYSpacing')!)![1]);
      const z = Number(row.cells.get('ZSpacing'));
      spacings.add(`${xy}/${z}`);
      const vol = readNiftiFile(join(a, volumeRelativePath('train', name)));
      expect(vol.datatype).toBe('int16');
      expect(vol.dims).toEqual([24, 24, 20]);
      expect(vol.pixdim[0]).toBeCloseTo(xy, 4);
      expect(vol.pixdim[2]).toBeCloseTo(z, 4);
      // Air outside the body (about -1000 HU) sits near stored 24; the body reaches soft tissue and bone.
      const hu = Array.from(vol.data, (v) => v - 1024);
      expect(Math.min(...hu)).toBeLessThan(-990);
      expect(Math.max(...hu)).toBeGreaterThan(300);
    }
    expect(spacings.size).toBe(meta.rows.length);
  });

  it('reports agree with labels: each impression names exactly the present pathologies', () => {
    for (const split of ['train', 'validation'] as const) {
      const reports = readCsvTable(join(a, `radiology_text_reports/${split}_reports.csv`), 'r');
      const labels = readCsvTable(join(a, `multi_abnormality_labels/${split === 'train' ? 'train' : 'valid'}_predicted_labels.csv`), 'l');
      for (const row of reports.rows) {
        const name = row.cells.get('VolumeName')!;
        const lab = labels.rows.find((r) => r.cells.get('VolumeName') === name)!;
        const impression = row.cells.get('Impressions_EN')!.toLowerCase();
        for (const p of CT_RATE_PATHOLOGIES) {
          const present = lab.cells.get(p) === '1';
          expect(impression.includes(IMPRESSION_TERMS[p]), `${name}: ${p}`).toBe(present);
        }
        expect(row.cells.get('Findings_EN')!.length).toBeGreaterThan(50);
      }
    }
  });

  it('"X is present." is said only of present findings, "X is not present." only of absent ones', () => {
    const root = join(tempDir('syn'), 'affirm');
    generateSynthetic({ out: root, ...args, volumes: 60 });
    let affirmed = 0, presentCount = 0;
    const reports = readCsvTable(join(root, 'radiology_text_reports/train_reports.csv'), 'r');
    const labels = readCsvTable(join(root, 'multi_abnormality_labels/train_predicted_labels.csv'), 'l');
    for (const row of reports.rows) {
      const name = row.cells.get('VolumeName')!;
      const lab = labels.rows.find((r) => r.cells.get('VolumeName') === name)!;
      const sentences = row.cells.get('Findings_EN')!.split(/(?<=\.) /).map((s) => s.toLowerCase());
      for (const p of CT_RATE_PATHOLOGIES) {
        const present = lab.cells.get(p) === '1';
        if (present) presentCount++;
        const term = IMPRESSION_TERMS[p];
        if (sentences.includes(`${term} is present.`)) { expect(present, `${name}: ${p}`).toBe(true); affirmed++; }
        if (sentences.includes(`${term} is not present.`)) expect(present, `${name}: ${p}`).toBe(false);
      }
    }
    // AFFIRM_RATE = 0.5: about half the present findings take the plain form (binomial, n in the hundreds).
    expect(affirmed / presentCount).toBeGreaterThan(0.35);
    expect(affirmed / presentCount).toBeLessThan(0.65);
  });

  it('manifest records the arguments and every volume', () => {
    expect(ma).toMatchObject({ generator: 'medctc synth', complete: true, seed: 42, volumes: 7, site: 'source', shape: [20, 24, 24] });
    expect(ma.list.length).toBe(7);
  });

  it('sites differ in acquisition', () => {
    const t = join(tempDir('syn'), 't');
    generateSynthetic({ out: t, ...args, site: 'target' });
    const fov = (root: string) => {
      const rows = readCsvTable(join(root, 'metadata/train_metadata.csv'), 'm').rows;
      return rows.map((r) => Number(/^\[([\d.]+),/.exec(r.cells.get('XYSpacing')!)![1]) * 24);
    };
    expect(Math.max(...fov(a))).toBeLessThanOrEqual(355);
    expect(Math.min(...fov(t))).toBeGreaterThanOrEqual(365);
  });

  it('renderScan draws exactly the volumes the dataset holds (so tests of it speak for the files)', () => {
    for (const v of ma.list) {
      const m = /^(?:train|valid)_(\d+)_a_(\d+)/.exec(v.volumeName)!;
      const scan = renderScan({ ...args, split: v.split, patient: Number(m[1]), recon: Number(m[2]) });
      expect(Array.from(findingsToLabels(scan.findings)), v.volumeName).toEqual(v.labels);
      expect(scan.spacing).toEqual(v.spacing);
      const file = readNiftiFile(join(a, volumeRelativePath(v.split, v.volumeName)));
      expect(Buffer.from(scan.stored.buffer).equals(Buffer.from((file.data as Int16Array).buffer)), v.volumeName).toBe(true);
    }
  });

  it('bad arguments are diagnostics', async () => {
    await expectDiagnostic(() => generateSynthetic({ out: join(tempDir('syn'), 'x'), ...args, site: 'mars' }), 'E5041', ['mars']);
    await expectDiagnostic(() => generateSynthetic({ out: join(tempDir('syn'), 'x'), ...args, volumes: 0 }), 'E5040', ['volumes']);
    await expectDiagnostic(() => generateSynthetic({ out: join(tempDir('syn'), 'x'), ...args, shape: [2, 24, 24] }), 'E5040', ['shape']);
    // A non-empty folder that is not an earlier synth dataset is left alone.
    await expectDiagnostic(() => generateSynthetic({ out: join(a, 'metadata'), ...args }), 'E5042', ['metadata']);
  });
});

describe('label model', () => {
  const N = 6000;
  const rng = new Rng(2024, 'prevalence');
  const samples = Array.from({ length: N }, () => findingsToLabels(sampleFindings(rng)));
  const rate = (i: number, given?: (l: Uint8Array) => boolean) => {
    const s = given ? samples.filter(given) : samples;
    return s.filter((l) => l[i]).length / s.length;
  };
  const idx = (p: (typeof CT_RATE_PATHOLOGIES)[number]) => CT_RATE_PATHOLOGIES.indexOf(p);

  it('marginals are near the CT-RATE-like targets', () => {
    for (const p of CT_RATE_PATHOLOGIES) {
      expect(Math.abs(rate(idx(p)) - EXPECTED_PREVALENCE[p]), p).toBeLessThan(0.035);
    }
  });
  it('plausible co-occurrences', () => {
    const art = idx('Arterial wall calcification'), cor = idx('Coronary artery wall calcification');
    expect(rate(cor, (l) => !!l[art])).toBeGreaterThan(3 * rate(cor, (l) => !l[art]));
    const eff = idx('Pleural effusion'), ate = idx('Atelectasis');
    expect(rate(ate, (l) => !!l[eff])).toBeGreaterThan(2.5 * rate(ate, (l) => !l[eff]));
    const card = idx('Cardiomegaly'), peri = idx('Pericardial effusion');
    expect(rate(peri, (l) => !!l[card])).toBeGreaterThan(2.5 * rate(peri, (l) => !l[card]));
  });
});

describe('generator output is pinned', () => {
  // Datasets on disk are reused while their manifest's version matches (see manifestMatches), so any
  // change to what the generator draws must bump SYNTH_VERSION. This digest covers the decoded voxels
  // and the CSVs (not the gzip bytes, which depend on the zlib build). Changed the generator on
  // purpose? Bump SYNTH_VERSION in runtime/data/synth/generate.ts and paste the new digest here.
  const PINNED = { version: 3, digest: 'f32dba77cf9089b0dd1b3201320b54b4b47c5f3facc95300f5325e46bfbf56d5' };
  it(`digest of a small source + target dataset (SYNTH_VERSION ${PINNED.version})`, () => {
    const h = createHash('sha256');
    for (const site of ['source', 'target']) {
      const root = join(tempDir('pin'), site);
      const m = generateSynthetic({ out: root, volumes: 4, seed: 1234, site, shape: [16, 20, 20] });
      for (const v of m.list) h.update(v.volumeName).update(new Uint8Array(readNiftiFile(join(root, volumeRelativePath(v.split, v.volumeName))).data.buffer));
      for (const f of ['multi_abnormality_labels/train_predicted_labels.csv', 'radiology_text_reports/validation_reports.csv', 'metadata/train_metadata.csv']) {
        h.update(readFileSync(join(root, f)));
      }
    }
    expect({ version: SYNTH_VERSION, digest: h.digest('hex') }).toEqual(PINNED);
  });
});
