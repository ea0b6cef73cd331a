// Where HU come from (`preprocess { hu }`): each setting on small NIfTI files written here, the
// values compared with HU computed in the test from the stored values and the two scalings; the
// checker's typing of the field; and the W5021 warning for a volume rescaled twice (CT-RATE v2:
// the header already gives HU, the metadata intercept is applied on top) or not at all.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { checkFiles } from '../../compiler/check/index.js';
import type { HuSource, Preprocess } from '../../compiler/ir/experiment.js';
import { checkHuSample, huProblem, huStats } from '../../runtime/data/hu.js';
import { decodeNifti, encodeNifti1Int16 } from '../../runtime/data/nifti.js';
import { preprocessVolume } from '../../runtime/data/preprocess.js';
import { renderScan } from '../../runtime/data/synth/generate.js';
import { tempDir } from './helpers.js';

const DIMS: [number, number, number] = [6, 5, 4]; // nx, ny, nz
const N = DIMS[0] * DIMS[1] * DIMS[2];

/** A chest-like HU volume: 40% air, 40% soft tissue, some fat and bone. */
function trueHu(): Int16Array {
  const t = new Int16Array(N);
  for (let i = 0; i < N; i++) t[i] = [-1000, -1000, 40, 60, -100, 700, -1000, 30, 44, -990][i % 10]!;
  return t;
}

/** A NIfTI whose header carries scl_slope / scl_inter (the writer leaves them 1 / 0). */
function nifti(stored: Int16Array, scl: { slope: number; inter: number }): Uint8Array {
  const bytes = encodeNifti1Int16({ dims: DIMS, pixdim: [1, 1, 1], data: stored, description: 'hu test' });
  const v = new DataView(bytes.buffer, bytes.byteOffset);
  v.setFloat32(112, scl.slope, true);
  v.setFloat32(116, scl.inter, true);
  return bytes;
}

const PP = (hu?: HuSource): Preprocess => ({
  windowHU: [-4000, 4000], spacingMm: [1, 1, 1], size: [DIMS[2], DIMS[0], DIMS[1]], scale: 1000, padValue: -1, ...(hu ? { hu } : {}),
});

/** The pipeline's (z, x, y) order of NIfTI's x-fastest values, each / 1000 as float32. */
function expected(hu: (i: number) => number): Float32Array {
  const [nx, ny, nz] = DIMS;
  const out = new Float32Array(N);
  for (let z = 0; z < nz; z++) for (let x = 0; x < nx; x++) for (let y = 0; y < ny; y++) {
    out[(z * nx + x) * ny + y] = Math.fround(hu(x + nx * (y + ny * z))) / 1000;
  }
  return out;
}

