// Milliseconds per volume of the ct_clip_tiny eval forward (quickstart's eval plan: 1 volume of
// 32³ and all 36 prompts per forward, LoRA merged by the prepare kernels) on runtime/exec, per backend.
// The plan and kernels are a build folder's (written to a temp folder and read back, lock-checked,
// as `medctc run` does). From the repository root, after `npx tsc -p tsconfig.json`:
//   node bench/exec-forward.mjs [--backend all|cpu|webgpu|cuda|reference] [--iters N] [--spec FILE]
// Prints one JSON line per backend and a table. Each timed forward gets a new volume with the same
// prompt feeds, as zero-shot evaluation does: `hoisted` is the default executor (the invariant
// kernels, i.e. the text tower, ran once in the warm-up and are skipped), `recompute` the same with
// createExecutor(..., { hoistInvariant: false }) (every kernel every volume).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { checkFiles } from '../dist/compiler/check/index.js';
import { compileExperiment, writeBuild } from '../dist/compiler/build.js';
import { createExecutor } from '../dist/runtime/exec/index.js';
import { readBuild } from '../dist/runtime/run/build-dir.js';
import { tryOpenDevice, isUnavailable } from '../dist/runtime/device/index.js';
import { Rng } from '../dist/runtime/util/rng.js';

const args = process.argv.slice(2);
const opt = (name, def) => { const i = args.indexOf(`--${name}`); return i >= 0 ? args[i + 1] : def; };
const backends = opt('backend', 'all') === 'all' ? ['webgpu', 'cpu'] : [opt('backend')];
const iters = Number(opt('iters', 5));
const spec = opt('spec', 'examples/quickstart.medct');

const checked = checkFiles(spec);
const c = compileExperiment(checked.experiments[0], checked.sources);
const dir = mkdtempSync(join(tmpdir(), 'medctc-bench-exec-'));
await writeBuild(c, dir, { baseDir: dirname(resolve(spec)) });
const built = readBuild(dir);
const plan = built.plans.eval;
const rng = new Rng(1, 'bench');
const feeds = {};
for (const [name, id] of Object.entries(plan.inputs)) {
  const b = plan.buffers[id], n = b.shape.reduce((a, x) => a * x, 1);
  feeds[name] = name === 'input_ids' ? Int32Array.from({ length: n }, () => rng.int(100)) : name === 'attention_mask' ? new Float32Array(n).fill(1) : rng.fillNormal(new Float32Array(n), 0, 1);
}
const volumes = Array.from({ length: iters + 1 }, () => rng.fillNormal(new Float32Array(feeds.volume.length), 0, 1));
const fwd = plan.kernels.filter((k) => k.phase === 'forward');
console.log(JSON.stringify({ flops: { perVolume: c.report.flops.evalPerSample, invariantOncePerRun: c.report.flops.evalInvariant }, kernels: { forward: fwd.length, invariant: fwd.filter((k) => k.invariant).length } }));
const rows = [];
for (const name of backends) {
  const device = await tryOpenDevice(name);
  if (isUnavailable(device)) { console.log(JSON.stringify({ backend: name, unavailable: device.reason })); continue; }
  for (const mode of ['hoisted', 'recompute']) {
    const t0 = performance.now();
    const ex = await createExecutor(plan, device, { kernels: built.kernels(device.target), hoistInvariant: mode === 'hoisted' });
    const tCreate = performance.now() - t0;
    await ex.loadWeights({ seed: 7 }); // the plan's initialisers (runtime/exec/init.ts initWeights)
    await ex.prepare();
    await ex.run({ ...feeds, volume: volumes[0] }); await ex.output('logits'); // warm-up (computes the invariant kernels)
    const times = [];
    for (let i = 1; i <= iters; i++) {
      const s = performance.now();
      await ex.run({ ...feeds, volume: volumes[i] });
      await ex.output('logits');
      times.push(performance.now() - s);
    }
    ex.destroy();
    times.sort((a, b) => a - b);
    const kernels = mode === 'hoisted' ? fwd.filter((k) => !k.invariant).length : fwd.length;
    const row = { backend: name, mode, device: device.description, kernels, createMs: +tCreate.toFixed(1), medianMsPerVolume: +times[times.length >> 1].toFixed(1), minMs: +times[0].toFixed(1), iters };
    console.log(JSON.stringify(row));
    rows.push(row);
  }
  device.destroy();
}
rmSync(dir, { recursive: true, force: true });
console.table(rows);
