// Finite-difference gradient checks of the native (generated C) backend: every backward kernel
// kind a train plan lowers to, run as compiled C, against central differences of the compiled C
// forward kernel it differentiates; and the LoRA gradients of a whole ct_clip_tiny train step run
// on the native device (test/train/harness.ts PlanRunner) against central differences of its loss.
// The expectation is independent of the backward code: only forward kernels produce it.
//
// f32 throughout, no f64 path: the objective L = Σ cot ⊙ forward(inputs) is summed in JS doubles
// over the f32 outputs of the native forward. Step H = 1e-2 on O(1) inputs: truncation ~H²·f''' ≈
// 1e-4 of the gradient's scale, f32 rounding of L ≈ 6e-8·√N·|out| over N outputs, i.e. ≈ 3e-6·√N
// after dividing by 2H — both well under the tolerance 3e-3·max|grad| + 2e-3·|fd| (N ≤ ~20k here).
// Entries checked: the tensor's largest |grad| plus seeded random ones. Skipped, loudly, only where
// no C compiler works.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { openNative, type NativeDevice } from '../../../runtime/device/native/index.js';
import { kernelBindings } from '../../../compiler/kernels/bindings.js';
import { kernelName, type KernelSpec, type LoraLinearSpec } from '../../../compiler/kernels/spec.js';
import { loraBackwardSteps } from '../../../compiler/kernels/lora.js';
import { lowerKernel } from '../../../compiler/kernels/launch.js';
import type { Program } from '../../../runtime/device/types.js';
import type { Buffers } from '../../../runtime/device/cpu/reference.js';
import { Rng } from '../../../runtime/util/rng.js';
import { randomInputs, cloneBuffers } from '../../kernels/inputs.js';
import { PlanRunner } from '../../train/harness.js';
import { tinyTrain, feeds, weights } from '../../train/setup.js';
import { cSource, runProgram } from './helpers.js';

const H = 1e-2;

const opened = await openNative();
const reason = 'reason' in opened ? opened.reason : null;
if (reason) console.warn(`SKIPPING native gradient checks: ${reason}`);

type Cot = Record<string, Float32Array>;

