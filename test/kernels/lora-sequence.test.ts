// The whole LoRA linear training step as the executor will run it (fused forward, then the fused
// backward sequence sharing the forward's saved s and dropout seed) on WebGPU, against the same
// sequence on the CPU reference and against the unfused (PEFT-order) sequence.
import { describe, it, beforeAll, afterAll } from 'vitest';
import type { Device, DeviceBuffer } from '../../runtime/device/types.js';
import { CpuDevice } from '../../runtime/device/cpu/device.js';
import { openWebGpu } from '../../runtime/device/webgpu/device.js';
import { compileSteps, dispatchSteps } from '../../runtime/exec/steps.js';
import { emittedLibrary } from '../../compiler/codegen/library.js';
import { kernelBindings } from '../../compiler/kernels/bindings.js';
import { loraBackwardSteps, loraUnfusedForwardSteps, type KernelStep } from '../../compiler/kernels/lora.js';
import type { LoraLinearSpec } from '../../compiler/kernels/spec.js';
import { Rng } from '../../runtime/util/rng.js';
import { expectClose } from './harness.js';

const spec: LoraLinearSpec = { kind: 'lora_linear', m: 203, k: 72, n: 81, r: 12, scaling: 1.25, dropout: 0.2, stream: 2, bias: true, activation: 'none', residual: false };
const { m, k, n, r } = spec;
const SIZES: Record<string, number> = { x: m * k, w: n * k, bias: n, lora_a: r * k, lora_b: n * r, params: 4, s: m * r, y: m * n,
  y0: m * n, t: m * r, u: m * n, yu: m * n, dy: m * n, ds: m * r, dx: m * k, dlora_a: r * k, dlora_b: n * r };

async function step(device: Device): Promise<Record<string, Float32Array>> {
  const rng = new Rng(99, 'lora-sequence');
  const bufs: Record<string, DeviceBuffer> = {};
  for (const [name, size] of Object.entries(SIZES)) {
    bufs[name] = device.alloc(size * 4);
    await device.upload(bufs[name]!, name === 'params' ? Uint32Array.from([777, 0, 0, 0]) : rng.fillNormal(new Float32Array(size)) as Float32Array);
  }
  const unfused = loraUnfusedForwardSteps(spec).map((s, i, all) => (i === all.length - 1 ? { ...s, args: ['y0', 'u', 'yu'] } : s));
  const steps: KernelStep[] = [{ spec, args: kernelBindings(spec).map((b) => b.name) }, ...unfused, ...loraBackwardSteps(spec)];
  dispatchSteps(device, steps, await compileSteps(device, emittedLibrary(device.target), steps), bufs);
  await device.synchronize();
  const out: Record<string, Float32Array> = {};
  for (const name of ['y', 'yu', 's', 'ds', 'dx', 'dlora_a', 'dlora_b']) {
    out[name] = new Float32Array(SIZES[name]!);
    await device.download(bufs[name]!, out[name]!);
  }
  return out;
}

let gpu: Device;
beforeAll(async () => {
  const d = await openWebGpu();
  if ('reason' in d) throw new Error(`WebGPU is required for these tests (CI installs Mesa): ${d.reason}`);
  gpu = d;
}, 60_000);
afterAll(() => gpu?.destroy());

describe('LoRA linear forward + backward sequence', () => {
  it('matches on WebGPU and the CPU reference, and fused forward equals the unfused forward', async () => {
    const want = await step(new CpuDevice());
    const got = await step(gpu);
    for (const name of Object.keys(want)) expectClose(name, got[name]!, want[name]!);
    expectClose('fused vs unfused y', got.y!, got.yu!);
  }, 60_000);
});
