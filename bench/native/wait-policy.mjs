// OpenMP wait policy on a busy machine: steps/s of the ct_clip_tiny quickstart train step
// (forward + backward + grad clip + AdamW, as bench/native/ct-clip-tiny.mjs) on the native
// device, with and without another CPU-bound process running, per wait setting:
//   before    GOMP_SPINCOUNT=300000: libgomp's own default when OMP_WAIT_POLICY is unset (spin
//             ~300,000 iterations, a few ms, before sleeping) — what medctc ran with before it
//             set a policy; setting it explicitly makes medctc leave it alone
//   passive   OMP_WAIT_POLICY=passive: sleep at once (medctc's default until 2026-12-07)
//   after     nothing set: medctc's default (runtime/device/native configureOpenMpWait:
//             GOMP_SPINCOUNT=1000, a short spin)
//   1 thread  MEDCTC_THREADS=1 (nothing to wait for), for scale
// Each variant runs in its own process (the OpenMP runtime reads its variables once, when it
// loads); variants alternate within each round; per variant: the median over rounds of the
// per-round median step time. Every child also prints a sha256 of the loss and all weights after
// its steps: equal hashes = bit-identical training whatever the wait policy.
// From the repository root:
//   node bench/native/wait-policy.mjs [--steps 10] [--rounds 3] [--busy 1] [--no-idle] [--spins 3000,30000]
// Conditions: "as is" (whatever else the machine runs; record its load) and "busy" (+ --busy N).
// --busy N: N busy-loop processes (`node -e 'for(;;);'`) run during the "busy" condition.
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { loadavg } from 'node:os';

const args = process.argv.slice(2);
const opt = (name, def) => { const i = args.indexOf(`--${name}`); return i >= 0 ? args[i + 1] : def; };
const med = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

if (args.includes('--child')) {
  const steps = Number(opt('steps', 10));
  const { createServer } = await import('vite');
  const vite = await createServer({ server: { middlewareMode: true, hmr: false }, appType: 'custom', logLevel: 'error', optimizeDeps: { noDiscovery: true, include: [] } });
  try {
    const { openNative } = await vite.ssrLoadModule('/runtime/device/native/index.ts');
    const { cSource } = await vite.ssrLoadModule('/test/device/native/helpers.ts');
    const { lowerKernel } = await vite.ssrLoadModule('/compiler/kernels/launch.ts');
    const { kernelName } = await vite.ssrLoadModule('/compiler/kernels/spec.ts');
    const { tinyTrain, feeds, weights } = await vite.ssrLoadModule('/test/train/setup.ts');
    const { checkFiles } = await vite.ssrLoadModule('/compiler/check/index.ts');
    const exp = checkFiles('examples/quickstart.medct').experiments[0];
    const { plan, graph } = tinyTrain({ dropout: exp.lora.dropout, gradClip: exp.train.gradClip, batch: exp.train.batchSize, pathologies: null });
    const dev = await openNative();
    if ('reason' in dev) throw new Error(dev.reason);
    const lowered = plan.kernels.map((k) => { const l = lowerKernel(plan, k); if ('unsupported' in l) throw new Error(l.unsupported); return l; });
    const specs = new Map();
    for (const l of lowered) for (const s of l.steps) specs.set(kernelName(s.spec), s.spec);
    const byName = new Map((await dev.compile([...specs.values()].map(cSource))).map((p) => [p.name, p]));
    const bufs = plan.buffers.map((b) => dev.alloc(b.bytes));
    const params = dev.alloc(16);
    const scratch = new Map();
    const w = weights(graph, 7);
    for (const b of plan.buffers) if (b.kind === 'weight') await dev.upload(bufs[b.id], w.get(b.name));
    for (const [name, data] of Object.entries(feeds(plan, 1))) await dev.upload(bufs[plan.inputs[name]], data);
    const calls = plan.kernels.flatMap((k, i) => lowered[i].steps.map((st) => ({
      program: byName.get(kernelName(st.spec)),
      buffers: st.args.map((a) => {
        if (a === 'params') return params;
        const id = lowered[i].buffers[a];
        if (id !== undefined) return bufs[id];
        if (!scratch.has(a)) scratch.set(a, dev.alloc(lowered[i].scratch[a].elements * 4));
        return scratch.get(a);
      }),
    })));
    const times = [];
    for (let s = 0; s <= steps; s++) {
      const p = new Uint32Array(4); p[0] = s; p[1] = s + 1; p[2] = new Uint32Array(Float32Array.of(1e-3).buffer)[0];
      await dev.upload(params, p);
      const t0 = performance.now();
      for (const c of calls) dev.dispatch(c.program, c.buffers);
      if (s > 0) times.push(performance.now() - t0);
    }
    const h = createHash('sha256');
    for (const b of plan.buffers) {
      if (b.kind !== 'weight' && b.id !== plan.outputs.loss) continue;
      const out = new Float32Array(Math.max(1, b.shape.reduce((x, y) => x * y, 1)));
      await dev.download(bufs[b.id], out);
      h.update(Buffer.from(out.buffer));
    }
    console.log(JSON.stringify({ threads: dev.threads, device: dev.description, stepMs: +med(times).toFixed(2), sha256: h.digest('hex').slice(0, 16) }));
    dev.destroy();
  } finally {
    await vite.close();
  }
  process.exit(0);
}

