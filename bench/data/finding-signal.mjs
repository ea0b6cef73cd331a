// How much each finding changes what the model sees: the same synthetic patient rendered with one
// finding on and every other off, both preprocessed as the quickstart does (window ±1000 HU,
// 10 mm voxels, 32³, scaled by 1/1000), and the difference measured. From the repo root:
//   npm run build && node bench/data/finding-signal.mjs [SITE=source] [PATIENTS=16]
// Prints per finding the mean l2 norm of the change, its largest voxel and the mean count of
// voxels changed by more than 50 HU. Findings drawn with the anatomy (mosaic, airway findings)
// shift the random stream the airway tree is drawn from, so their change includes a redrawn tree.
import { renderScan } from '../../dist/runtime/data/synth/generate.js';
import { resizeTrilinear, resampledShape, cropOrPad } from '../../dist/runtime/data/preprocess.js';
import { CT_RATE_PATHOLOGIES } from '../../dist/compiler/ir/experiment.js';
const site = process.argv[2] ?? 'source', N = +(process.argv[3] ?? 16);
const none = Object.fromEntries(CT_RATE_PATHOLOGIES.map((p) => [p, false]));
function prep(s) {
  const [nx, ny, nz] = s.dims;
  const zxy = new Float32Array(nx * ny * nz);
  for (let k = 0; k < nz; k++) for (let j = 0; j < ny; j++) for (let i = 0; i < nx; i++) {
    const hu = Math.min(1000, Math.max(-1000, s.hu[(k * ny + j) * nx + i]));
    zxy[k * nx * ny + i * ny + j] = hu;
  }
  const size = resampledShape([nz, nx, ny], [s.spacing.z, s.spacing.xy, s.spacing.xy], [10, 10, 10]);
  const r = resizeTrilinear(zxy, [nz, nx, ny], size);
  for (let i = 0; i < r.length; i++) r[i] /= 1000;
  return cropOrPad(r, size, [32, 32, 32], -1);
}
const rows = [];
for (const p of CT_RATE_PATHOLOGIES) {
  let l2 = 0, mx = 0, n50 = 0;
  for (let q = 1; q <= N; q++) {
    const req = { seed: 5, site, shape: [40, 48, 48], split: 'train', patient: q };
    const off = prep(renderScan({ ...req, findings: none }));
    const on = prep(renderScan({ ...req, findings: { ...none, [p]: true } }));
    let s = 0;
    for (let i = 0; i < on.length; i++) { const d = on[i] - off[i]; s += d * d; mx = Math.max(mx, Math.abs(d)); if (Math.abs(d) > 0.05) n50++; }
    l2 += Math.sqrt(s);
  }
  rows.push([p, (l2 / N).toFixed(3), mx.toFixed(3), (n50 / N).toFixed(1)]);
}
console.log('label | mean ||Δ||₂ | max|Δ| | voxels |Δ|>50HU');
for (const r of rows) console.log(r.join(' | '));