describe.skipIf(reason !== null)('native backward kernels match finite differences of the native forward kernels', () => {
  let dev: NativeDevice;
  const programs = new Map<string, Program>();
  const prog = async (spec: KernelSpec): Promise<Program> => {
    const name = kernelName(spec);
    let p = programs.get(name);
    if (!p) { p = (await dev.compile([cSource(spec)]))[0]!; programs.set(name, p); }
    return p;
  };
  /** Every binding present (writable ones zeroed when not given), one dispatch; all writable outputs. */
  const run = async (spec: KernelSpec, given: Buffers): Promise<Buffers> => {
    const b: Buffers = {};
    for (const bd of kernelBindings(spec)) {
      b[bd.name] = given[bd.name] ?? (bd.access === 'read_write' ? (bd.dtype === 'i32' ? new Int32Array(bd.size) : new Float32Array(bd.size)) : undefined)!;
      if (!b[bd.name]) throw new Error(`${spec.kind}: no input ${bd.name}`);
    }
    return { ...b, ...(await runProgram(dev, await prog(spec), b)) };
  };
  const objective = async (fwd: KernelSpec, inputs: Buffers, cot: Cot): Promise<number> => {
    const out = await run(fwd, inputs);
    let l = 0;
    for (const [name, c] of Object.entries(cot)) { const o = out[name]!; for (let i = 0; i < c.length; i++) l += c[i]! * o[i]!; }
    return l;
  };
  const cotangents = (fwd: KernelSpec, names: string[], seed: number): Cot =>
    Object.fromEntries(names.map((n) => [n, new Rng(seed, 'cot', n).fillNormal(new Float32Array(kernelBindings(fwd).find((b) => b.name === n)!.size)) as Float32Array]));

  async function checkGrad(label: string, fwd: KernelSpec, inputs: Buffers, cot: Cot, wrt: string, grad: ArrayLike<number>, samples = 10): Promise<void> {
    const x = inputs[wrt] as Float32Array;
    expect(grad.length, `${label}: d${wrt} length`).toBe(x.length);
    let arg = 0;
    for (let i = 0; i < grad.length; i++) if (Math.abs(grad[i]!) > Math.abs(grad[arg]!)) arg = i;
    const maxG = Math.abs(grad[arg]!);
    expect(maxG, `${label}: d${wrt} is all zero`).toBeGreaterThan(0);
    const rng = new Rng(7, label, wrt);
    const idx = x.length <= samples ? [...x.keys()] : [arg, ...Array.from({ length: samples - 1 }, () => rng.int(x.length))];
    for (const i of idx) {
      const orig = x[i]!;
      x[i] = orig + H; const lp = await objective(fwd, inputs, cot);
      x[i] = orig - H; const lm = await objective(fwd, inputs, cot);
      x[i] = orig;
      const fd = (lp - lm) / (2 * H);
      const tol = 3e-3 * maxG + 2e-3 * Math.abs(fd);
      if (!(Math.abs(fd - grad[i]!) <= tol)) expect.fail(`${label}: d${wrt}[${i}] native backward ${grad[i]} vs finite difference ${fd} (tol ${tol.toPrecision(3)}, max |d${wrt}| ${maxG})`);
    }
  }

  beforeAll(async () => { dev = opened as NativeDevice; }, 60_000);
  afterAll(() => dev?.destroy());

  it('layer_norm_backward (dx, dgamma, dbeta)', async () => {
    const fwd: KernelSpec = { kind: 'layer_norm', rows: 7, n: 37, eps: 1e-5, bias: true };
    const inp = randomInputs(fwd, 1), cot = cotangents(fwd, ['y'], 2);
    const g = await run({ kind: 'layer_norm_backward', rows: 7, n: 37, eps: 1e-5, bias: true }, { ...inp, dy: cot.y! });
    for (const [w, gn] of [['x', 'dx'], ['gamma', 'dgamma'], ['beta', 'dbeta']] as const) await checkGrad('layer_norm', fwd, inp, cot, w, g[gn]!);
  });

  it('softmax_backward (from the forward output y)', async () => {
    const fwd: KernelSpec = { kind: 'softmax', rows: 9, n: 21 };
    const inp = randomInputs(fwd, 3), cot = cotangents(fwd, ['y'], 4);
    const y = (await run(fwd, inp)).y!;
    await checkGrad('softmax', fwd, inp, cot, 'x', (await run({ kind: 'softmax_backward', rows: 9, n: 21 }, { y, dy: cot.y! })).dx!, 16);
  });

  it('gelu_backward, geglu_backward, unary_grad (exp, leaky_relu)', async () => {
    const gf: KernelSpec = { kind: 'gelu', numel: 300 };
    const gi = randomInputs(gf, 5), gc = cotangents(gf, ['y'], 6);
    await checkGrad('gelu', gf, gi, gc, 'x', (await run({ kind: 'gelu_backward', numel: 300 }, { ...gi, dy: gc.y! })).dx!, 16);
    const ggf: KernelSpec = { kind: 'geglu', rows: 5, n: 19 };
    const ggi = randomInputs(ggf, 7), ggc = cotangents(ggf, ['y'], 8);
    await checkGrad('geglu', ggf, ggi, ggc, 'x', (await run({ kind: 'geglu_backward', rows: 5, n: 19 }, { ...ggi, dy: ggc.y! })).dx!, 16);
    for (const [op, slope] of [['exp', 0], ['leaky_relu', 0.1]] as const) {
      const fwd: KernelSpec = { kind: 'elementwise', numel: 100, op, aNumel: 100, bNumel: 0, slope, factor: 1 };
      const a = new Rng(9, op).fillNormal(new Float32Array(100)) as Float32Array;
      // Keep leaky_relu's inputs away from its kink (a step of H must not cross 0).
      if (op === 'leaky_relu') for (let i = 0; i < a.length; i++) a[i] = a[i]! + Math.sign(a[i]!) * 0.05;
      const cot = cotangents(fwd, ['y'], 10);
      const g = await run({ kind: 'unary_grad', numel: 100, op, slope }, { x: a, dy: cot.y! });
      await checkGrad(op, fwd, { a }, cot, 'a', g.dx!, 16);
    }
  });

  it('mul_grad and broadcast_grad (a·b, a + b with b broadcast along leading axes)', async () => {
    for (const op of ['mul', 'add'] as const) {
      const fwd: KernelSpec = { kind: 'elementwise', numel: 6 * 13, op, aNumel: 6 * 13, bNumel: 13, slope: 0, factor: 1 };
      const rng = new Rng(11, op);
      const a = rng.fillNormal(new Float32Array(78)) as Float32Array, b = rng.fillNormal(new Float32Array(13)) as Float32Array;
      const cot = cotangents(fwd, ['y'], 12);
      const db = await run({ kind: 'broadcast_grad', numel: 78, bNumel: 13, mul: op === 'mul' }, { dy: cot.y!, a });
      await checkGrad(`${op} b`, fwd, { a, b }, cot, 'b', db.db!, 13);
      if (op === 'mul') await checkGrad('mul a', fwd, { a, b }, cot, 'a', (await run({ kind: 'mul_grad', numel: 78, bNumel: 13 }, { dy: cot.y!, b })).dx!, 16);
    }
  });

  it('l2norm_backward, l2norm_scale_backward (dx, dgamma)', async () => {
    const lf: KernelSpec = { kind: 'l2norm', rows: 6, n: 17, eps: 1e-12 };
    const li = randomInputs(lf, 13), lc = cotangents(lf, ['y'], 14);
    await checkGrad('l2norm', lf, li, lc, 'x', (await run({ kind: 'l2norm_backward', rows: 6, n: 17, eps: 1e-12 }, { ...li, dy: lc.y! })).dx!, 16);
    const fwd: KernelSpec = { kind: 'l2norm_scale', rows: 6, n: 17, eps: 1e-12 };
    const inp = randomInputs(fwd, 15), cot = cotangents(fwd, ['y'], 16);
    const g = await run({ kind: 'l2norm_scale_backward', rows: 6, n: 17, eps: 1e-12 }, { ...inp, dy: cot.y! });
    await checkGrad('l2norm_scale', fwd, inp, cot, 'x', g.dx!, 16);
    await checkGrad('l2norm_scale', fwd, inp, cot, 'gamma', g.dgamma!, 17);
  });

  // Large enough (B·H·nq·nk·dh ≥ 65536) that the CPU body splits (batch, head) pairs over threads.
  for (const fwd of [
    { kind: 'attention', batch: 2, heads: 2, nq: 5, nk: 7, dh: 4, scale: 0.5, bias: true, mask: true },
    { kind: 'attention', batch: 2, heads: 4, nq: 33, nk: 40, dh: 16, scale: 0.25, bias: true, mask: true },
  ] satisfies KernelSpec[]) {
    it(`attention_backward (dq, dk, dv) and attention_bias_grad: ${kernelName(fwd)}`, async () => {
      const inp = randomInputs(fwd, 17);
      const cot = cotangents(fwd, ['o'], 18);
      const fo = await run(fwd, inp);
      const saved = { ...inp, o: fo.o!, lse: fo.lse!, dout: cot.o! };
      const g = await run({ ...fwd, kind: 'attention_backward' }, saved);
      for (const w of ['q', 'k', 'v'] as const) await checkGrad('attention', fwd, inp, cot, w, g[`d${w}`]!, 12);
      const { bias: _b, ...rest } = fwd;
      const gb = await run({ ...rest, kind: 'attention_bias_grad' }, saved);
      await checkGrad('attention', fwd, inp, cot, 'bias', gb.dbias!, 12);
    });
  }

  it('dwconv3d_backward (dx, dweight, dbias), mean_pool_backward, slice_backward', async () => {
    const fwd: KernelSpec = { kind: 'dwconv3d', batch: 2, t: 3, h: 5, w: 4, c: 6, bias: true };
    const inp = randomInputs(fwd, 19), cot = cotangents(fwd, ['y'], 20);
    const g = await run({ ...fwd, kind: 'dwconv3d_backward' }, { ...inp, dy: cot.y! });
    for (const [w, gn] of [['x', 'dx'], ['weight', 'dweight'], ['bias', 'dbias']] as const) await checkGrad('dwconv3d', fwd, inp, cot, w, g[gn]!, 14);
    const mp: KernelSpec = { kind: 'mean_pool', outer: 3, axisLen: 11, inner: 5 };
    const mi = randomInputs(mp, 21), mc = cotangents(mp, ['y'], 22);
    await checkGrad('mean_pool', mp, mi, mc, 'x', (await run({ ...mp, kind: 'mean_pool_backward' }, { dy: mc.y! })).dx!, 14);
    const sl: KernelSpec = { kind: 'slice', outer: 3, len: 9, inner: 4, start: 2, end: 7 };
    const si = randomInputs(sl, 23), sc = cotangents(sl, ['y'], 24);
    const sdx = (await run({ kind: 'slice_backward', outer: 3, len: 9, inner: 4, start: 2, end: 7, accumulate: false }, { dy: sc.y! })).dx!;
    await checkGrad('slice', sl, si, sc, 'x', sdx, 24);
  });

  it('embedding_backward (repeated ids accumulate)', async () => {
    const fwd: KernelSpec = { kind: 'embedding', tokens: 40, dim: 9, vocab: 7 };
    const inp = randomInputs(fwd, 25), cot = cotangents(fwd, ['y'], 26);
    await checkGrad('embedding', fwd, inp, cot, 'table', (await run({ kind: 'embedding_backward', tokens: 40, dim: 9, vocab: 7 }, { ...inp, dy: cot.y! })).dtable!, 20);
  });

  it('losses: pair_mse, pair_ce, clip (their dlogits output vs differences of their loss output)', async () => {
    for (const spec of [{ kind: 'pair_mse_loss', batch: 6 }, { kind: 'pair_ce_loss', batch: 6 }, { kind: 'clip_loss', batch: 5 }] satisfies KernelSpec[]) {
      const inp = randomInputs(spec, 27);
      const out = await run(spec, inp);
      await checkGrad(spec.kind, spec, inp, { loss: Float32Array.of(1) }, 'logits', out.dlogits!, 25);
    }
  });

  // Sizes at the C GEMM's edges (not multiples of its 12×32 / 16×16 micro-tiles); dropout on,
  // so dA's recomputed mask must be the forward's; base trainable, so dW is checked too.
  for (const fwd of [
    { kind: 'lora_linear', m: 6, k: 5, n: 7, r: 3, scaling: 1.5, dropout: 0.3, stream: 4, bias: true, activation: 'none', residual: false },
    { kind: 'lora_linear', m: 45, k: 70, n: 37, r: 8, scaling: 2, dropout: 0.1, stream: 2, bias: true, activation: 'none', residual: false },
  ] satisfies LoraLinearSpec[]) {
    it(`LoRA linear: the fused backward sequence (ds, dB, dA, dx) and dW, bias_grad: ${kernelName(fwd)}`, async () => {
      const inp = randomInputs(fwd, 29);
      const cot = cotangents(fwd, ['y'], 30);
      const fo = await run(fwd, inp);
      const bufs: Buffers = { ...cloneBuffers(inp), s: fo.s!, dy: cot.y! };
      for (const step of loraBackwardSteps(fwd, true)) {
        const named: Buffers = {};
        kernelBindings(step.spec).forEach((b, i) => { named[b.name] = bufs[step.args[i]!] ?? new Float32Array(b.size); });
        const out = await run(step.spec, named);
        kernelBindings(step.spec).forEach((b, i) => { if (b.access === 'read_write') bufs[step.args[i]!] = out[b.name]!; });
      }
      for (const [w, g] of [['x', 'dx'], ['lora_a', 'dlora_a'], ['lora_b', 'dlora_b'], ['w', 'dw']] as const) await checkGrad('lora_linear', fwd, inp, cot, w, bufs[g]!, 12);
      const db = await run({ kind: 'bias_grad', rows: fwd.m, n: fwd.n }, { dy: cot.y! });
      await checkGrad('lora_linear', fwd, inp, cot, 'bias', db.db!, 12);
    });
  }
});

