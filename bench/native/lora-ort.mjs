// Fused LoRA linear on the native CPU device vs onnxruntime-node (CPU EP, MLAS) at CT-CLIP shapes,
// forward and backward, on 1 and 2 threads. From the repository root:
//   node bench/native/lora-ort.mjs [--threads 1,2] [--ranks 8,16,24,64] [--reps 5] [--iters 3] [--shapes all|image|text] [--ort-no-spin]
//
// Contenders (f32, LoRA dropout 0 — ORT's graphs have none —, no bias, scaling 2, base frozen):
//   forward
//     native fused    lora_linear: s = scaling·x·Aᵀ, then ONE GEMM [x | s]·[W | B]ᵀ (2 launches)
//     native base     linear y = x·Wᵀ (context only)
//     ORT base        MatMul(X[m,k], Wt[k,n]) — W given pre-transposed as an initializer: MLAS's SGEMM alone
//     ORT unfused     Add(MatMul(X, Wt), Mul(MatMul(MatMul(X, At[k,r]), Bt[r,n]), scaling)) (what PEFT computes)
//   backward (the frozen-base LoRA backward; inputs dY[m,n], X[m,k], the forward's saved S = scaling·X·Aᵀ)
//     native fused    ds = scaling·dY·B, dB = dYᵀ·S, dA = dsᵀ·X, dX = dY·W + ds·A in one kernel (4 launches)
//     native base     dX = dY·W (context only)
//     ORT base        dX = MatMul(dY, W[n,k]): the base layer's only gradient GEMM
//     ORT LoRA        the same four results as ORT nodes: dS = Mul(MatMul(dY, B[n,r]), scaling),
//                     dB = Gemm(dY, S, transA=1), dA = Gemm(dS, X, transA=1), dX = Add(MatMul(dY, W), MatMul(dS, A[r,k]))
// ORT sessions: graphOptimizationLevel 'all' (ORT may fuse what it can, e.g. MatMul+Mul -> FusedMatMul),
// sequential execution, intraOpNumThreads = threads, interOpNumThreads 1, outputs pre-allocated and
// passed as fetches (so no per-run output allocation is timed); --ort-no-spin sets
// session.intra_op.allow_spinning = 0 (medctc's OpenMP threads wait passively, see README).
// Native: openNative({ threads }) (OMP_WAIT_POLICY=passive unless set).
// Timing: per round, each contender in turn (interleaved), host wall clock around `iters` calls
// (native dispatch is synchronous; ORT: awaited session.run) / iters; one warm-up call each first.
// Reported: per-contender median over rounds and each ratio as the median of per-round ratios.
import { createServer } from 'vite';
import ort from 'onnxruntime-node';
import { loadavg } from 'node:os';

const args = process.argv.slice(2);
const opt = (name, def) => { const i = args.indexOf(`--${name}`); return i >= 0 ? args[i + 1] : def; };
const threadList = opt('threads', '1,2').split(',').map(Number);
const ranks = opt('ranks', '8,16,24,64').split(',').map(Number);
const reps = Number(opt('reps', 5));
const iters = Number(opt('iters', 3));
const shapeSel = opt('shapes', 'all');
const noSpin = args.includes('--ort-no-spin');
const SCALING = 2;
const ALL_SHAPES = [
  { name: 'image 512->512', m: 13824, k: 512, n: 512 },
  { name: 'image 512->256', m: 13824, k: 512, n: 256 },
  { name: 'text 768->768', m: 512, k: 768, n: 768 },
];
const SHAPES = ALL_SHAPES.filter((s) => shapeSel === 'all' || s.name.startsWith(shapeSel));
const median = (xs) => { const s = [...xs].sort((a, b) => a - b); const h = s.length >> 1; return s.length % 2 ? s[h] : (s[h - 1] + s[h]) / 2; };
const ratio = (num, den) => median(num.map((x, i) => x / den[i]));
const sig4 = (x) => +x.toPrecision(4);
const load = () => loadavg().map((x) => x.toFixed(2)).join(' ');

