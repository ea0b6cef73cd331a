// ct_clip_tiny on the native CPU device against PyTorch eager on the same threads: the quickstart
// train step (batch 4 volumes of 32³ + 36 prompts, LoRA r8 dropout 0.05, grad clip, AdamW:
// forward + backward + optimizer) and the eval forward per volume (text tower hoisted: the
// plan's invariant kernels run once, then each volume runs the rest). PyTorch runs the same
// model written in bench/native/torch_ct_clip_tiny.py (parameter count checked against the plan).
// From the repository root:
//   node bench/native/ct-clip-tiny.mjs [--threads 1,2] [--steps 20] [--rounds 3] [--no-torch]
// Contenders alternate per round (medctc, torch, medctc, ...) so load changes hit both; each
// figure is the median over rounds of the per-round median. Prints JSON lines and a table.
//
// The plan runs through compiler/kernels/launch.ts's lowering with one device buffer per plan
// buffer, every kernel compiled in one batch: the same kernels runtime/exec dispatches.
import { spawnSync } from 'node:child_process';

// PyTorch runs with the OpenMP settings the user started this script with: medctc sets its own
// wait policy in process.env when it opens the device (runtime/device/native configureOpenMpWait),
// and PyTorch's libgomp would otherwise inherit it instead of its own default.
const userEnv = { ...process.env };
import { createServer } from 'vite';

const args = process.argv.slice(2);
const opt = (name, def) => { const i = args.indexOf(`--${name}`); return i >= 0 ? args[i + 1] : def; };
const threadList = opt('threads', '1,2').split(',').map(Number);
const steps = Number(opt('steps', 20));
const rounds = Number(opt('rounds', 3));
const torch = !args.includes('--no-torch');
const profile = args.includes('--profile');
const med = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

