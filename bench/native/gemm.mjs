// GFLOP/s of the native device's GEMM-type kernels at CT-CLIP and ct_clip_tiny shapes, on 1 and
// N threads. From the repository root:
//   node bench/native/gemm.mjs [--threads 1,2] [--reps 5]
// Per shape: median over reps of (wall time of `iters` dispatches) / iters; one warm-up first.
import { createServer } from 'vite';

const args = process.argv.slice(2);
const opt = (name, def) => { const i = args.indexOf(`--${name}`); return i >= 0 ? args[i + 1] : def; };
const threads = opt('threads', '1,2').split(',').map(Number);
const reps = Number(opt('reps', 5));

const vite = await createServer({ server: { middlewareMode: true, hmr: false }, appType: 'custom', logLevel: 'error', optimizeDeps: { noDiscovery: true, include: [] } });
try {
  const { openNative } = await vite.ssrLoadModule('/runtime/device/native/index.ts');
  const { cSource } = await vite.ssrLoadModule('/test/device/native/helpers.ts');
  const { kernelBindings } = await vite.ssrLoadModule('/compiler/kernels/bindings.ts');
  const SHAPES = [
    { kind: 'linear', m: 13824, k: 512, n: 512, bias: true, activation: 'none', residual: false },
    { kind: 'linear', m: 13824, k: 512, n: 256, bias: true, activation: 'none', residual: false },
    { kind: 'linear', m: 512, k: 768, n: 768, bias: true, activation: 'none', residual: false },
    { kind: 'linear', m: 1152, k: 64, n: 256, bias: true, activation: 'gelu', residual: false },
    { kind: 'linear', m: 1152, k: 256, n: 64, bias: true, activation: 'none', residual: true },
    { kind: 'gemm', m: 256, k: 1152, n: 64, transA: true, transB: false, alpha: 1, bias: false, activation: 'none', residual: false, maskB: 0 },
  ];
  for (const t of threads) {
    const dev = await openNative({ threads: t });
    if ('reason' in dev) { console.log(JSON.stringify({ unavailable: dev.reason })); break; }
    const programs = await dev.compile(SHAPES.map(cSource));
    for (const [si, spec] of SHAPES.entries()) {
      const bufs = kernelBindings(spec).map((b) => { const buf = dev.alloc(b.size * 4); return buf; });
      for (const [i, b] of kernelBindings(spec).entries()) await dev.upload(bufs[i], Float32Array.from({ length: b.size }, (_, j) => ((j * 7919) % 1000) / 1000 - 0.5));
      const flops = 2 * spec.m * spec.k * spec.n;
      const iters = Math.max(1, Math.round(2e9 / flops));
      dev.dispatch(programs[si], bufs);
      const times = [];
      for (let r = 0; r < reps; r++) {
        const t0 = performance.now();
        for (let i = 0; i < iters; i++) dev.dispatch(programs[si], bufs);
        await dev.synchronize();
        times.push((performance.now() - t0) / iters);
      }
      const ms = times.sort((a, b) => a - b)[Math.floor(times.length / 2)];
      console.log(JSON.stringify({ threads: t, kernel: programs[si].name, ms: +ms.toPrecision(4), gflops: +(flops / ms / 1e6).toFixed(1) }));
      bufs.forEach((b) => dev.free(b));
    }
    dev.destroy();
  }
} finally {
  await vite.close();
}
