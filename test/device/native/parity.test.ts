// Every kernel kind, emitted as C and compiled by the system compiler, matches the TypeScript
// reference on seeded random inputs whose sizes are not multiples of the CPU tiles (the shared
// SAMPLE_SPECS of the WebGPU/CUDA parity tests, plus shapes that cross the C micro-tile, row
// block and K panel edges); tolerance as there (expectClose). Results are bit-identical across
// runs, and across thread counts (work is split over outputs only). Skipped, loudly, only where
// no C compiler works.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openNative, configureOpenMpWait, type NativeDevice } from '../../../runtime/device/native/index.js';
import { SPINS } from '../../../runtime/device/native/device.js';
import { runReference } from '../../../runtime/device/cpu/reference.js';
import { kernelName, type KernelSpec } from '../../../compiler/kernels/spec.js';
import type { Program } from '../../../runtime/device/types.js';
import { SAMPLE_SPECS } from '../../kernels/specs.js';
import { randomInputs, cloneBuffers } from '../../kernels/inputs.js';
import { expectClose } from '../../kernels/harness.js';
import { cSource, runProgram, sameBits } from './helpers.js';

/** Shapes at the C GEMM's edges (12×32 and 16×16 micro-tiles, 96-row blocks, 256-deep K panels)
 *  and sizes that make the other CPU bodies split over threads. */
const CPU_EDGE_SPECS: KernelSpec[] = [
  { kind: 'gemm', m: 97, k: 513, n: 33, transA: false, transB: true, alpha: 1, bias: true, activation: 'gelu', residual: true, maskB: 0 },
  { kind: 'gemm', m: 13, k: 257, n: 17, transA: true, transB: false, alpha: -0.5, bias: false, activation: 'none', residual: false, maskB: 0.3, stream: 9 },
  { kind: 'gemm', m: 4, k: 64, n: 100, transA: false, transB: false, alpha: 1, bias: false, activation: 'none', residual: false, maskB: 0 },
  { kind: 'linear', m: 385, k: 300, n: 70, bias: true, activation: 'none', residual: true },
  { kind: 'lora_linear', m: 200, k: 270, n: 48, r: 16, scaling: 2, dropout: 0.05, stream: 3, bias: true, activation: 'gelu', residual: false },
  { kind: 'lora_backward_input', m: 101, k: 45, n: 300, r: 16, dropout: 0.05, stream: 4 },
  { kind: 'sumsq', numel: 16384 * 3 + 17, tensors: 1, index: 0 },
  // vq_nearest's CPU body: 4-row blocks x 32-code vector blocks, a code tail and a row tail.
  { kind: 'vq_nearest', rows: 37, dim: 40, codebook: 70 },
  { kind: 'vq_nearest', rows: 64, dim: 32, codebook: 64 },
  // attention's CPU body (dh >= 32 and nk >= 64; per batch·head Kᵀ scratch, 16-lane exps with a
  // key tail): split over threads; and just below each gate, the shared body.
  { kind: 'attention', batch: 3, heads: 4, nq: 33, nk: 70, dh: 32, scale: 0.25, bias: true, mask: true },
  { kind: 'attention', batch: 2, heads: 3, nq: 24, nk: 64, dh: 40, scale: 8, bias: false, mask: false },
  { kind: 'attention', batch: 2, heads: 3, nq: 24, nk: 63, dh: 32, scale: 8, bias: true, mask: false },
  { kind: 'attention', batch: 2, heads: 2, nq: 9, nk: 80, dh: 16, scale: 8, bias: false, mask: true },
  // attention_backward's CPU body (per batch·head scratch): enough pairs to split over threads.
  { kind: 'attention_backward', batch: 3, heads: 4, nq: 33, nk: 40, dh: 16, scale: 0.25, bias: false, mask: true },
  { kind: 'attention_backward', batch: 2, heads: 3, nq: 17, nk: 17, dh: 16, scale: 8, bias: true, mask: false },
];
const SPECS = [...SAMPLE_SPECS, ...CPU_EDGE_SPECS];

const cache = mkdtempSync(join(tmpdir(), 'medctc-native-test-'));
const opened = await openNative({ threads: 2, cacheDir: cache });
const reason = 'reason' in opened ? opened.reason : null;
if (reason) console.warn(`SKIPPING native CPU kernel parity tests: ${reason}`);

