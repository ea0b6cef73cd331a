// Golden files for a handful of generated kernels, WGSL and CUDA, at small fixed shapes: a codegen
// change shows up as a reviewed diff of test/compiler/golden/kernels/. Each file is emitKernel's
// source byte for byte (what `medctc build` writes to kernels/); launches.json holds each kernel's
// name and launch geometry (entry, workgroup, grid). UPDATE_GOLDEN=1 writes the goldens; a missing
// or stale one fails. Where nvcc is on PATH the CUDA goldens compile to PTX as written; where Dawn
// gives an adapter the WGSL goldens compile into pipelines, one per entry point.
import { describe, it, expect } from 'vitest';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { create, globals } from 'webgpu';
import { emitKernel, type EmittedKernel } from '../../compiler/codegen/emit.js';
import type { KernelSpec } from '../../compiler/kernels/spec.js';

const DIR = 'test/compiler/golden/kernels';
const UPDATE = process.env.UPDATE_GOLDEN === '1';

/** Shapes are small and not multiples of the tiles, so the edge guards are part of the golden. */
const GOLDEN: { file: string; spec: KernelSpec }[] = [
  // Fused LoRA linear (shrink + concatenated-K expand, two entry points in one file), dropout, bias and residual.
  { file: 'lora_linear', spec: { kind: 'lora_linear', m: 37, k: 24, n: 20, r: 4, scaling: 2, dropout: 0.1, stream: 1, bias: true, activation: 'none', residual: true } },
  // Attention with a key-padding mask and an additive bias.
  { file: 'attention_mask', spec: { kind: 'attention', batch: 2, heads: 2, nq: 9, nk: 7, dh: 8, scale: 0.35, bias: true, mask: true } },
  // Backward GEMM: dA = dSᵀ·dropout(x), transposed A, the dropout mask recomputed on B's loads.
  { file: 'gemm_transA_maskB', spec: { kind: 'gemm', m: 9, k: 33, n: 12, transA: true, transB: false, alpha: 1, bias: false, activation: 'none', residual: false, maskB: 0.25, stream: 3 } },
  // dX = dY·W + mask⊙(dS·A)/(1-p).
  { file: 'lora_backward_input', spec: { kind: 'lora_backward_input', m: 13, k: 24, n: 20, r: 4, dropout: 0.1, stream: 1 } },
  { file: 'layer_norm_backward', spec: { kind: 'layer_norm_backward', rows: 13, n: 37, eps: 1e-5, bias: true } },
];
const TARGETS = [['wgsl', 'wgsl'], ['cuda', 'cu']] as const;

type Launches = Record<string, { name: string; launches: EmittedKernel['launches'] }>;

function emitted(): Map<string, EmittedKernel> {
  const out = new Map<string, EmittedKernel>();
  for (const { file, spec } of GOLDEN) for (const [target, ext] of TARGETS) out.set(`${file}.${ext}`, emitKernel(spec, target));
  return out;
}

function launchesOf(kernels: Map<string, EmittedKernel>): Launches {
  return Object.fromEntries([...kernels].map(([f, k]) => [f, { name: k.name, launches: k.launches }]));
}

describe('generated kernel goldens', () => {
  const kernels = emitted();
  if (UPDATE) {
    mkdirSync(DIR, { recursive: true });
    for (const [file, k] of kernels) writeFileSync(join(DIR, file), k.source);
    writeFileSync(join(DIR, 'launches.json'), `${JSON.stringify(launchesOf(kernels), null, 2)}\n`);
  }

  for (const [file, k] of kernels) {
    it(`${file} is emitted exactly as committed`, () => {
      const path = join(DIR, file);
      // A missing golden is a failure, not a fresh snapshot: a golden written from the output it checks proves nothing.
      if (!existsSync(path)) expect.fail(`${path} is missing: review the output and run with UPDATE_GOLDEN=1 to write it`);
      expect(k.source).toBe(readFileSync(path, 'utf8'));
    });
  }

  it('launch geometry and kernel names match launches.json', () => {
    const path = join(DIR, 'launches.json');
    if (!existsSync(path)) expect.fail(`${path} is missing: review the output and run with UPDATE_GOLDEN=1 to write it`);
    expect(launchesOf(kernels)).toEqual(JSON.parse(readFileSync(path, 'utf8')) as Launches);
  });

  it('the golden folder holds exactly these kernels (no stale goldens)', () => {
    expect(readdirSync(DIR).sort()).toEqual([...kernels.keys(), 'launches.json'].sort());
  });

  it('the goldens cover what they are named for', () => {
    // Guards the spec table above against an edit that silently drops a feature from a golden.
    const src = (f: string) => kernels.get(f)!.source;
    for (const [, ext] of TARGETS) {
      expect(kernels.get(`lora_linear.${ext}`)!.launches.map((l) => l.entry)).toEqual(['lora_shrink', 'lora_expand']);
      expect(kernels.get(`lora_linear.${ext}`)!.bindings.map((b) => b.name)).toEqual(['x', 'w', 'lora_a', 'lora_b', 'bias', 'residual', 'params', 'y', 's']);
      expect(kernels.get(`attention_mask.${ext}`)!.bindings.map((b) => b.name)).toEqual(expect.arrayContaining(['mask', 'bias']));
      expect(kernels.get(`gemm_transA_maskB.${ext}`)!.bindings.map((b) => b.name)).toContain('params');
      expect(kernels.get(`lora_backward_input.${ext}`)!.bindings.map((b) => b.name)).toContain('params');
    }
    expect(src('lora_linear.wgsl')).toContain('@compute');
    expect(src('lora_linear.cu')).toMatch(/^extern "C" __global__ /m);
  });
});