// The whole train step: forward, backward through every kernel as lowered for devices, on the
// native device. As test/train/gradient.test.ts does on the reference (see its header for the
// straight-through vq_nearest): eps = 1e-2, tolerance 2e-2·|g| + 2e-3·max|g| + the f32 noise
// floor of the difference quotient. The native forward computes in f32 (the reference in f64,
// storing f32), so the loss carries rounding noise of a few ulps; 8·ulp(L)/(2·eps) bounds what
// that does to the quotient. A tensor whose largest gradient is not 20x above that floor cannot
// be checked this way in f32; the checked tensors are therefore chosen by gradient size: per
// encoder (text, image) and factor (A, B), the two with the largest gradients.
const ulp32 = (x: number): number => 2 ** (Math.floor(Math.log2(Math.abs(x))) - 23);

describe.skipIf(reason !== null)('a ct_clip_tiny train step on the native device: LoRA gradients match finite differences of its loss', () => {
  it('LoRA A and B of text and image adapters (the quickstart plan, batch 1)', async () => {
    const dev = opened as NativeDevice;
    const EPS = 1e-2;
    const { plan, graph } = tinyTrain({ batch: 1, gradClip: null });
    // Every kernel in one batch (one shared object; the runner then finds them compiled).
    const specs = new Map<string, KernelSpec>();
    for (const k of plan.kernels) {
      const l = lowerKernel(plan, k);
      if (!('unsupported' in l)) for (const s of l.steps) specs.set(kernelName(s.spec), s.spec);
    }
    await dev.compile([...specs.values()].map(cSource));
    const run = new PlanRunner(plan, graph, dev);
    const w = weights(graph, 7);
    await run.load(w);
    const f = feeds(plan, 1);
    const lossId = plan.outputs.loss!;
    await run.run(f, {}, ['forward', 'backward']);
    const loss0 = (await run.read(lossId))[0]!;
    expect(Number.isFinite(loss0)).toBe(true);
    const floor = (8 * ulp32(loss0)) / (2 * EPS);
    const grads = new Map<string, Float32Array>();
    const maxAbs = (g: Float32Array): number => g.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
    const CHECKED: string[] = [];
    for (const enc of ['text_transformer.', 'visual_transformer.']) {
      for (const factor of ['lora_A.weight', 'lora_B.weight']) {
        const cands: [string, number][] = [];
        for (const b of plan.buffers) {
          if (!b.name.startsWith(`grad:${enc}`) || !b.name.endsWith(factor)) continue;
          const name = b.name.slice('grad:'.length), g = await run.read(b.id);
          grads.set(name, g);
          cands.push([name, maxAbs(g)]);
        }
        cands.sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1));
        expect(cands.length, `${enc}*.${factor}: no LoRA gradients in the plan`).toBeGreaterThan(0);
        expect(cands[0]![1], `${enc}*.${factor}: largest gradient ${cands[0]![1]} is not 20x above the f32 noise floor ${floor}`).toBeGreaterThan(20 * floor);
        CHECKED.push(...cands.slice(0, 2).filter(([, m]) => m > 20 * floor).map(([n]) => n));
      }
    }
    const vq = plan.kernels.find((k) => k.kind === 'vq_nearest')!;
    const x0 = await run.read(vq.inputs[0]!), y0 = await run.read(vq.outputs[0]!);
    run.straightThrough = x0.map((x, i) => y0[i]! - x);
    const lossAt = async (): Promise<number> => { await run.run(f, {}, ['forward']); return (await run.read(lossId))[0]!; };
    expect(Math.abs(await lossAt() - loss0)).toBeLessThan(1e-6);
    const rng = new Rng(11, 'fd-native');
    for (const name of CHECKED) {
      const g = grads.get(name)!, param = w.get(name)!, id = run.bufferOf(name);
      const order = [...g.keys()].sort((a, b) => Math.abs(g[b]!) - Math.abs(g[a]!));
      const maxG = Math.abs(g[order[0]!]!);
      const big = order.filter((i) => Math.abs(g[i]!) >= 0.2 * maxG);
      for (const i of [order[0]!, big.length > 1 ? big[1 + rng.int(big.length - 1)]! : order[1]!]) {
        const orig = param[i]!;
        param[i] = orig + EPS; await run.write(id, param); const lp = await lossAt();
        param[i] = orig - EPS; await run.write(id, param); const lm = await lossAt();
        param[i] = orig; await run.write(id, param);
        const fd = (lp - lm) / (2 * EPS);
        const tol = 2e-2 * Math.abs(g[i]!) + 2e-3 * maxG + floor;
        if (process.env.FD_DEBUG) console.log(name, i, g[i], fd, Math.abs(fd - g[i]!) / Math.abs(g[i]!), floor);
        if (!(Math.abs(fd - g[i]!) <= tol)) expect.fail(`${name}[${i}]: native backward ${g[i]} vs finite difference ${fd} (tol ${tol})`);
      }
    }
  }, 180_000);
});
