// How much each finding changes what the model sees: the same synthetic patient rendered with one
// finding on and every other off, both stored as `medctc synth` stores them and preprocessed by
// the spec's own `preprocess` (the quickstart's: window ±1000 HU, 10 mm voxels, 32³, / 1000), and
// the difference measured. From the repo root:
//   npm run build && node bench/data/finding-signal.mjs [SITE=source] [PATIENTS=16] [SPEC=examples/quickstart.medct]
// Prints per finding the mean l2 norm of the change, its largest voxel and the mean count of
// voxels changed by more than 50 HU. Findings drawn with the anatomy (mosaic, airway findings)
// shift the random stream the airway tree is drawn from, so their change includes a redrawn tree.
import { checkFiles } from '../../dist/compiler/check/index.js';
import { CT_RATE_PATHOLOGIES } from '../../dist/compiler/ir/experiment.js';
import { preprocessVolume } from '../../dist/runtime/data/preprocess.js';
import { RESCALE_INTERCEPT, RESCALE_SLOPE } from '../../dist/runtime/data/synth/sites.js';
import { renderScan } from '../../dist/runtime/data/synth/generate.js';

const site = process.argv[2] ?? 'source', N = +(process.argv[3] ?? 16), spec = process.argv[4] ?? 'examples/quickstart.medct';
const exp = checkFiles(spec).experiments[0];
if (!exp) { console.error(`${spec}: no experiment (run \`medctc check ${spec}\`)`); process.exit(2); }
if (exp.data.source.kind !== 'synthetic') { console.error(`${spec}: data is not synthetic`); process.exit(2); }
const pp = exp.data.preprocess, shape = exp.data.source.shape;
const none = Object.fromEntries(CT_RATE_PATHOLOGIES.map((p) => [p, false]));
// Spacing per working axis (z, x, y), as the dataset's metadata gives it to the loader.
const prep = (s) => preprocessVolume({ dims: s.dims, data: s.stored, sclSlope: 1, sclInter: 0 },
  { slope: RESCALE_SLOPE, intercept: RESCALE_INTERCEPT, spacingZXY: [s.spacing.z, s.spacing.xy, s.spacing.xy] }, pp);
const rows = [];
for (const p of CT_RATE_PATHOLOGIES) {
  let l2 = 0, mx = 0, n50 = 0;
  for (let q = 1; q <= N; q++) {
    const req = { seed: 5, site, shape, split: 'train', patient: q };
    const off = prep(renderScan({ ...req, findings: none }));
    const on = prep(renderScan({ ...req, findings: { ...none, [p]: true } }));
    let s = 0;
    for (let i = 0; i < on.length; i++) { const d = on[i] - off[i]; s += d * d; mx = Math.max(mx, Math.abs(d)); if (Math.abs(d) > 50 / pp.scale) n50++; }
    l2 += Math.sqrt(s);
  }
  rows.push([p, (l2 / N).toFixed(3), mx.toFixed(3), (n50 / N).toFixed(1)]);
}
console.log('label | mean ||Δ||₂ | max|Δ| | voxels |Δ|>50HU');
for (const r of rows) console.log(r.join(' | '));
