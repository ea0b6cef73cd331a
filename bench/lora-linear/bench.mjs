// Fused LoRA linear vs PEFT's unfused four-kernel forward (and six-kernel backward) vs the base
// GEMM alone, at CT-CLIP shapes, on every backend this machine has.
// Build first, then from the repository root:
//   npx tsc -p tsconfig.json && node bench/lora-linear/bench.mjs [--backend all|cuda|webgpu|cpu|reference] [--m-image N] [--m-text N] [--reps N] [--iters N] [--ranks 8,16,24,64]
// --m-image / --m-text reduce M (tokens) for slow backends: the defaults are the full CT-CLIP
// sizes (13,824 image tokens, 512 text tokens). `cpu` is the native C backend, `reference` the
// TypeScript oracle. Kernel sources are generated in memory for the device's language
// (compiler/codegen/library.ts emittedLibrary). Prints one JSON line per measurement and a table.
// Times are kept to 4 significant digits in ms (an H200 runs one of these kernels in tens of µs).
//
// Timing (bench/lora-linear/torch_lora.py times PyTorch the same way): per round and variant, the
// host wall clock (performance.now) around `iters` back-to-back dispatches of the variant's kernels
// and one device synchronize, divided by `iters`; one warm-up batch first; the time reported is
// the median over `reps` rounds. Host launch overhead counts, as it does for PyTorch.
//
// The backends are imported one by one (WebGPU lazily): dist/runtime/device/index.js loads the
// `webgpu` package, which the borrowed GPU machine of bench/device.sh does not have.
import { compileSteps, dispatchSteps } from '../../dist/runtime/exec/steps.js';
import { emittedLibrary } from '../../dist/compiler/codegen/library.js';
import { kernelBindings, loraBackwardSteps, loraUnfusedForwardSteps, loraUnfusedBackwardSteps, baseForwardSteps, baseBackwardSteps } from '../../dist/compiler/kernels/index.js';
import { Rng } from '../../dist/runtime/util/rng.js';

const args = process.argv.slice(2);
const opt = (name, def) => { const i = args.indexOf(`--${name}`); return i >= 0 ? args[i + 1] : def; };
const backends = opt('backend', 'all') === 'all' ? ['cuda', 'webgpu', 'cpu'] : [opt('backend')];
const mImage = Number(opt('m-image', 13824));
const mText = Number(opt('m-text', 512));
const reps = Number(opt('reps', 5));
// Dispatches per timed batch: Dawn in Node resolves onSubmittedWorkDone only when it polls its
// event loop, which quantises a single dispatch's wall time (~170 ms steps seen on llvmpipe); a
// batch of `iters` dispatches per synchronize amortises that.
const iters = Number(opt('iters', 8));
const ranks = opt('ranks', '8,16,24,64').split(',').map(Number);
const SHAPES = [
  { name: 'image 512->256', m: mImage, k: 512, n: 256 },
  { name: 'image 512->512', m: mImage, k: 512, n: 512 },
  { name: 'text 768->768', m: mText, k: 768, n: 768 },
];

function sizes(spec) {
  const { m, k, n, r } = spec;
  return { x: m * k, w: n * k, bias: n, lora_a: r * k, lora_b: n * r, params: 4, s: m * r, y: m * n, y0: m * n, t: m * r, u: m * n,
    dy: m * n, ds: m * r, dx: m * k, dlora_a: r * k, dlora_b: n * r, dx0: m * k, dx1: m * k, dw: n * k };
}

// Variants are timed interleaved (base, fused, unfused, base, ...) so that load changes on a
// shared machine hit all of them alike; each ratio is the median of the per-round ratios, and the
// times reported are per-variant medians.
async function timeInterleaved(device, variants, bufs) {
  const compiled = [];
  for (const steps of Object.values(variants)) {
    const programs = await compileSteps(device, emittedLibrary(device.target), steps);
    dispatchSteps(device, steps, programs, bufs); // warm-up (and pipeline creation)
    await device.synchronize();
    compiled.push({ steps, programs });
  }
  const names = Object.keys(variants);
  const times = Object.fromEntries(names.map((n) => [n, []]));
  for (let i = 0; i < reps; i++) {
    for (const [vi, { steps, programs }] of compiled.entries()) {
      const t0 = performance.now();
      for (let j = 0; j < iters; j++) dispatchSteps(device, steps, programs, bufs);
      await device.synchronize();
      times[names[vi]].push((performance.now() - t0) / iters);
    }
  }
  return times;
}
const median = (xs) => { const s = [...xs].sort((a, b) => a - b); const h = s.length >> 1; return s.length % 2 ? s[h] : (s[h - 1] + s[h]) / 2; };
const ratio = (num, den) => median(num.map((x, i) => x / den[i]));

