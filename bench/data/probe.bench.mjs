// Learnability probe for the synthetic data at the tiny size: per-label logistic regression on
// 4x4x4-voxel average-pooled ct_clip_tiny inputs (32^3 -> 8^3 = 512 features) plus four global
// intensity-histogram fractions (metal/bone, calcium, ground glass, very low density), trained on the
// train split and scored by AUROC on the valid split. A floor for what a small model can learn.
//   npx tsc -p tsconfig.json && node bench/data/probe.bench.mjs [volumes=500] [site=source] [evalSite=same]
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openDataSet } from '../../dist/runtime/data/index.js';
import { PRESETS } from '../../dist/compiler/models/presets.js';
import { CT_RATE_PATHOLOGIES } from '../../dist/compiler/ir/experiment.js';

const volumes = Number(process.argv[2] ?? 500);
const site = process.argv[3] ?? 'source';
const evalSite = process.argv[4] ?? site;
const work = mkdtempSync(join(tmpdir(), 'medctc-probe-'));
const pp = PRESETS.ct_clip_tiny.preprocess;
const prompts = { positive: '', negative: '', pathologies: [...CT_RATE_PATHOLOGIES] };

async function features(siteName, split) {
  const spec = { source: { kind: 'synthetic', root: join(work, siteName), volumes, seed: 7, site: siteName, shape: [40, 48, 48] },
    trainSplit: 'train', evalSplit: 'valid', limit: null, preprocess: pp, cacheDir: join(work, 'cache') };
  const ds = await openDataSet(spec, prompts, { progress: 'quiet' });
  const s = split === 'train' ? ds.train : ds.eval;
  const X = [], Y = [];
  for (const it of s.items) {
    const v = await it.load();
    const f = new Float64Array(516);
    for (let z = 0; z < 32; z++) for (let y = 0; y < 32; y++) for (let x = 0; x < 32; x++) {
      const u = v[(z * 32 + y) * 32 + x];
      f[((z >> 2) * 8 + (y >> 2)) * 8 + (x >> 2)] += u / 64;
      if (u >= 0.999) f[512]++;
      if (u > 0.25) f[513]++;
      if (u > -0.7 && u < -0.3) f[514]++;
      if (u < -0.93 && u > -0.9999) f[515]++;
    }
    X.push(f); Y.push(it.labels);
  }
  return { X, Y };
}

function auroc(scores, labels) {
  const idx = scores.map((s, i) => i).sort((a, b) => scores[a] - scores[b]);
  let rank = 0, pos = 0, sumPos = 0;
  for (let i = 0; i < idx.length;) {
    let j = i; while (j < idx.length && scores[idx[j]] === scores[idx[i]]) j++;
    const r = (i + j + 1) / 2;
    for (let k = i; k < j; k++) if (labels[idx[k]]) { sumPos += r; pos++; }
    i = j; rank = j;
  }
  const neg = idx.length - pos;
  return pos && neg ? (sumPos - pos * (pos + 1) / 2) / (pos * neg) : NaN;
}

try {
  const tr = await features(site, 'train');
  const ev = await features(evalSite, 'valid');
  const d = 516;
  const mean = new Float64Array(d), sd = new Float64Array(d);
  for (const f of tr.X) for (let i = 0; i < d; i++) mean[i] += f[i] / tr.X.length;
  for (const f of tr.X) for (let i = 0; i < d; i++) sd[i] += (f[i] - mean[i]) ** 2 / tr.X.length;
  // Features constant on the train split (padding, FOV) get unit scale, or a shift of another site blows up.
  for (let i = 0; i < d; i++) sd[i] = Math.sqrt(sd[i]) > 1e-3 ? Math.sqrt(sd[i]) : 1;
  const norm = (X) => X.map((f) => f.map((v, i) => (v - mean[i]) / sd[i]));
  const Xt = norm(tr.X), Xe = norm(ev.X);
  const result = {};
  for (let p = 0; p < CT_RATE_PATHOLOGIES.length; p++) {
    const w = new Float64Array(d); let b = 0;
    const lr = 0.05, l2 = 0.02;
    for (let epoch = 0; epoch < 300; epoch++) {
      const g = new Float64Array(d); let gb = 0;
      for (let n = 0; n < Xt.length; n++) {
        let z = b; for (let i = 0; i < d; i++) z += w[i] * Xt[n][i];
        const e = 1 / (1 + Math.exp(-z)) - tr.Y[n][p];
        for (let i = 0; i < d; i++) g[i] += e * Xt[n][i];
        gb += e;
      }
      for (let i = 0; i < d; i++) w[i] -= lr * (g[i] / Xt.length + l2 * w[i]);
      b -= lr * gb / Xt.length;
    }
    const scores = Xe.map((f) => f.reduce((s, v, i) => s + v * w[i], b));
    result[CT_RATE_PATHOLOGIES[p]] = +auroc(scores, ev.Y.map((y) => y[p])).toFixed(3);
  }
  const vals = Object.values(result).filter((v) => !Number.isNaN(v));
  process.stdout.write(JSON.stringify({ bench: 'probe', volumes, site, evalSite, train: Xt.length, valid: Xe.length, meanAUROC: +(vals.reduce((a, b) => a + b, 0) / vals.length).toFixed(3), perLabel: result }, null, 1) + '\n');
} finally {
  rmSync(work, { recursive: true, force: true });
}
