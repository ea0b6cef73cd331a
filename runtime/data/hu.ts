// Does a volume's HU look like HU? Where the values come from (`preprocess { hu }`) is easy to get
// wrong: CT-RATE v2's headers already scale to HU, and applying the metadata's RescaleIntercept
// -1024 on top moves air to about -2024 and soft tissue below -900. Any chest CT has air (outside
// the body, in the lungs: about -1000 HU) and soft tissue and bone above 0 HU, so a volume with
// (almost) nothing above 0 HU, or no air at all, was scaled wrongly. The check looks at one
// volume per split (a subsample of ~200k voxels) before the preprocessing pass, and names the
// `hu` setting under which the same volume would look right.
import { HU_SOURCES, type HuSource, type Preprocess } from '../../compiler/ir/experiment.js';
import { diag } from '../../base/diagnostics/catalog.js';
import type { Diagnostic } from '../../base/diagnostics/types.js';
import { readMetadata } from './ctrate_tables.js';
import { layoutPaths } from './layout.js';
import { readNiftiFile, type NiftiVolume } from './nifti.js';
import { huScaling } from './preprocess.js';

export interface HuStats {
  /** 1st and 99th percentile of the sampled HU. */
  p01: number;
  p99: number;
  /** Fraction of sampled voxels in the air band [-1100, -900] HU. */
  air: number;
}

const SAMPLES = 200_000;

export function huStats(vol: Pick<NiftiVolume, 'data' | 'sclSlope' | 'sclInter'>, meta: { slope: number; intercept: number }, hu: HuSource): HuStats {
  const s = huScaling(vol, meta, hu);
  const a = s.slope * s.headerSlope, b = s.slope * s.headerInter + s.intercept;
  const n = vol.data.length, step = Math.max(1, Math.floor(n / SAMPLES));
  const v = new Float64Array(Math.ceil(n / step));
  let m = 0, air = 0;
  for (let i = 0; i < n; i += step) {
    const x = a * vol.data[i]! + b;
    v[m++] = x;
    if (x >= -1100 && x <= -900) air++;
  }
  const sorted = v.subarray(0, m).sort();
  const q = (p: number) => sorted[Math.min(m - 1, Math.floor(p * m))]!;
  return { p01: q(0.01), p99: q(0.99), air: air / m };
}

/** What is wrong with the stats, or null when they look like a chest CT. */
export function huProblem(s: HuStats): string | null {
  if (s.p99 < 0) return `99% of its voxels are below 0 HU (99th percentile ${s.p99.toFixed(0)} HU): no soft tissue or bone, the values look rescaled twice`;
  if (s.air < 0.005) return `it has no air (${(100 * s.air).toFixed(2)}% of voxels in [-1100, -900] HU, 1st percentile ${s.p01.toFixed(0)} HU): the values look not rescaled to HU, or shifted`;
  return null;
}

/** W5021 for the first volume of `split` when its HU look wrong under `pp.hu`, else null. */
export function checkHuSample(root: string, split: string, item: { path: string; volumeName: string }, pp: Preprocess, shownAs: (p: string) => string = (p) => p): Diagnostic | null {
  const hu = pp.hu ?? 'header_and_metadata';
  const metaFile = layoutPaths(root, split).metadata;
  const meta = readMetadata(metaFile, shownAs(metaFile)).rows.get(item.volumeName);
  if (!meta) return null; // openSplit has already refused a volume without a row
  const vol = readNiftiFile(item.path, shownAs(item.path));
  const problem = huProblem(huStats(vol, meta, hu));
  if (!problem) return null;
  const better = HU_SOURCES.filter((h) => h !== hu && huProblem(huStats(vol, meta, h)) === null);
  const how = `header scl_slope ${vol.sclSlope}, scl_inter ${vol.sclInter}; metadata RescaleSlope ${meta.slope}, RescaleIntercept ${meta.intercept}`;
  return diag('W5021', `${item.volumeName} (split \`${split}\`) with \`hu ${hu}\`: ${problem} (${how})`, { file: shownAs(item.path), start: 0, end: 0 }, {
    help: better.length
      ? `with \`data { preprocess { hu ${better[0]} } }\` this volume looks like a chest CT${better[0] === 'header' ? ' (CT-RATE v2 volumes are in HU already)' : ''}`
      : 'check the volume and its metadata row: no `hu` setting makes it look like a chest CT',
  });
}
