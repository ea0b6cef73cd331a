// Milliseconds per ct_clip_tiny train step (the quickstart experiment: batch 4 volumes of 32³, 36
// prompts, LoRA r8 on 14 linears, dropout 0.05, grad clip 1, AdamW), per backend and per phase.
// Kernels are the plan's, as devices run them: forward KernelSpecs plus the few glue ops without a
// kernel yet (broadcast elementwise, slice, l2norm, rel_pos_grid: host-side), backward and optimizer
// lowered by compiler/kernels/launch-backward.ts. The runner is test/train/harness.ts (loaded
// through vite, which strips the types), one device buffer per plan buffer.
// From the repository root:
//   node bench/train-step.mjs [--backend all|cpu|webgpu] [--steps N] [--batch N] [--profile]
// Prints one JSON line per measurement and a table.
import { createServer } from 'vite';

const args = process.argv.slice(2);
const opt = (name, def) => { const i = args.indexOf(`--${name}`); return i >= 0 ? args[i + 1] : def; };
const backends = opt('backend', 'all') === 'all' ? ['webgpu', 'cpu'] : [opt('backend')];
const steps = Number(opt('steps', 3));
const batch = opt('batch', null);

const vite = await createServer({ server: { middlewareMode: true, hmr: false }, appType: 'custom', logLevel: 'error', optimizeDeps: { noDiscovery: true, include: [] } });
try {
  const { PlanRunner } = await vite.ssrLoadModule('/test/train/harness.ts');
  const { tinyTrain, feeds, weights } = await vite.ssrLoadModule('/test/train/setup.ts');
  const { tryOpenDevice, isUnavailable } = await vite.ssrLoadModule('/runtime/device/index.ts');
  const { checkFiles } = await vite.ssrLoadModule('/compiler/check/index.ts');
  const exp = checkFiles('examples/quickstart.medct').experiments[0];
  const { plan, graph } = tinyTrain({ dropout: exp.lora.dropout, gradClip: exp.train.gradClip, batch: batch === null ? exp.train.batchSize : Number(batch), pathologies: null });
  const rows = [];
  for (const name of backends) {
    const device = await tryOpenDevice(name);
    if (isUnavailable(device)) { console.log(JSON.stringify({ backend: name, unavailable: device.reason })); continue; }
    const run = new PlanRunner(plan, graph, device);
    await run.load(weights(graph, 7));
    const f = feeds(plan, 1);
    const phase = { forward: [], backward: [], optimizer: [], step: [] };
    for (let s = 0; s <= steps; s++) {
      const sc = { dropoutSeed: s, adamStep: s + 1, lr: 1e-3 };
      const t0 = performance.now();
      await run.run(f, sc, ['forward']);
      const t1 = performance.now();
      await run.run(f, sc, ['backward']);
      const t2 = performance.now();
      await run.run(f, sc, ['optimizer']);
      const t3 = performance.now();
      if (s === 0) continue; // warm-up: kernel compilation and pipeline creation
      phase.forward.push(t1 - t0); phase.backward.push(t2 - t1); phase.optimizer.push(t3 - t2); phase.step.push(t3 - t0);
    }
    if (args.includes('--profile')) {
      // One more step timing every kernel (exact on cpu; on webgpu it only times the enqueue).
      const byKind = new Map();
      run.onKernel = (k, ms) => byKind.set(k.kind, (byKind.get(k.kind) ?? 0) + ms);
      await run.run(f, { dropoutSeed: 0, adamStep: steps + 2, lr: 1e-3 }, ['forward', 'backward', 'optimizer']);
      run.onKernel = null;
      const top = [...byKind].sort((a, b) => b[1] - a[1]);
      console.log(JSON.stringify({ backend: name, profileMs: Object.fromEntries(top.map(([k, v]) => [k, +v.toFixed(1)])) }));
    }
    const med = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
    const row = { backend: name, device: device.description, images: plan.batch.images, texts: plan.batch.texts, kernels: plan.kernels.length, steps,
      forwardMs: +med(phase.forward).toFixed(1), backwardMs: +med(phase.backward).toFixed(1), optimizerMs: +med(phase.optimizer).toFixed(1), stepMs: +med(phase.step).toFixed(1) };
    console.log(JSON.stringify(row));
    rows.push(row);
    device.destroy();
  }
  console.log('\n| backend | batch (images, texts) | forward ms | backward ms | optimizer ms | step ms (median) |\n|---|---|---|---|---|---|');
  for (const r of rows) console.log(`| ${r.backend} | ${r.images}, ${r.texts} | ${r.forwardMs} | ${r.backwardMs} | ${r.optimizerMs} | ${r.stepMs} |`);
} finally {
  await vite.close();
}
