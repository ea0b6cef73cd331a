// Full-size CT-CLIP zero-shot eval forward on the native CPU device: examples/medct-vlm.medct's
// eval plan (ct_clip, one 240×480×480 volume per forward, 36 prompts of 512 tokens, LoRA r24
// merged by the prepare kernels), seeded weights (the plan's initialisers; no real weights
// offline: the time does not depend on their values). From the repository root:
//   node bench/native/ct-clip-full.mjs [--threads 2] [--volumes 2] [--spec examples/medct-vlm.medct] [--profile]
// --profile: wall time per kernel kind of each timed volume (the native dispatch is synchronous,
// so the time around device.dispatch is the kernel's).
// Runs on runtime/exec (createExecutor with C sources generated in memory, as a build folder
// holds them). The first run computes the invariant kernels (the text tower, once per
// evaluation) and one volume; each later run is one volume (text hoisted), timed on its own.
// FLOP counts are the build report's (report.flops.evalPerSample / evalInvariant).
// Prints JSON lines: build, compile, weights, first run, each volume, and the summary.
import { createServer } from 'vite';
import { loadavg, freemem } from 'node:os';

const args = process.argv.slice(2);
const opt = (name, def) => { const i = args.indexOf(`--${name}`); return i >= 0 ? args[i + 1] : def; };
const threads = Number(opt('threads', 2));
const volumes = Number(opt('volumes', 2));
const specFile = opt('spec', 'examples/medct-vlm.medct');
const profile = args.includes('--profile');
const load = () => loadavg().map((x) => x.toFixed(2)).join(' ');
const log = (o) => console.log(JSON.stringify({ ...o, load: load() }));

const vite = await createServer({ server: { middlewareMode: true, hmr: false, ws: false }, appType: 'custom', logLevel: 'error', optimizeDeps: { noDiscovery: true, include: [] } });
try {
  const { checkFiles } = await vite.ssrLoadModule('/compiler/check/index.ts');
  const { compileExperiment } = await vite.ssrLoadModule('/compiler/build.ts');
  const { createExecutor } = await vite.ssrLoadModule('/runtime/exec/index.ts');
  const { emittedLibrary } = await vite.ssrLoadModule('/compiler/codegen/library.ts');
  const { openNative } = await vite.ssrLoadModule('/runtime/device/native/index.ts');
  const { Rng } = await vite.ssrLoadModule('/runtime/util/rng.ts');
  let t = performance.now();
  const ch = checkFiles(specFile);
  const c = compileExperiment(ch.experiments[0], ch.sources);
  const plan = c.plans.eval;
  const flops = c.report.flops;
  log({ step: 'build', ms: Math.round(performance.now() - t), spec: specFile, flopsPerVolume: flops.evalPerSample, flopsInvariant: flops.evalInvariant,
    weightsBytes: c.report.memory.weightsBytes, evalPeakActivationBytes: c.report.memory.activations.eval.peakBytes, kernels: plan.kernels.length, freeGiB: +(freemem() / 2 ** 30).toFixed(1) });
  const dev = await openNative({ threads });
  if ('reason' in dev) { log({ unavailable: dev.reason }); process.exit(2); }
  const byKind = new Map();
  if (profile) {
    const dispatch = dev.dispatch.bind(dev);
    dev.dispatch = (program, buffers) => {
      const t0 = performance.now();
      dispatch(program, buffers);
      const e = byKind.get(program.spec.kind) ?? { ms: 0, launches: 0 };
      e.ms += performance.now() - t0; e.launches++;
      byKind.set(program.spec.kind, e);
    };
  }
  t = performance.now();
  const ex = await createExecutor(plan, dev, { kernels: emittedLibrary('c') });
  log({ step: 'createExecutor (compile + allocate)', ms: Math.round(performance.now() - t), device: dev.description });
  t = performance.now();
  await ex.loadWeights({ seed: 7 });
  await ex.prepare();
  log({ step: 'loadWeights (seeded init) + prepare (LoRA merge)', ms: Math.round(performance.now() - t) });
  const rng = new Rng(1, 'bench-full');
  const feeds = {};
  for (const [name, id] of Object.entries(plan.inputs)) {
    const b = plan.buffers[id], n = b.shape.reduce((a, x) => a * x, 1);
    if (name === 'input_ids') feeds[name] = Int32Array.from({ length: n }, () => 1 + rng.int(20000));
    else if (name === 'attention_mask') { const [rows, len] = b.shape; const m = new Float32Array(n); for (let r = 0; r < rows; r++) for (let j = 0; j < 12 + (r % 8); j++) m[r * len + j] = 1; feeds[name] = m; }
    else if (name !== 'volume') feeds[name] = rng.fillNormal(new Float32Array(n));
  }
  const nVol = plan.buffers[plan.inputs.volume].shape.reduce((a, x) => a * x, 1);
  const volume = () => rng.fillNormal(new Float32Array(nVol), 0, 1);
  t = performance.now();
  await ex.run({ ...feeds, volume: volume() });
  const first = await ex.output('logits');
  const firstMs = performance.now() - t;
  log({ step: 'first run: text tower (invariant) + volume 1', ms: Math.round(firstMs), gflops: +((flops.evalPerSample + flops.evalInvariant) / firstMs / 1e6).toFixed(1), finite: first.every(Number.isFinite) });
  const per = [];
  for (let v = 0; v < volumes; v++) {
    const vol = volume();
    byKind.clear();
    t = performance.now();
    await ex.run({ ...feeds, volume: vol });
    const logits = await ex.output('logits');
    const ms = performance.now() - t;
    per.push(ms);
    log({ step: `volume ${v + 2} (text hoisted)`, ms: Math.round(ms), gflops: +(flops.evalPerSample / ms / 1e6).toFixed(1), finite: logits.every(Number.isFinite) });
    if (profile) log({ profileMsByKind: Object.fromEntries([...byKind].sort((a, b) => b[1].ms - a[1].ms).map(([k, e]) => [k, { ms: Math.round(e.ms), launches: e.launches }])) });
  }
  const med = [...per].sort((a, b) => a - b)[per.length >> 1];
  const textMs = firstMs - med;
  log({ summary: true, threads, msPerVolume: Math.round(med), gflopsPerVolume: +(flops.evalPerSample / med / 1e6).toFixed(1),
    textTowerMsEstimate: Math.round(textMs), textGflopsEstimate: +(flops.evalInvariant / textMs / 1e6).toFixed(1), volumes: per.map((x) => Math.round(x)) });
  ex.destroy();
  dev.destroy();
} finally {
  await vite.close();
}
