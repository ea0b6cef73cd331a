// Milliseconds per volume of the ct_clip_tiny eval forward (quickstart's eval plan: 1 volume of
// 32³ and all 36 prompts per forward, LoRA merged by the prepare kernels) on runtime/exec, per backend.
// From the repository root, after `npx tsc -p tsconfig.json`:
//   node bench/exec-forward.mjs [--backend all|cpu|webgpu] [--iters N]
// Prints one JSON line per backend and a table. Each timed forward gets a new volume with the same
// prompt feeds, as zero-shot evaluation does: `hoisted` is the default executor (the invariant
// kernels, i.e. the text tower, ran once in the warm-up and are skipped), `recompute` the same with
// createExecutor(..., { hoistInvariant: false }) (every kernel every volume).
import { checkFiles } from '../dist/compiler/check/index.js';
import { compileExperiment } from '../dist/compiler/build.js';
import { createExecutor, initWeights } from '../dist/runtime/exec/index.js';
import { tryOpenDevice, isUnavailable } from '../dist/runtime/device/index.js';
import { Rng } from '../dist/runtime/util/rng.js';

const args = process.argv.slice(2);
const opt = (name, def) => { const i = args.indexOf(`--${name}`); return i >= 0 ? args[i + 1] : def; };
const backends = opt('backend', 'all') === 'all' ? ['webgpu', 'cpu'] : [opt('backend')];
const iters = Number(opt('iters', 5));

const c = compileExperiment(checkFiles('examples/quickstart.medct').experiments[0]);
const plan = c.plans.eval, graph = c.graphs.eval;
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
    const ex = await createExecutor(plan, graph, device, { hoistInvariant: mode === 'hoisted' });
    const tCreate = performance.now() - t0;
    await ex.loadWeights({ seed: 7, tensors: initWeights(graph, 7) });
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
console.table(rows);
