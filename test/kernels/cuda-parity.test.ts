// CUDA kernels (NVRTC through the driver API) match the CPU reference. Needs an NVIDIA GPU:
// elsewhere it is skipped, loudly.
import { describe, it, beforeAll, afterAll } from 'vitest';
import type { Device } from '../../runtime/device/types.js';
import { CpuDevice } from '../../runtime/device/cpu/device.js';
import { openCuda } from '../../runtime/device/cuda/device.js';
import { kernelName } from '../../compiler/kernels/spec.js';
import { SAMPLE_SPECS } from './specs.js';
import { randomInputs, cloneBuffers } from './inputs.js';
import { runOn, expectClose } from './harness.js';

const opened = await openCuda();
const reason = 'reason' in opened ? opened.reason : null;
if (reason) console.warn(`SKIPPING CUDA kernel parity tests: ${reason}`);

describe.skipIf(reason !== null)('CUDA kernels match the CPU reference', () => {
  let gpu: Device;
  beforeAll(() => { gpu = opened as Device; });
  afterAll(() => gpu?.destroy());
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