const vite = await createServer({ server: { middlewareMode: true, hmr: false }, appType: 'custom', logLevel: 'error', optimizeDeps: { noDiscovery: true, include: [] } });
try {
  const { openNative } = await vite.ssrLoadModule('/runtime/device/native/index.ts');
  const { cSource } = await vite.ssrLoadModule('/test/device/native/helpers.ts');
  const { lowerKernel } = await vite.ssrLoadModule('/compiler/kernels/launch.ts');
  const { kernelName } = await vite.ssrLoadModule('/compiler/kernels/spec.ts');
  const { tinyTrain, feeds, weights } = await vite.ssrLoadModule('/test/train/setup.ts');
  const { initTensors } = await vite.ssrLoadModule('/test/train/harness.ts');
  const { checkFiles } = await vite.ssrLoadModule('/compiler/check/index.ts');
  const { compileExperiment } = await vite.ssrLoadModule('/compiler/build.ts');
  const exp = checkFiles('examples/quickstart.medct').experiments[0];
  // The quickstart's pretrained base has a 160-long text position table; the train plan
  // (test/train/setup.ts) and the PyTorch model have the preset's 64. A gather table costs no
  // FLOPs, but the parameter check below compares like with like, so the eval plan gets 64 too.
  exp.model.text.maxPositions = 64;
  exp.model.weights = null;
  const train = tinyTrain({ dropout: exp.lora.dropout, gradClip: exp.train.gradClip, batch: exp.train.batchSize, pathologies: null });
  const built = compileExperiment(exp);
  const evalPlan = built.plans.eval, evalGraph = built.graphs.eval;
  const trainable = train.plan.buffers.filter((b) => b.kind === 'param_grad').reduce((a, b) => a + b.shape.reduce((x, y) => x * y, 1), 0);
  const weightCount = (plan) => plan.buffers.filter((b) => b.kind === 'weight').reduce((a, b) => a + b.shape.reduce((x, y) => x * y, 1), 0);

  async function runner(dev, plan, tensors) {
    const lowered = plan.kernels.map((k) => {
      const l = lowerKernel(plan, k);
      if ('unsupported' in l) throw new Error(l.unsupported);
      return l;
    });
    const specs = new Map();
    for (const l of lowered) for (const s of l.steps) specs.set(kernelName(s.spec), s.spec);
    const t0 = performance.now();
    const progs = await dev.compile([...specs.values()].map(cSource));
    const compileMs = performance.now() - t0;
    const byName = new Map(progs.map((p) => [p.name, p]));
    const bufs = plan.buffers.map((b) => dev.alloc(b.bytes));
    const params = dev.alloc(16);
    const scratch = new Map();
    for (const b of plan.buffers) {
      if (b.kind === 'weight') {
        const v = tensors.get(b.name);
        if (!v) throw new Error(`no value for weight ${b.name}`);
        await dev.upload(bufs[b.id], v);
      }
    }
    const calls = plan.kernels.map((k, i) => lowered[i].steps.map((st) => ({
      program: byName.get(kernelName(st.spec)),
      buffers: st.args.map((a) => {
        if (a === 'params') return params;
        const id = lowered[i].buffers[a];
        if (id !== undefined) return bufs[id];
        if (!scratch.has(a)) scratch.set(a, dev.alloc(lowered[i].scratch[a].elements * 4));
        return scratch.get(a);
      }),
    })));
    return {
      compileMs, kernels: specs.size,
      async feed(f) { for (const [name, data] of Object.entries(f)) await dev.upload(bufs[plan.inputs[name]], data); },
      async scalars(s) { const p = new Uint32Array(4); p[0] = s.seed; p[1] = s.step; p[2] = new Uint32Array(Float32Array.of(s.lr).buffer)[0]; await dev.upload(params, p); },
      run(filter, onKernel = null) {
        plan.kernels.forEach((k, i) => {
          if (!filter(k)) return;
          const t0 = onKernel ? performance.now() : 0;
          for (const c of calls[i]) dev.dispatch(c.program, c.buffers);
          onKernel?.(k, performance.now() - t0);
        });
      },
    };
  }

  const rows = [];
  for (const threads of threadList) {
    const dev = await openNative({ threads });
    if ('reason' in dev) { console.log(JSON.stringify({ backend: 'native', unavailable: dev.reason })); break; }
    const tr = await runner(dev, train.plan, weights(train.graph, 7));
    await tr.feed(feeds(train.plan, 1));
    const ev = await runner(dev, evalPlan, initTensors(evalGraph, 7));
    const evFeeds = feeds(evalPlan, 2);
    delete evFeeds.targets;
    await ev.feed(evFeeds);
    await ev.scalars({ seed: 0, step: 1, lr: 0 });
    ev.run((k) => k.phase === 'prepare' || k.phase === 'forward');
    console.log(JSON.stringify({ threads, device: dev.description, compiler: dev.compiler, trainKernels: tr.kernels, evalKernels: ev.kernels, compileMs: Math.round(tr.compileMs + ev.compileMs) }));
    const volume = evFeeds.volume;
    if (profile) {
      // Dispatch is synchronous on this device: the wall time around a kernel's launches is its time.
      const by = new Map();
      for (let s = 0; s < 5; s++) tr.run(() => true, (k, ms) => by.set(k.kind, (by.get(k.kind) ?? 0) + ms / 5));
      console.log(JSON.stringify({ threads, profileTrainStepMs: Object.fromEntries([...by].sort((a, b) => b[1] - a[1]).map(([k, v]) => [k, +v.toFixed(2)])) }));
    }
    const res = { medctc: { train: [], eval: [] }, torch: { train: [], eval: [] } };
    let torchInfo = null;
    for (let r = 0; r < rounds; r++) {
      const st = [];
      for (let s = 0; s <= steps; s++) {
        await tr.scalars({ seed: s, step: s + 1, lr: 1e-3 });
        const t0 = performance.now();
        tr.run(() => true);
        if (s > 0) st.push(performance.now() - t0);
      }
      const evt = [];
      for (let s = 0; s <= steps; s++) {
        volume[s % volume.length] += 1e-3;
        await ev.feed({ volume });
        const t0 = performance.now();
        ev.run((k) => k.phase === 'forward' && !k.invariant);
        if (s > 0) evt.push(performance.now() - t0);
      }
      res.medctc.train.push(med(st)); res.medctc.eval.push(med(evt));
      console.log(JSON.stringify({ round: r, threads, contender: 'medctc-native', trainStepMs: +med(st).toFixed(2), evalVolumeMs: +med(evt).toFixed(3) }));
      if (torch) {
        const p = spawnSync(process.env.TORCH_PYTHON ?? '/usr/bin/python3', ['bench/native/torch_ct_clip_tiny.py', '--threads', String(threads), '--steps', String(steps)], { encoding: 'utf8', env: userEnv });
        if (p.status !== 0) { console.log(JSON.stringify({ torch: 'failed', stderr: p.stderr.slice(-2000) })); continue; }
        const t = JSON.parse(p.stdout.trim().split('\n').pop());
        torchInfo = t;
        res.torch.train.push(t.trainStepMs); res.torch.eval.push(t.evalVolumeMs);
        console.log(JSON.stringify({ round: r, threads, contender: 'pytorch', ...t }));
      }
    }
    const row = { threads, medctcTrainMs: +med(res.medctc.train).toFixed(2), medctcEvalMs: +med(res.medctc.eval).toFixed(3),
      torchTrainMs: torchInfo ? +med(res.torch.train).toFixed(2) : null, torchEvalMs: torchInfo ? +med(res.torch.eval).toFixed(3) : null,
      torch: torchInfo ? { version: torchInfo.torch, params: torchInfo.params, trainable: torchInfo.trainable } : null,
      medctcParams: weightCount(evalPlan), medctcTrainable: trainable };
    if (torchInfo && (torchInfo.params !== row.medctcParams || torchInfo.trainable !== trainable)) {
      console.log(JSON.stringify({ warning: `not the same model: PyTorch ${torchInfo.params} weights / ${torchInfo.trainable} trainable, medctc ${row.medctcParams} / ${trainable}` }));
    }
    console.log(JSON.stringify(row));
    rows.push(row);
    dev.destroy();
  }
  console.log('\n| threads | train step: medctc native | PyTorch eager | ratio | eval forward / volume: medctc native | PyTorch eager | ratio |\n|---|---|---|---|---|---|---|');
  for (const r of rows) {
    const ratio = (a, b) => (a && b ? `${(b / a).toFixed(2)}x` : 'n/a');
    console.log(`| ${r.threads} | ${r.medctcTrainMs} ms | ${r.torchTrainMs ?? 'n/a'} ms | ${ratio(r.medctcTrainMs, r.torchTrainMs)} | ${r.medctcEvalMs} ms | ${r.torchEvalMs ?? 'n/a'} ms | ${ratio(r.medctcEvalMs, r.torchEvalMs)} |`);
  }
} finally {
  await vite.close();
}
