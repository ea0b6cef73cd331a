// Every kernel, generated as WGSL and run by Dawn (llvmpipe on CPU-only machines), matches the
// CPU reference on seeded random inputs whose sizes are not multiples of the tiles.
// Tolerance: see expectClose in ./harness.ts.
import { describe, it, beforeAll, afterAll } from 'vitest';
import type { Device } from '../../runtime/device/types.js';
import { CpuDevice } from '../../runtime/device/cpu/device.js';
import { openWebGpu } from '../../runtime/device/webgpu/device.js';
import { kernelName } from '../../compiler/kernels/spec.js';
import { runOn, expectClose } from './harness.js';
import { SAMPLE_SPECS } from './specs.js';
import { randomInputs, cloneBuffers } from './inputs.js';

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
