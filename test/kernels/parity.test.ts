// Every kernel, generated as WGSL and run by Dawn (llvmpipe on CPU-only machines), matches the
// CPU reference on seeded random inputs whose sizes are not multiples of the tiles.
// Tolerance: |gpu - ref| <= 2e-4·|ref| + 2e-5·max|ref| + 1e-6 (f32 accumulation in a different
// order than the f64 reference; reductions here are at most a few hundred terms).
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import type { Device } from '../../runtime/device/types.js';
import { CpuDevice } from '../../runtime/device/cpu/device.js';
import { openWebGpu } from '../../runtime/device/webgpu/device.js';
import { kernelBindings } from '../../compiler/kernels/bindings.js';
import { kernelName, type KernelSpec } from '../../compiler/kernels/spec.js';
import type { Buffers } from '../../runtime/device/cpu/reference.js';
import { SAMPLE_SPECS } from './specs.js';
import { randomInputs, cloneBuffers } from './inputs.js';

export async function runOn(device: Device, spec: KernelSpec, inputs: Buffers): Promise<Buffers> {
  const bindings = kernelBindings(spec);
  const program = await device.compile(spec);
  const bufs = bindings.map((b) => device.alloc(b.size * 4));
  await Promise.all(bindings.map((b, i) => device.upload(bufs[i]!, inputs[b.name]!)));
  device.dispatch(program, bufs);
  await device.synchronize();
  const out: Buffers = {};
  for (const [i, b] of bindings.entries()) {
    if (b.access === 'read') continue;
    const host = inputs[b.name]!.slice();
    await device.download(bufs[i]!, host);
    out[b.name] = host;
  }
  bufs.forEach((b) => device.free(b));
  return out;
}

export function expectClose(name: string, got: ArrayLike<number>, want: ArrayLike<number>): void {
  let maxAbs = 0;
  for (let i = 0; i < want.length; i++) maxAbs = Math.max(maxAbs, Math.abs(want[i]!));
  let worst = -1, worstExcess = 0;
  for (let i = 0; i < want.length; i++) {
    const tol = 2e-4 * Math.abs(want[i]!) + 2e-5 * maxAbs + 1e-6;
    const excess = Math.abs(got[i]! - want[i]!) - tol;
    if (!(excess <= 0) && (worst < 0 || !(excess <= worstExcess))) { worst = i; worstExcess = excess; }
  }
  if (worst >= 0) expect.fail(`${name}[${worst}]: got ${got[worst]}, want ${want[worst]} (max |ref| ${maxAbs})`);
}

let gpu: Device;
beforeAll(async () => {
  const d = await openWebGpu();
  if ('reason' in d) throw new Error(`WebGPU is required for these tests (CI installs Mesa): ${d.reason}`);
  gpu = d;
}, 60_000);
afterAll(() => gpu?.destroy());

describe('WGSL kernels match the CPU reference', () => {
  const cpu = new CpuDevice();
  for (const [i, spec] of SAMPLE_SPECS.entries()) {
    it(kernelName(spec), async () => {
      const inputs = randomInputs(spec, 1000 + i);
      const want = await runOn(cpu, spec, cloneBuffers(inputs));
      const got = await runOn(gpu, spec, cloneBuffers(inputs));
      for (const name of Object.keys(want)) expectClose(name, got[name]!, want[name]!);
    }, 60_000);
  }
});