const hasNvcc = spawnSync('nvcc', ['--version'], { encoding: 'utf8' }).status === 0;
if (!hasNvcc) console.warn('SKIPPING CUDA golden compile: `nvcc` not found on PATH');

describe.skipIf(!hasNvcc)('CUDA goldens compile with nvcc', () => {
  it('every .cu golden compiles to PTX for sm_90 with warnings as errors, one entry per launch', () => {
    const files = GOLDEN.map((g) => `${g.file}.cu`);
    const dir = mkdtempSync(join(tmpdir(), 'medctc-golden-cu-'));
    try {
      // Same flags as test/kernels/nvcc.test.ts; one invocation (nvcc is slow to start).
      const r = spawnSync('nvcc', ['-arch=sm_90', '--ptx', '-Werror', 'all-warnings', ...files.map((f) => join(process.cwd(), DIR, f))], { cwd: dir, encoding: 'utf8', timeout: 120_000 });
      expect(r.status, r.stderr).toBe(0);
      const launches = JSON.parse(readFileSync(join(DIR, 'launches.json'), 'utf8')) as Launches;
      for (const f of files) {
        const ptx = readFileSync(join(dir, f.replace(/\.cu$/, '.ptx')), 'utf8');
        const entries = [...ptx.matchAll(/^\.visible \.entry (\w+)\(/gm)].map((m) => m[1]).sort();
        expect(entries, f).toEqual(launches[f]!.launches.map((l) => l.entry).sort());
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 150_000);
});

// Dawn, straight from the webgpu package (no medctc device): instances must outlive the test, so
// they are kept here. Prefers a hardware adapter, else Mesa llvmpipe through OpenGL ES.
const DAWN: GPU[] = [];
async function dawnDevice(): Promise<GPUDevice | null> {
  Object.assign(globalThis, globals);
  process.env.EGL_PLATFORM ??= 'surfaceless';
  for (const [options, req] of [[[], {}], [['backend=opengles'], { featureLevel: 'compatibility' }]] as const) {
    try {
      const gpu = create([...options]);
      DAWN.push(gpu);
      const adapter = await gpu.requestAdapter(req);
      if (adapter) {
        const requiredLimits: Record<string, number> = {};
        for (const l of ['maxComputeInvocationsPerWorkgroup', 'maxComputeWorkgroupSizeX', 'maxStorageBuffersPerShaderStage', 'maxComputeWorkgroupStorageSize'] as const) requiredLimits[l] = adapter.limits[l];
        return await adapter.requestDevice({ requiredLimits });
      }
    } catch { /* try the next backend */ }
  }
  return null;
}

describe('WGSL goldens compile with Dawn', () => {
  it('every .wgsl golden has no compilation errors and builds a compute pipeline per entry point', async (ctx) => {
    const device = await dawnDevice();
    if (!device) { console.warn('SKIPPING WGSL golden compile: no WebGPU adapter'); ctx.skip(); return; }
    try {
      const launches = JSON.parse(readFileSync(join(DIR, 'launches.json'), 'utf8')) as Launches;
      for (const g of GOLDEN) {
        const f = `${g.file}.wgsl`;
        const module = device.createShaderModule({ code: readFileSync(join(DIR, f), 'utf8'), label: f });
        const errors = (await module.getCompilationInfo()).messages.filter((m) => m.type === 'error');
        expect(errors.map((m) => `${f}:${m.lineNum}:${m.linePos} ${m.message}`)).toEqual([]);
        for (const l of launches[f]!.launches) {
          device.pushErrorScope('validation');
          await device.createComputePipelineAsync({ layout: 'auto', compute: { module, entryPoint: l.entry } });
          const err = await device.popErrorScope();
          expect(err?.message, `${f} ${l.entry}`).toBeUndefined();
        }
      }
    } finally {
      device.destroy();
    }
  }, 60_000);
});
