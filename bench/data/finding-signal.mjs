// How much each finding changes what the model sees: the same synthetic patient rendered with one
// finding on and every other off, both stored as `medctc synth` stores them and preprocessed by
// the spec's own `preprocess` (the quickstart's: window ±1000 HU, 10 mm voxels, 32³, / 1000), and
// the difference measured. From the repo root:
//   npm run build && node bench/data/finding-signal.mjs [SITE=source] [PATIENTS=16] [SPEC=examples/quickstart.medct]
// Prints per finding the mean l2 norm of the change, its largest voxel, the mean count of
// voxels changed by more than 50 HU, and the l2 norm of the change after the image encoder's
// first op: CTViT's to_patch_emb LayerNorm over each patch's voxels, which removes a patch's mean
// and scale (a finding that only shifts a region's density uniformly is gone after it). Findings drawn with the anatomy (mosaic, airway findings)
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
// LayerNorm without its affine over each patch (the preset's patch x patch x temporal patch), as
// to_patch_emb's first op sees the volume: (x - mean) / sqrt(var + 1e-5).
const img = exp.model.image, [D, H, W] = pp.size, pz = img.temporalPatchSize, pxy = img.patchSize;
function patchNorm(v) {
  const out = new Float64Array(v.length), idx = [];
  for (let z0 = 0; z0 < D; z0 += pz) for (let y0 = 0; y0 < H; y0 += pxy) for (let x0 = 0; x0 < W; x0 += pxy) {
    idx.length = 0;
    for (let z = z0; z < z0 + pz; z++) for (let y = y0; y < y0 + pxy; y++) for (let x = x0; x < x0 + pxy; x++) idx.push((z * H + y) * W + x);
    let m = 0; for (const i of idx) m += v[i]; m /= idx.length;
    let q = 0; for (const i of idx) q += (v[i] - m) ** 2; q /= idx.length;
    const r = 1 / Math.sqrt(q + 1e-5);
    for (const i of idx) out[i] = (v[i] - m) * r;
  }
  return out;
}
const rows = [];
for (const p of CT_RATE_PATHOLOGIES) {
  let l2 = 0, mx = 0, n50 = 0, l2ln = 0;
  for (let q = 1; q <= N; q++) {
    const req = { seed: 5, site, shape, split: 'train', patient: q };
    const off = prep(renderScan({ ...req, findings: none }));
    const on = prep(renderScan({ ...req, findings: { ...none, [p]: true } }));
    let s = 0;
    for (let i = 0; i < on.length; i++) { const d = on[i] - off[i]; s += d * d; mx = Math.max(mx, Math.abs(d)); if (Math.abs(d) > 50 / pp.scale) n50++; }
    l2 += Math.sqrt(s);
    const a = patchNorm(on), b = patchNorm(off);
    let t = 0; for (let i = 0; i < a.length; i++) t += (a[i] - b[i]) ** 2;
    l2ln += Math.sqrt(t);
  }
  rows.push([p, (l2 / N).toFixed(3), mx.toFixed(3), (n50 / N).toFixed(1), (l2ln / N).toFixed(2)]);
}
console.log('label | mean ||Δ||₂ | max|Δ| | voxels |Δ|>50HU | mean ||Δ||₂ after the patch LayerNorm');
for (const r of rows) console.log(r.join(' | '));