async function tryOpenDevice(backend) {
  if (backend === 'cuda') return (await import('../../dist/runtime/device/cuda/device.js')).openCuda();
  if (backend === 'webgpu') return (await import('../../dist/runtime/device/webgpu/device.js')).openWebGpu();
  if (backend === 'cpu') return (await import('../../dist/runtime/device/native/device.js')).openNative();
  if (backend === 'reference') return new (await import('../../dist/runtime/device/cpu/device.js')).CpuDevice();
  return { backend, reason: `unknown backend ${backend} (cuda, webgpu, cpu, reference, all)` };
}
/** 4 significant digits: rounding to 0.01 ms would turn µs-scale GPU times into 0 and their ratios into Infinity. */
const sig4 = (x) => +x.toPrecision(4);

const rows = [];
for (const backend of backends) {
  const d = await tryOpenDevice(backend);
  if ('reason' in d) { console.warn(`skipping ${backend}: ${d.reason}`); continue; }
  for (const shape of SHAPES) {
    for (const r of ranks) {
      const spec = { kind: 'lora_linear', m: shape.m, k: shape.k, n: shape.n, r, scaling: 2, dropout: 0.1, stream: 1, bias: true, activation: 'none', residual: false };
      const rng = new Rng(1, shape.name, r);
      const bufs = {};
      for (const [name, size] of Object.entries(sizes(spec))) {
        bufs[name] = d.alloc(size * 4);
        const host = name === 'params' ? Uint32Array.from([1234, 0, 0, 0]) : rng.fillUniform(new Float32Array(size), -1, 1);
        await d.upload(bufs[name], host);
      }
      const fused = [{ spec, args: kernelBindings(spec).map((b) => b.name) }];
      const fwd = await timeInterleaved(d, { base: baseForwardSteps(spec), fused, unfused: loraUnfusedForwardSteps(spec) }, bufs);
      const bwd = await timeInterleaved(d, { base: baseBackwardSteps(spec), fused: loraBackwardSteps(spec), unfused: loraUnfusedBackwardSteps(spec) }, bufs);
      for (const b of Object.values(bufs)) d.free(b);
      const ms = (xs) => sig4(median(xs));
      const row = { device: d.description, shape: shape.name, m: shape.m, r, reps, iters,
        base_fwd_ms: ms(fwd.base), fused_fwd_ms: ms(fwd.fused), unfused_fwd_ms: ms(fwd.unfused),
        base_bwd_ms: ms(bwd.base), fused_bwd_ms: ms(bwd.fused), unfused_bwd_ms: ms(bwd.unfused),
        fwd_fused_over_base: sig4(ratio(fwd.fused, fwd.base)), fwd_unfused_over_fused: sig4(ratio(fwd.unfused, fwd.fused)),
        bwd_fused_over_base: sig4(ratio(bwd.fused, bwd.base)), bwd_unfused_over_fused: sig4(ratio(bwd.unfused, bwd.fused)) };
      rows.push(row);
      console.log(JSON.stringify(row));
    }
  }
  d.destroy();
}
if (!rows.length) { console.error('lora-linear bench: no backend could be measured'); process.exit(2); }
console.log('\n| backend | shape (M) | r | fwd base ms | fwd fused ms | fwd unfused ms | fused/base | unfused/fused | bwd base ms | bwd fused ms | bwd unfused ms | fused/base | unfused/fused |');
console.log('|---|---|---|---|---|---|---|---|---|---|---|---|---|');
for (const r of rows) {
  console.log(`| ${r.device.split(':')[0]} | ${r.shape} (${r.m}) | ${r.r} | ${r.base_fwd_ms} | ${r.fused_fwd_ms} | ${r.unfused_fwd_ms} | ${r.fwd_fused_over_base} | ${r.fwd_unfused_over_fused} | ${r.base_bwd_ms} | ${r.fused_bwd_ms} | ${r.unfused_bwd_ms} | ${r.bwd_fused_over_base} | ${r.bwd_unfused_over_fused} |`);
}
