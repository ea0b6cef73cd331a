// `medctc synth`: a synthetic dataset in exactly the CT-RATE layout, so the same loaders read it.
//   <out>/train/train_7/train_7_a/train_7_a_1.nii.gz        volumes (int16, RescaleSlope 1 / Intercept -1024)
//   <out>/valid/valid_3/valid_3_a/valid_3_a_2.nii.gz        (a second reconstruction of the same scan)
//   <out>/multi_abnormality_labels/{train,valid}_predicted_labels.csv
//   <out>/radiology_text_reports/{train,validation}_reports.csv
//   <out>/metadata/{train,validation}_metadata.csv
//   <out>/manifest.json                                     generator, version, arguments, volume list
// Patients are seeded by (seed, split, patient) and scans by (seed, site, split, patient, recon):
// the same seed at two sites gives the same patients imaged by two scanners.
// Output bytes depend only on the arguments (fixed gzip level; node's gzip header carries no time).
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { CT_RATE_PATHOLOGIES } from '../../../compiler/ir/experiment.js';
import { DiagnosticError } from '../../../base/diagnostics/types.js';
import { diag } from '../../../base/diagnostics/catalog.js';
import { writeFileAtomic } from '../../../base/atomic.js';
import { encodeNifti1Int16 } from '../nifti.js';
import { layoutPaths, volumeRelativePath } from '../layout.js';
import { sampleFindings, findingsToLabels, type Findings } from './findings.js';
import { renderPhantom, type Anatomy, type PhantomDetails } from './phantom.js';
import { writeReport } from './reports.js';
import { Rng } from './rng.js';
import { RESCALE_INTERCEPT, RESCALE_SLOPE, SITES, type Site } from './sites.js';

export const SYNTH_GENERATOR = 'medctc synth';
/** 1: first release. 2: reports name about a third of the absent findings (pertinent negatives).
 *  3: half the present findings are stated as "X is present." (reports only; voxels unchanged). */
export const SYNTH_VERSION = 3;

export interface SynthOptions {
  out: string;
  volumes: number;
  seed: number;
  site: string;
  /** Stored volume shape (D, H, W) = (z, y, x) voxel counts. */
  shape: [number, number, number];
}

export interface SynthVolume {
  volumeName: string;
  split: 'train' | 'valid';
  labels: number[];
  spacing: { xy: number; z: number };
}

export interface SynthManifest {
  generator: typeof SYNTH_GENERATOR;
  version: number;
  complete: boolean;
  seed: number;
  volumes: number;
  site: string;
  shape: [number, number, number];
  list: SynthVolume[];
}

export function resolveSite(name: string, where: string): Site {
  const site = SITES[name];
  if (!site) {
    throw new DiagnosticError(diag('E5041', `unknown acquisition site \`${name}\``, { file: where, start: 0, end: 0 },
      { help: `sites: ${Object.keys(SITES).join(', ')}` }));
  }
  return site;
}

export function validateSynthOptions(o: SynthOptions, where: string): void {
  const bad = (m: string): never => { throw new DiagnosticError(diag('E5040', m, { file: where, start: 0, end: 0 })); };
  if (!Number.isInteger(o.volumes) || o.volumes < 1 || o.volumes > 100_000) bad(`volumes must be an integer in 1..100000, got ${o.volumes}`);
  if (!Number.isInteger(o.seed) || o.seed < 0 || o.seed > 2 ** 32 - 1) bad(`seed must be an integer in 0..4294967295, got ${o.seed}`);
  if (o.shape.length !== 3 || !o.shape.every((n) => Number.isInteger(n) && n >= 8 && n <= 1024)) {
    bad(`shape must be three integers D,H,W in 8..1024, got ${o.shape.join(',')}`);
  }
  resolveSite(o.site, where);
}

/** Train/valid sizes: 80/20, at least one validation volume once there are two. */
export function splitSizes(n: number): { train: number; valid: number } {
  const valid = n >= 2 ? Math.max(1, Math.round(n * 0.2)) : 0;
  return { train: n - valid, valid };
}