describe('preprocess { hu }: where HU come from', () => {
  const t = trueHu();
  // Stored as CT-RATE v1 does: raw = HU + 1024, header unscaled, metadata intercept -1024.
  const raw = Int16Array.from(t, (x) => x + 1024);
  const meta = { slope: 1, intercept: -1024, spacingZXY: [1, 1, 1] as [number, number, number] };

  it('v1 layout (header unscaled): header_and_metadata and metadata give the HU, header and none the raw values', () => {
    const vol = decodeNifti(nifti(raw, { slope: 0, inter: 0 }), 'v1.nii');
    const hu = expected((i) => t[i]!), stored = expected((i) => raw[i]!);
    expect(preprocessVolume(vol, meta, PP())).toEqual(hu);
    expect(preprocessVolume(vol, meta, PP('header_and_metadata'))).toEqual(hu);
    expect(preprocessVolume(vol, meta, PP('metadata'))).toEqual(hu);
    expect(preprocessVolume(vol, meta, PP('header'))).toEqual(stored);
    expect(preprocessVolume(vol, meta, PP('none'))).toEqual(stored);
  });

  it('v2 layout (header scl_slope 2, scl_inter -1024 gives HU): header gives the HU, both applied shifts again', () => {
    const half = Int16Array.from(t, (x) => (x + 1024) / 2); // every value of trueHu is even
    const vol = decodeNifti(nifti(half, { slope: 2, inter: -1024 }), 'v2.nii');
    expect(preprocessVolume(vol, meta, PP('header'))).toEqual(expected((i) => t[i]!));
    expect(preprocessVolume(vol, meta, PP())).toEqual(expected((i) => t[i]! - 1024));
    expect(preprocessVolume(vol, meta, PP('metadata'))).toEqual(expected((i) => half[i]! - 1024));
    expect(preprocessVolume(vol, meta, PP('none'))).toEqual(expected((i) => half[i]!));
  });

  it('the HU-range check: a chest CT passes, rescaled twice or not at all does not', () => {
    const vol = decodeNifti(nifti(raw, { slope: 0, inter: 0 }), 'v1.nii');
    expect(huProblem(huStats(vol, meta, 'header_and_metadata'))).toBeNull();
    const twice = decodeNifti(nifti(raw, { slope: 1, inter: -1024 }), 'v2.nii');
    expect(huProblem(huStats(twice, meta, 'header_and_metadata'))).toMatch(/below 0 HU.*rescaled twice/);
    expect(huProblem(huStats(vol, meta, 'none'))).toMatch(/no air/);
    // Every synthetic scan (both sites, as medctc synth stores them) passes under the default.
    for (const site of ['source', 'target']) {
      const s = renderScan({ seed: 3, site, shape: [16, 24, 24], split: 'train', patient: 1 });
      expect(huProblem(huStats({ data: s.stored, sclSlope: 1, sclInter: 0 }, { slope: 1, intercept: -1024 }, 'header_and_metadata')), site).toBeNull();
    }
  });

  it('W5021 for the first volume of a split, naming the setting that fixes it', () => {
    const root = tempDir('hu');
    mkdirSync(join(root, 'metadata'));
    mkdirSync(join(root, 'train'));
    writeFileSync(join(root, 'metadata', 'train_metadata.csv'), 'VolumeName,RescaleSlope,RescaleIntercept,XYSpacing,ZSpacing\ntrain_1_a_1.nii,1,-1024,"[1, 1]",1\n');
    const path = join(root, 'train', 'train_1_a_1.nii');
    writeFileSync(path, nifti(raw, { slope: 1, inter: -1024 }));
    const item = { path, volumeName: 'train_1_a_1.nii' };
    const w = checkHuSample(root, 'train', item, PP());
    expect(w?.code).toBe('W5021');
    expect(w?.severity).toBe('warning');
    expect(w?.message).toContain('hu header_and_metadata');
    expect(w?.message).toContain('scl_inter -1024');
    expect(w?.help).toContain('hu header');
    expect(checkHuSample(root, 'train', item, PP('header'))).toBeNull();
  });
});

describe('the checker types `hu`', () => {
  const check = (hu: string) => checkFiles('x.medct', {
    readFile: () => `experiment "x" {\n  model ct_clip_tiny\n  data ct_rate {\n    root "d"\n    preprocess { ${hu} }\n  }\n}\n`,
  });
  it('accepts each setting; the default is header_and_metadata, marked as a default', () => {
    for (const h of ['header_and_metadata', 'header', 'metadata', 'none']) {
      const r = check(`hu ${h}`);
      expect(r.diagnostics.filter((d) => d.severity === 'error'), h).toEqual([]);
      expect(r.experiments[0]!.data.preprocess.hu).toBe(h);
      expect(r.experiments[0]!.provenance['/data/preprocess/hu']).toMatchObject({ kind: 'source', line: 5 });
    }
    const d = check('scale 1000');
    expect(d.experiments[0]!.data.preprocess.hu).toBe('header_and_metadata');
    expect(d.experiments[0]!.provenance['/data/preprocess/hu']).toEqual({ kind: 'default' });
  });
  it('a string or an unknown name is an error at the value', () => {
    expect(check('hu "header"').diagnostics[0]).toMatchObject({ code: 'E2004' });
    const e = check('hu both').diagnostics[0]!;
    expect(e.code).toMatch(/^E20/);
    expect(e.message).toContain('both');
  });
});
