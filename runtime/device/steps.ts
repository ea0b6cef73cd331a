// Runs a sequence of kernel steps (compiler/kernels/lora.ts) on a device over named buffers.
import type { KernelStep } from '../../compiler/kernels/lora.js';
import type { Device, DeviceBuffer, Program } from './types.js';

export async function compileSteps(device: Device, steps: KernelStep[]): Promise<Program[]> {
  return Promise.all(steps.map((s) => device.compile(s.spec)));
}

export function dispatchSteps(device: Device, steps: KernelStep[], programs: Program[], buffers: Record<string, DeviceBuffer>): void {
  steps.forEach((s, i) => device.dispatch(programs[i]!, s.args.map((a) => {
    const b = buffers[a];
    if (!b) throw new Error(`runSteps: no buffer named ${a}`);
    return b;
  })));
}