function csvCell(v: string | number): string {
  const s = String(v);
  return /[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}
function csv(header: string[], rows: (string | number)[][]): string {
  return [header, ...rows].map((r) => r.map(csvCell).join(',')).join('\n') + '\n';
}

/** Spacing rounded to 0.1 µm so the header, the CSV and the resampler all see one number. */
const roundMm = (x: number) => Math.round(x * 1e4) / 1e4;

interface Scan { name: string; findings: Findings; report: { findings: string; impressions: string }; xy: number; z: number; gz: Uint8Array }

/** One scan of one synthetic patient, as `medctc synth` would draw it. */
export interface ScanRequest {
  seed: number;
  site: string;
  shape: [number, number, number];
  split: 'train' | 'valid';
  /** Patient number (1-based) within the split. */
  patient: number;
  /** Reconstruction number (default 1). */
  recon?: number;
  /** Overrides of the patient's sampled findings: force a pathology on or off while the anatomy,
   *  the acquisition and the noise stay those of the same seed. */
  findings?: Partial<Findings>;
}

export interface RenderedScan {
  /** HU before int16 storage, NIfTI order (x fastest): index = (k * H + j) * W + i. */
  hu: Float32Array;
  /** What the .nii.gz stores: round(HU - RescaleIntercept), clamped to int16. */
  stored: Int16Array;
  dims: [number, number, number];
  spacing: { xy: number; z: number };
  findings: Findings;
  details: PhantomDetails;
  /** Where the normal structures are (mm from the volume centre shifted by the site's patient offset). */
  anatomy: Anatomy;
  aortaR: number;
}

/** Renders one scan; `findings` comes from the patient's own draw unless given. */
function renderScanWith(o: Omit<ScanRequest, 'findings'>, site: Site, findings: Findings): RenderedScan {
  const [D, H, W] = o.shape;
  const r = o.recon ?? 1;
  const scanRng = new Rng(o.seed, 'scan', site.name, o.split, o.patient, r);
  const xy = roundMm(scanRng.uniform(site.fovXYmm[0], site.fovXYmm[1]) / Math.max(H, W));
  const z = roundMm(scanRng.uniform(site.coverageZmm[0], site.coverageZmm[1]) / D);
  const anatomyRng = new Rng(o.seed, 'anatomy', o.split, o.patient);
  const { hu, details, anatomy, aortaR } = renderPhantom({ nx: W, ny: H, nz: D, sx: xy, sy: xy, sz: z }, site, findings, anatomyRng, scanRng);
  const stored = new Int16Array(hu.length);
  for (let i = 0; i < hu.length; i++) {
    const v = Math.round((hu[i]! - RESCALE_INTERCEPT) / RESCALE_SLOPE);
    stored[i] = v < -32768 ? -32768 : v > 32767 ? 32767 : v;
  }
  return { hu, stored, dims: [W, H, D], spacing: { xy, z }, findings, details, anatomy, aortaR };
}

/** A single scan, with the patient's findings optionally overridden (for checking what each pathology looks like). */
export function renderScan(req: ScanRequest): RenderedScan {
  validateSynthOptions({ out: '<scan>', volumes: 1, seed: req.seed, site: req.site, shape: req.shape }, '<scan>');
  const site = resolveSite(req.site, '<scan>');
  const sampled = sampleFindings(new Rng(req.seed, 'patient', req.split, req.patient));
  return renderScanWith(req, site, { ...sampled, ...req.findings });
}

function* scansOf(o: SynthOptions, site: Site, split: 'train' | 'valid', count: number): Generator<Scan> {
  let made = 0;
  for (let p = 1; made < count; p++) {
    const patient = new Rng(o.seed, 'patient', split, p);
    const findings = sampleFindings(patient);
    const recons = Math.min(count - made, patient.bern(0.2) ? 2 : 1);
    let report: Scan['report'] | null = null;
    for (let r = 1; r <= recons; r++) {
      const scan = renderScanWith({ seed: o.seed, site: site.name, shape: o.shape, split, patient: p, recon: r }, site, findings);
      report ??= writeReport(findings, scan.details, new Rng(o.seed, 'report', split, p));
      const nii = encodeNifti1Int16({ dims: scan.dims, pixdim: [scan.spacing.xy, scan.spacing.xy, scan.spacing.z], data: scan.stored, description: `medctc synth v${SYNTH_VERSION} ${site.name}` });
      made++;
      yield { name: `${split}_${p}_a_${r}.nii.gz`, findings, report, xy: scan.spacing.xy, z: scan.spacing.z, gz: gzipSync(nii, { level: 6 }) };
    }
  }
}

/** Writes the dataset; calls `progress(done, total)` after each volume. Returns the manifest. */
export function generateSynthetic(o: SynthOptions, progress?: (done: number, total: number) => void): SynthManifest {
  validateSynthOptions(o, o.out);
  const site = resolveSite(o.site, o.out);
  prepareOutDir(o.out);
  const manifest: SynthManifest = {
    generator: SYNTH_GENERATOR, version: SYNTH_VERSION, complete: false,
    seed: o.seed, volumes: o.volumes, site: o.site, shape: o.shape, list: [],
  };
  writeFileAtomic(join(o.out, 'manifest.json'), JSON.stringify(manifest, null, 2) + '\n');
  const sizes = splitSizes(o.volumes);
  let done = 0;
  for (const split of ['train', 'valid'] as const) {
    const paths = layoutPaths(o.out, split);
    const labelRows: (string | number)[][] = [], reportRows: string[][] = [], metaRows: (string | number)[][] = [];
    for (const s of scansOf(o, site, split, sizes[split])) {
      writeFileAtomic(join(o.out, volumeRelativePath(split, s.name)), s.gz);
      const labels = Array.from(findingsToLabels(s.findings));
      labelRows.push([s.name, ...labels]);
      reportRows.push([s.name, 'Not given.', site.bloodHU > 100 ? 'Contrast-enhanced chest CT.' : 'Non-contrast chest CT.', s.report.findings, s.report.impressions]);
      metaRows.push([s.name, `synthetic-${site.name}`, RESCALE_SLOPE, RESCALE_INTERCEPT, `[${s.xy}, ${s.xy}]`, s.z]);
      manifest.list.push({ volumeName: s.name, split, labels, spacing: { xy: s.xy, z: s.z } });
      progress?.(++done, o.volumes);
    }
    writeFileAtomic(paths.labels, csv(['VolumeName', ...CT_RATE_PATHOLOGIES], labelRows));
    writeFileAtomic(paths.reports, csv(['VolumeName', 'ClinicalInformation_EN', 'Technique_EN', 'Findings_EN', 'Impressions_EN'], reportRows));
    writeFileAtomic(paths.metadata, csv(['VolumeName', 'Manufacturer', 'RescaleSlope', 'RescaleIntercept', 'XYSpacing', 'ZSpacing'], metaRows));
  }
  manifest.complete = true;
  writeFileAtomic(join(o.out, 'manifest.json'), JSON.stringify(manifest, null, 2) + '\n');
  return manifest;
}

const OWNED = ['train', 'valid', 'multi_abnormality_labels', 'radiology_text_reports', 'metadata', 'manifest.json'];

export function readManifest(root: string): SynthManifest | null {
  try {
    const m = JSON.parse(readFileSync(join(root, 'manifest.json'), 'utf8')) as SynthManifest;
    return m.generator === SYNTH_GENERATOR ? m : null;
  } catch {
    return null;
  }
}

/** True when `root` holds a complete dataset generated with exactly these arguments. */
export function manifestMatches(root: string, o: Omit<SynthOptions, 'out'>): boolean {
  const m = readManifest(root);
  return !!m && m.complete && m.version === SYNTH_VERSION && m.seed === o.seed && m.volumes === o.volumes &&
    m.site === o.site && m.shape.length === 3 && m.shape.every((n, i) => n === o.shape[i]);
}

/** An output folder is ours to (re)write when absent, empty, or holding an earlier synth dataset. */
function prepareOutDir(out: string): void {
  if (!existsSync(out)) { mkdirSync(out, { recursive: true }); return; }
  const entries = readdirSync(out);
  if (entries.length === 0) return;
  if (!readManifest(out)) {
    throw new DiagnosticError(diag('E5042', `${out} is not empty and has no medctc synth manifest.json; refusing to write into it`,
      { file: out, start: 0, end: 0 }, { help: 'choose an empty or new folder' }));
  }
  for (const e of OWNED) rmSync(join(out, e), { recursive: true, force: true });
}
