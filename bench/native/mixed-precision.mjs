// precision bf16 / fp16 against fp32 on the native CPU backend: the quickstart's train step and
// eval forward through the plan executor (runtime/exec, the plans exactly as `medctc build`
// writes them: 16-bit storage included), and each plan's memory. Contenders alternate per round
// (fp32, bf16, fp16, fp32, ...) so load changes hit all; each figure is the median over rounds of
// the per-round median. From the repository root:
//   node bench/native/mixed-precision.mjs [--threads 1] [--steps 10] [--rounds 3]
import { createServer } from 'vite';

const args = process.argv.slice(2);
const opt = (name, def) => { const i = args.indexOf(`--${name}`); return i >= 0 ? args[i + 1] : def; };
const threads = Number(opt('threads', 1));
const steps = Number(opt('steps', 10));
const rounds = Number(opt('rounds', 3));
const med = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

const vite = await createServer({ server: { middlewareMode: true, hmr: false }, appType: 'custom', logLevel: 'error', optimizeDeps: { noDiscovery: true, include: [] } });
try {
  const { openNative } = await vite.ssrLoadModule('/runtime/device/native/index.ts');
  const { checkFiles } = await vite.ssrLoadModule('/compiler/check/index.ts');
  const { compileExperiment } = await vite.ssrLoadModule('/compiler/build.ts');
  const { execFor, feedsFor, weightsWithLora } = await vite.ssrLoadModule('/test/exec/fixtures.ts');
  const exp = checkFiles('examples/quickstart.medct').experiments[0];
  const dev = await openNative({ threads });
  if ('reason' in dev) throw new Error(dev.reason);
  const contenders = {};
  for (const precision of ['fp32', 'bf16', 'fp16']) {
    const c = compileExperiment({ ...exp, train: { ...exp.train, precision } });
    const weights = weightsWithLora(c.graphs.train, 21);
    const train = await execFor(c.plans.train, dev), ev = await execFor(c.plans.eval, dev);
    await train.loadWeights({ seed: 21, tensors: weights });
    await ev.loadWeights({ seed: 21, tensors: weights });
    await ev.prepare();
    contenders[precision] = {
      c, train, ev, trainFeeds: feedsFor(c.plans.train, c.graphs.train, 4), evalFeeds: feedsFor(c.plans.eval, c.graphs.eval, 5),
      trainMs: [], evalMs: [],
    };
  }
  const time = async (fn) => { const t = performance.now(); await fn(); return performance.now() - t; };
  for (let r = 0; r < rounds; r++) {
    for (const [, x] of Object.entries(contenders)) {
      const tr = [], ev = [];
      for (let s = 0; s < steps; s++) tr.push(await time(async () => { await x.train.run(x.trainFeeds, { dropoutSeed: s, adamStep: s + 1, lr: 0 }); await x.train.output('loss'); }));
      // A new volume each run: the invariant text tower is computed once, then skipped.
      for (let s = 0; s < steps; s++) {
        x.evalFeeds.volume[0] = s;
        ev.push(await time(async () => { await x.ev.run(x.evalFeeds); await x.ev.output('logits'); }));
      }
      x.trainMs.push(med(tr));
      x.evalMs.push(med(ev));
    }
  }
  const mib = (b) => (b / 2 ** 20).toFixed(2);
  const base = contenders.fp32;
  console.log(`| precision | train step ms (${threads} thread) | vs fp32 | eval forward ms per volume | vs fp32 | train: weights / work peak MiB | eval: weights / work peak MiB |`);
  console.log('|---|---:|---:|---:|---:|---:|---:|');
  for (const [p, x] of Object.entries(contenders)) {
    const [t, e] = [med(x.trainMs), med(x.evalMs)];
    const tm = x.c.plans.train.memory, em = x.c.plans.eval.memory;
    console.log(`| ${p} | ${t.toFixed(1)} | ${(t / med(base.trainMs)).toFixed(2)}x | ${e.toFixed(2)} | ${(e / med(base.evalMs)).toFixed(2)}x | ${mib(tm.weightsBytes)} / ${mib(tm.workPeakBytes)} | ${mib(em.weightsBytes)} / ${mib(em.workPeakBytes)} |`);
    console.log(JSON.stringify({ precision: p, threads, trainMs: t, evalMs: e, train: tm, eval: em }));
  }
  for (const x of Object.values(contenders)) { x.train.destroy(); x.ev.destroy(); }
  dev.destroy();
} finally {
  await vite.close();
}
