// Data-layer timings. Build first, then run from the repository root:
//   npx tsc -p tsconfig.json && node bench/data/data.bench.mjs [volumes=200]
// Prints one JSON line per measurement.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateSynthetic, openDataSet, preprocessVolume } from '../../dist/runtime/data/index.js';
import { PRESETS } from '../../dist/compiler/models/presets.js';
import { CT_RATE_PATHOLOGIES } from '../../dist/compiler/ir/experiment.js';

const volumes = Number(process.argv[2] ?? 200);
const work = mkdtempSync(join(tmpdir(), 'medctc-bench-'));
const report = (o) => process.stdout.write(JSON.stringify(o) + '\n');
const time = async (fn) => { const t0 = performance.now(); const r = await fn(); return [r, (performance.now() - t0) / 1000]; };

try {
  // 1. Synthesis: N volumes of the default 40x48x48 shape.
  const root = join(work, 'synth');
  const [, synthS] = await time(() => generateSynthetic({ out: root, volumes, seed: 1, site: 'source', shape: [40, 48, 48] }));
  report({ bench: 'synth', volumes, shape: [40, 48, 48], seconds: +synthS.toFixed(2), perVolumeMs: +(1000 * synthS / volumes).toFixed(1) });

  // 2. First pass (read .nii.gz, preprocess to ct_clip_tiny's 32^3, write cache), then a cached pass.
  const spec = { source: { kind: 'ct_rate', root }, trainSplit: 'train', evalSplit: 'valid', limit: null,
    preprocess: PRESETS.ct_clip_tiny.preprocess, cacheDir: join(work, 'cache') };
  const ds = await openDataSet(spec, { positive: '', negative: '', pathologies: [...CT_RATE_PATHOLOGIES] }, { progress: 'quiet' });
  const n = ds.train.items.length;
  const [first, firstS] = await time(() => ds.train.prepare({ progress: 'quiet' }));
  report({ bench: 'preprocess_tiny_first_pass', volumes: n, ...first, seconds: +firstS.toFixed(2), perVolumeMs: +(1000 * firstS / n).toFixed(2) });
  const [, loadS] = await time(async () => { for (const it of ds.train.items) await it.load(); });
  report({ bench: 'load_tiny_cached', volumes: n, seconds: +loadS.toFixed(2), perVolumeMs: +(1000 * loadS / n).toFixed(2) });

  // 3. One CT-RATE-sized volume through the full CT-CLIP preprocessing (to 240x480x480).
  const [nx, ny, nz] = [512, 512, 300];
  const data = new Int16Array(nx * ny * nz);
  for (let i = 0; i < data.length; i++) data[i] = (i * 7919) % 3000;
  const vol = { version: 1, dims: [nx, ny, nz], pixdim: [0.7, 0.7, 1.25], datatype: 'int16', sclSlope: 1, sclInter: 0, data };
  const [out, fullS] = await time(() => preprocessVolume(vol, { slope: 1, intercept: -1024, spacingZXY: [1.25, 0.7, 0.7] }, PRESETS.ct_clip.preprocess));
  report({ bench: 'preprocess_ct_clip_full_size', input: [nz, nx, ny], output: PRESETS.ct_clip.preprocess.size, outputVoxels: out.length, seconds: +fullS.toFixed(2) });
} finally {
  rmSync(work, { recursive: true, force: true });
}