const vite = await createServer({ server: { middlewareMode: true, hmr: false }, appType: 'custom', logLevel: 'error', optimizeDeps: { noDiscovery: true, include: [] } });
try {
  const { openNative } = await vite.ssrLoadModule('/runtime/device/native/index.ts');
  const { compileSteps, dispatchSteps } = await vite.ssrLoadModule('/runtime/exec/steps.ts');
  const { emittedLibrary } = await vite.ssrLoadModule('/compiler/codegen/library.ts');
  const { kernelBindings, loraBackwardSteps, baseForwardSteps, baseBackwardSteps } = await vite.ssrLoadModule('/compiler/kernels/index.ts');
  const { onnx, floatTensor, valueInfo, attr, DT } = await vite.ssrLoadModule('/compiler/export/onnx/proto.ts');
  const { Rng } = await vite.ssrLoadModule('/runtime/util/rng.ts');

  const model = (nodes, inputs, outputs, inits) => onnx.ModelProto.encode({
    irVersion: 8, opsetImport: [{ domain: '', version: 17 }], producerName: 'medctc-bench',
    graph: { name: 'g', node: nodes, input: inputs.map(([n, d]) => valueInfo(n, DT.FLOAT, d)), output: outputs.map(([n, d]) => valueInfo(n, DT.FLOAT, d)),
      initializer: inits.map(([n, d, data]) => floatTensor(n, d, data)) },
  }).finish();
  const node = (op, inputs, outputs, attrs = []) => ({ opType: op, input: inputs, output: outputs, attribute: attrs, name: outputs[0] });
  const transpose = (a, rows, cols) => { const t = new Float32Array(a.length); for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) t[j * rows + i] = a[i * cols + j]; return t; };

  async function session(bytes, threads) {
    return ort.InferenceSession.create(bytes, { graphOptimizationLevel: 'all', intraOpNumThreads: threads, interOpNumThreads: 1, executionMode: 'sequential',
      ...(noSpin ? { extra: { session: { intra_op: { allow_spinning: '0' } } } } : {}) });
  }
  const tensor = (data, dims) => new ort.Tensor('float32', data, dims);

  const rows = [];
  for (const threads of threadList) {
    const dev = await openNative({ threads });
    if ('reason' in dev) { console.log(JSON.stringify({ unavailable: dev.reason })); break; }
    console.log(JSON.stringify({ threads, device: dev.description, ort: ort.env.versions?.common ?? 'onnxruntime-node', ortSpinning: !noSpin, load: load() }));
    const lib = emittedLibrary('c');
    for (const shape of SHAPES) {
      const { m, k, n } = shape;
      const rng = new Rng(1, shape.name);
      const x = rng.fillUniform(new Float32Array(m * k), -1, 1), w = rng.fillUniform(new Float32Array(n * k), -0.05, 0.05);
      const dy = rng.fillUniform(new Float32Array(m * n), -1, 1);
      const wt = transpose(w, n, k);
      const baseF = await session(model([node('MatMul', ['X', 'Wt'], ['Y'])], [['X', [m, k]]], [['Y', [m, n]]], [['Wt', [k, n], wt]]), threads);
      const baseB = await session(model([node('MatMul', ['dY', 'W'], ['dX'])], [['dY', [m, n]]], [['dX', [m, k]]], [['W', [n, k], w]]), threads);
      const yOrt = tensor(new Float32Array(m * n), [m, n]), dxOrt = tensor(new Float32Array(m * k), [m, k]);
      const xT = tensor(x, [m, k]), dyT = tensor(dy, [m, n]);
      for (const r of ranks) {
        const a = rng.fillUniform(new Float32Array(r * k), -0.05, 0.05), b = rng.fillUniform(new Float32Array(n * r), -0.05, 0.05);
        const spec = { kind: 'lora_linear', m, k, n, r, scaling: SCALING, dropout: 0, stream: 1, bias: false, activation: 'none', residual: false };
        // Native buffers by the names compiler/kernels/lora.ts's steps use.
        const sizes = { x: m * k, w: n * k, lora_a: r * k, lora_b: n * r, params: 4, s: m * r, y: m * n, y0: m * n, dy: m * n, ds: m * r, dx: m * k, dx0: m * k, dlora_a: r * k, dlora_b: n * r };
        const host = { x, w, lora_a: a, lora_b: b, dy, params: Uint32Array.from([1, 0, 0, 0]) };
        const bufs = {};
        for (const [name, size] of Object.entries(sizes)) { bufs[name] = dev.alloc(size * 4); if (host[name]) await dev.upload(bufs[name], host[name]); }
        const fusedF = [{ spec, args: kernelBindings(spec).map((bd) => bd.name) }];
        const variants = { fusedF, baseF: baseForwardSteps(spec), fusedB: loraBackwardSteps(spec), baseB: baseBackwardSteps(spec) };
        const progs = {};
        for (const [name, steps] of Object.entries(variants)) progs[name] = await compileSteps(dev, lib, steps);
        // The forward's saved s, for the backward (native has it in bufs.s after the fused forward).
        dispatchSteps(dev, fusedF, progs.fusedF, bufs);
        const sHost = new Float32Array(m * r); await dev.download(bufs.s, sHost);
        // ORT LoRA graphs.
        const unfusedF = await session(model([
          node('MatMul', ['X', 'Wt'], ['Y0']), node('MatMul', ['X', 'At'], ['T']), node('MatMul', ['T', 'Bt'], ['U0']),
          node('Mul', ['U0', 'scale'], ['U']), node('Add', ['Y0', 'U'], ['Y']),
        ], [['X', [m, k]]], [['Y', [m, n]]], [['Wt', [k, n], wt], ['At', [k, r], transpose(a, r, k)], ['Bt', [r, n], transpose(b, n, r)], ['scale', [], Float32Array.of(SCALING)]]), threads);
        const loraB = await session(model([
          node('MatMul', ['dY', 'B'], ['dS0']), node('Mul', ['dS0', 'scale'], ['dS']),
          node('Gemm', ['dY', 'S'], ['dB'], [attr('transA', { i: 1 })]),
          node('Gemm', ['dS', 'X'], ['dA'], [attr('transA', { i: 1 })]),
          node('MatMul', ['dY', 'W'], ['dX0']), node('MatMul', ['dS', 'A'], ['dX1']), node('Add', ['dX0', 'dX1'], ['dX']),
        ], [['dY', [m, n]], ['X', [m, k]], ['S', [m, r]]], [['dX', [m, k]], ['dA', [r, k]], ['dB', [n, r]]],
        [['W', [n, k], w], ['A', [r, k], a], ['B', [n, r], b], ['scale', [], Float32Array.of(SCALING)]]), threads);
        const sT = tensor(sHost, [m, r]);
        const dA = tensor(new Float32Array(r * k), [r, k]), dB = tensor(new Float32Array(n * r), [n, r]);
        // Correctness of what is timed: ORT's outputs equal native's (f32, different summation orders).
        const cmp = async (sess, feeds, fetches, name, native) => {
          await sess.run(feeds, fetches);
          const got = new Float32Array(native.size); await dev.download(bufs[native.buf], got);
          let maxAbs = 0, maxErr = 0; const o = fetches[name].data;
          for (let i = 0; i < got.length; i++) { maxAbs = Math.max(maxAbs, Math.abs(o[i])); maxErr = Math.max(maxErr, Math.abs(o[i] - got[i])); }
          if (!(maxErr <= 1e-4 * maxAbs + 1e-5)) throw new Error(`${shape.name} r=${r}: ORT ${name} differs from native by ${maxErr} (max |${name}| ${maxAbs})`);
          return maxErr / maxAbs;
        };
        dispatchSteps(dev, variants.fusedB, progs.fusedB, bufs);
        const errs = {
          fwd: await cmp(unfusedF, { X: xT }, { Y: yOrt }, 'Y', { buf: 'y', size: m * n }),
          dX: await cmp(loraB, { dY: dyT, X: xT, S: sT }, { dX: dxOrt, dA, dB }, 'dX', { buf: 'dx', size: m * k }),
          dA: await cmp(loraB, { dY: dyT, X: xT, S: sT }, { dX: dxOrt, dA, dB }, 'dA', { buf: 'dlora_a', size: r * k }),
          dB: await cmp(loraB, { dY: dyT, X: xT, S: sT }, { dX: dxOrt, dA, dB }, 'dB', { buf: 'dlora_b', size: n * r }),
        };
        const contenders = {
          fwd: {
            native_fused: () => dispatchSteps(dev, fusedF, progs.fusedF, bufs),
            ort_base: () => baseF.run({ X: xT }, { Y: yOrt }),
            ort_unfused: () => unfusedF.run({ X: xT }, { Y: yOrt }),
            native_base: () => dispatchSteps(dev, variants.baseF, progs.baseF, bufs),
          },
          bwd: {
            native_fused: () => dispatchSteps(dev, variants.fusedB, progs.fusedB, bufs),
            ort_base: () => baseB.run({ dY: dyT }, { dX: dxOrt }),
            ort_lora: () => loraB.run({ dY: dyT, X: xT, S: sT }, { dX: dxOrt, dA, dB }),
            native_base: () => dispatchSteps(dev, variants.baseB, progs.baseB, bufs),
          },
        };
        const times = {};
        for (const [dir, cs] of Object.entries(contenders)) {
          times[dir] = Object.fromEntries(Object.keys(cs).map((c) => [c, []]));
          for (const fn of Object.values(cs)) await fn(); // warm-up
          for (let rep = 0; rep < reps; rep++) {
            for (const [c, fn] of Object.entries(cs)) {
              const t0 = performance.now();
              for (let i = 0; i < iters; i++) await fn();
              times[dir][c].push((performance.now() - t0) / iters);
            }
          }
        }
        const ms = (xs) => sig4(median(xs));
        const f = times.fwd, bw = times.bwd;
        const row = { threads, shape: shape.name, m, k, n, r, reps, iters, load: load(),
          fwd_ms: Object.fromEntries(Object.entries(f).map(([c, v]) => [c, ms(v)])),
          bwd_ms: Object.fromEntries(Object.entries(bw).map(([c, v]) => [c, ms(v)])),
          fwd_fused_over_ort_base: sig4(ratio(f.native_fused, f.ort_base)), fwd_ort_unfused_over_fused: sig4(ratio(f.ort_unfused, f.native_fused)),
          bwd_fused_over_ort_base: sig4(ratio(bw.native_fused, bw.ort_base)), bwd_ort_lora_over_fused: sig4(ratio(bw.ort_lora, bw.native_fused)),
          fwd_native_base_over_ort_base: sig4(ratio(f.native_base, f.ort_base)), bwd_native_base_over_ort_base: sig4(ratio(bw.native_base, bw.ort_base)),
          gflops_fused_fwd: sig4((2 * m * k * (n + r) + 2 * m * r * n) / ms(f.native_fused) / 1e6),
          rel_err_vs_ort: Object.fromEntries(Object.entries(errs).map(([kk, v]) => [kk, +v.toExponential(1)])) };
        rows.push(row);
        console.log(JSON.stringify(row));
        for (const bb of Object.values(bufs)) dev.free(bb);
        await unfusedF.release(); await loraB.release();
      }
      await baseF.release(); await baseB.release();
    }
    dev.destroy();
  }
  const floorF = (r) => (k, n) => 1 + r / n + r / k, floorB = (r) => (k, n) => 1 + 2 * r / k + 2 * r / n;
  console.log('\n| threads | shape (M) | r | fwd: native fused | ORT base | ORT unfused | fused / ORT base | FLOP floor | ORT unfused / fused | bwd: native fused | ORT base dX | ORT LoRA bwd | fused / ORT base | FLOP floor | ORT LoRA / fused |');
  console.log('|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|');
  for (const r of rows) {
    console.log(`| ${r.threads} | ${r.shape} (${r.m}) | ${r.r} | ${r.fwd_ms.native_fused} ms | ${r.fwd_ms.ort_base} | ${r.fwd_ms.ort_unfused} | ${r.fwd_fused_over_ort_base} | ${floorF(r.r)(r.k, r.n).toFixed(3)} | ${r.fwd_ort_unfused_over_fused} | ${r.bwd_ms.native_fused} ms | ${r.bwd_ms.ort_base} | ${r.bwd_ms.ort_lora} | ${r.bwd_fused_over_ort_base} | ${floorB(r.r)(r.k, r.n).toFixed(3)} | ${r.bwd_ort_lora_over_fused} |`);
  }
} finally {
  await vite.close();
}