describe.skipIf(reason !== null)('native C kernels match the TypeScript reference', () => {
  let dev: NativeDevice, one: NativeDevice;
  const programs = new Map<string, Program>();
  beforeAll(async () => {
    dev = opened as NativeDevice;
    const o = await openNative({ threads: 1, cacheDir: cache });
    if ('reason' in o) throw new Error(o.reason);
    one = o;
    // One batch: one shared object for every kernel.
    const sources = SPECS.map(cSource);
    const ps = await dev.compile(sources);
    ps.forEach((p) => programs.set(p.name, p));
    await one.compile(sources);
  }, 300_000);
  afterAll(() => { dev?.destroy(); one?.destroy(); rmSync(cache, { recursive: true, force: true }); });

  it('attention takes the CPU body at long keys and wide heads only (ct_clip_tiny keeps the shared body)', () => {
    const cpuBody = (spec: KernelSpec) => (cSource(spec).source ?? '').includes('Kᵀ in scratch');
    const att = (nk: number, dh: number): KernelSpec => ({ kind: 'attention', batch: 1, heads: 8, nq: 16, nk, dh, scale: 8, bias: false, mask: false });
    expect(cpuBody(att(576, 32))).toBe(true); // CT-CLIP's spatial attention
    expect(cpuBody(att(512, 64))).toBe(true); // CXR-BERT
    expect(cpuBody(att(24, 32))).toBe(false); // CT-CLIP's temporal attention
    expect(cpuBody(att(160, 16))).toBe(false); // ct_clip_tiny's pretraining text
  });

  it('records the compiler and flags it used', () => {
    expect(dev.compiler.cc).toBeTruthy();
    expect(dev.compiler.flags).toContain('-O3');
    expect(dev.description).toMatch(/^cpu: /); // the native backend is what users call cpu
  });

  for (const [i, spec] of SPECS.entries()) {
    it(kernelName(spec), async () => {
      const inputs = randomInputs(spec, 1000 + i);
      const want = cloneBuffers(inputs);
      runReference(spec, want);
      const p = programs.get(kernelName(spec))!;
      const got = await runProgram(dev, p, cloneBuffers(inputs));
      for (const name of Object.keys(got)) expectClose(name, got[name]!, want[name]!);
      const again = await runProgram(dev, p, cloneBuffers(inputs));
      const [p1] = await one.compile([cSource(spec)]);
      const single = await runProgram(one, p1!, cloneBuffers(inputs));
      for (const name of Object.keys(got)) {
        expect(sameBits(again[name]!, got[name]!), `${name}: two runs on 2 threads differ`).toBe(true);
        expect(sameBits(single[name]!, got[name]!), `${name}: 1 thread and 2 threads differ`).toBe(true);
      }
    }, 60_000);
  }
});

describe('native device without a compiler', () => {
  it('answers unavailable with a one-line reason instead of throwing', async () => {
    const d = await openNative({ env: { ...process.env, CC: '/nonexistent/cc', PATH: '/nonexistent' }, cacheDir: cache });
    expect('reason' in d).toBe(true);
    if ('reason' in d) {
      expect(d.backend).toBe('cpu');
      expect(d.reason).toMatch(/no working C compiler/);
      expect(d.reason).not.toMatch(/\n/);
    }
  });
});

describe('OpenMP wait policy (configureOpenMpWait)', () => {
  it('sets a short spin before an idle thread sleeps, and leaves a user setting alone', () => {
    const none = {} as NodeJS.ProcessEnv;
    expect(configureOpenMpWait(none)).toBe(`GOMP_SPINCOUNT=${SPINS} KMP_BLOCKTIME=1`);
    expect(none).toEqual({ GOMP_SPINCOUNT: String(SPINS), KMP_BLOCKTIME: '1' });
    const own = { OMP_WAIT_POLICY: 'passive' } as NodeJS.ProcessEnv;
    expect(configureOpenMpWait(own)).toBe('OMP_WAIT_POLICY=passive');
    expect(own).toEqual({ OMP_WAIT_POLICY: 'passive' });
  });
});
