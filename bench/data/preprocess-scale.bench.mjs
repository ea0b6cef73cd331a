// The first pass at CT-RATE scale: full-size volumes (512x512x300 int16 .nii.gz, 0.7 mm in-plane,
// 1.25 mm slices, as CT-RATE scans are) through CT-CLIP's preprocessing to 240x480x480, into the
// cache. Measures volumes/s with 1 worker (the calling thread, as before worker threads) and with
// 2 workers, the cache bytes per volume, and, when given a second medctc checkout's dist/ (the
// code before this change), the same first pass there. Build first, then from the repository root:
//   npx tsc -p tsconfig.json && node bench/data/preprocess-scale.bench.mjs [volumes=4] [BEFORE_DIST]
// Prints one JSON line per measurement.
import { mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { pathToFileURL } from 'node:url';
import { encodeNifti1Int16, generateSynthetic, openDataSet } from '../../dist/runtime/data/index.js';
import { PRESETS } from '../../dist/compiler/models/presets.js';
import { CT_RATE_PATHOLOGIES } from '../../dist/compiler/ir/experiment.js';

const volumes = Number(process.argv[2] ?? 4);
if (!(volumes >= 2)) throw new Error('at least 2 volumes');
const beforeDist = process.argv[3] ?? null;
const work = mkdtempSync(join(tmpdir(), 'medctc-bench-scale-'));
const report = (o) => process.stdout.write(JSON.stringify(o) + '\n');
const time = async (fn) => { const t0 = performance.now(); const r = await fn(); return [r, (performance.now() - t0) / 1000]; };
const cacheBytes = (dir) => readdirSync(dir, { recursive: true, withFileTypes: true }).filter((e) => e.isFile() && !e.name.endsWith('.json')).map((e) => statSync(join(e.parentPath, e.name)).size);

try {
  // CT-RATE's layout and tables from the generator, then every train volume replaced by a
  // full-size scan: a body-sized ellipse of soft tissue with lungs and noise in air (-1024 + raw).
  const root = join(work, 'ct');
  generateSynthetic({ out: root, volumes: Math.ceil(volumes / 0.8), seed: 1, site: 'source', shape: [12, 16, 16] });
  const [nx, ny, nz] = [512, 512, 300];
  const files = [];
  const walk = (d) => { for (const e of readdirSync(d, { withFileTypes: true })) { const p = join(d, e.name); if (e.isDirectory()) walk(p); else if (e.name.endsWith('.nii.gz')) files.push(p); } };
  walk(join(root, 'train'));
  let seed = 12345;
  const rand = () => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32);
  const [, writeS] = await time(() => {
    for (const f of files) {
      const data = new Int16Array(nx * ny * nz);
      for (let k = 0; k < nz; k++) for (let j = 0; j < ny; j++) for (let i = 0; i < nx; i++) {
        const x = (i - 256) / 220, y = (j - 256) / 160, lung = ((Math.abs(x) - 0.45) / 0.3) ** 2 + (y / 0.7) ** 2 < 1;
        const inside = x * x + y * y < 1;
        data[(k * ny + j) * nx + i] = (inside ? (lung ? 200 : 1064) : 0) + Math.floor(rand() * 40);
      }
      writeFileSync(f, gzipSync(encodeNifti1Int16({ dims: [nx, ny, nz], pixdim: [0.7, 0.7, 1.25], data, description: 'bench' }), { level: 1 }));
    }
  });
  // The metadata every train volume gets: CT-RATE's rescale and this spacing.
  const names = files.map((f) => f.slice(f.lastIndexOf('/') + 1));
  writeFileSync(join(root, 'metadata', 'train_metadata.csv'),
    ['VolumeName,RescaleSlope,RescaleIntercept,XYSpacing,ZSpacing', ...names.map((n) => `${n},1,-1024,"[0.7, 0.7]",1.25`)].join('\n') + '\n');
  report({ bench: 'write_full_size_volumes', volumes: files.length, input: [nz, nx, ny], gzBytes: statSync(files[0]).size, seconds: +writeS.toFixed(1) });

  const spec = (cacheDir) => ({ source: { kind: 'ct_rate', root }, trainSplit: 'train', evalSplit: 'valid', limit: volumes,
    preprocess: PRESETS.ct_clip.preprocess, cacheDir });
  const prompts = { positive: '', negative: '', pathologies: [...CT_RATE_PATHOLOGIES] };
  const pass = async (label, open, workers) => {
    const cacheDir = join(work, `cache-${label}`);
    const ds = await open(spec(cacheDir), prompts, { progress: 'quiet', workers });
    // CPU time of the process (worker threads included): on a shared box, how many cores it got.
    const c0 = process.resourceUsage();
    const [r, s] = await time(() => ds.train.prepare({ progress: 'quiet', workers }));
    const c1 = process.resourceUsage();
    const cpuS = (c1.userCPUTime - c0.userCPUTime + c1.systemCPUTime - c0.systemCPUTime) / 1e6;
    const bytes = cacheBytes(cacheDir);
    report({ bench: 'first_pass_full_size', code: label, workers, volumes: ds.train.items.length, ...r, seconds: +s.toFixed(1),
      volumesPerSecond: +(ds.train.items.length / s).toFixed(3), cpuSecondsPerVolume: +(cpuS / ds.train.items.length).toFixed(2), coresBusy: +(cpuS / s).toFixed(2), cacheBytesPerVolume: bytes[0], maxRssMB: Math.round(process.resourceUsage().maxRSS / 1024) });
    rmSync(cacheDir, { recursive: true, force: true });
  };
  if (beforeDist) {
    const before = await import(pathToFileURL(join(beforeDist, 'runtime/data/index.js')).href);
    await pass('before', before.openDataSet, 1);
  }
  await pass('after', openDataSet, 1);
  await pass('after', openDataSet, 2);
} finally {
  rmSync(work, { recursive: true, force: true });
}