const steps = Number(opt('steps', 10));
const rounds = Number(opt('rounds', 3));
const busy = Number(opt('busy', 1));
const clean = (env) => { const e = { ...env }; for (const k of ['OMP_WAIT_POLICY', 'GOMP_SPINCOUNT', 'KMP_BLOCKTIME', 'MEDCTC_THREADS']) delete e[k]; return e; };
const VARIANTS = [
  { name: 'before (GOMP_SPINCOUNT=300000, libgomp default), 2 threads', env: { MEDCTC_THREADS: '2', GOMP_SPINCOUNT: '300000' } },
  { name: 'passive (OMP_WAIT_POLICY=passive), 2 threads', env: { MEDCTC_THREADS: '2', OMP_WAIT_POLICY: 'passive' } },
  { name: 'after (medctc default: GOMP_SPINCOUNT=1000), 2 threads', env: { MEDCTC_THREADS: '2' } },
  { name: '1 thread', env: { MEDCTC_THREADS: '1' } },
  // --spins N,M: bounded spinning before sleeping (candidates for a default between the two).
  ...String(opt('spins', '')).split(',').filter(Boolean).map((n) => ({ name: `GOMP_SPINCOUNT=${n}, 2 threads`, env: { MEDCTC_THREADS: '2', GOMP_SPINCOUNT: n } })),
];
const conditions = [...(args.includes('--no-idle') ? [] : ['as is']), 'busy'];
const uptime = () => loadavg().map((x) => x.toFixed(2)).join(', ');
const results = [];
for (const cond of conditions) {
  const burners = cond === 'busy' ? Array.from({ length: busy }, () => spawn(process.execPath, ['-e', 'for(;;);'], { stdio: 'ignore' })) : [];
  try {
    const per = VARIANTS.map(() => []);
    const hashes = VARIANTS.map(() => new Set());
    const loadBefore = uptime();
    for (let r = 0; r < rounds; r++) {
      for (const [vi, v] of VARIANTS.entries()) {
        const p = spawnSync(process.execPath, [new URL(import.meta.url).pathname, '--child', '--steps', String(steps)], { env: { ...clean(process.env), ...v.env }, encoding: 'utf8', timeout: 900_000 });
        if (p.status !== 0) throw new Error(`${v.name}: child failed\n${p.stderr.slice(-3000)}`);
        const res = JSON.parse(p.stdout.trim().split('\n').pop());
        per[vi].push(res.stepMs); hashes[vi].add(res.sha256);
        console.log(JSON.stringify({ condition: cond, round: r, variant: v.name, ...res, load: uptime() }));
      }
    }
    for (const [vi, v] of VARIANTS.entries()) {
      const ms = med(per[vi]);
      results.push({ condition: cond, busyProcesses: burners.length, variant: v.name, stepMs: ms, stepsPerS: +(1000 / ms).toFixed(2), sha256: [...hashes[vi]].join(' '), loadBefore, loadAfter: uptime() });
    }
  } finally {
    for (const b of burners) b.kill();
  }
}
for (const r of results) console.log(JSON.stringify(r));
const all = new Set(results.map((r) => r.sha256));
console.log(`\nbit-identical across every variant and condition: ${all.size === 1 && ![...all][0].includes(' ') ? 'yes' : `NO (${[...all].join(' | ')})`}`);
console.log('\n| condition | variant | train step | steps/s | load (before -> after) |\n|---|---|---|---|---|');
for (const r of results) console.log(`| ${r.condition}${r.busyProcesses ? ` (+${r.busyProcesses} busy process)` : ''} | ${r.variant} | ${r.stepMs} ms | ${r.stepsPerS} | ${r.loadBefore} -> ${r.loadAfter} |`);
