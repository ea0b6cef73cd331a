// Runs a sequence of kernel steps (compiler/kernels/lora.ts) on a device over named buffers: what
// the kernel benchmarks and tests dispatch outside a plan, with sources from a KernelLibrary.
import type { KernelLibrary } from '../../compiler/codegen/library.js';
import { kernelName } from '../../compiler/kernels/spec.js';
import type { KernelStep } from '../../compiler/kernels/lora.js';
import type { Device, DeviceBuffer, Program } from '../device/types.js';

export function compileSteps(device: Device, kernels: KernelLibrary, steps: KernelStep[]): Promise<Program[]> {
  return device.compile(steps.map((s) => kernels.source(kernelName(s.spec), s.spec)));
}

export function dispatchSteps(device: Device, steps: KernelStep[], programs: Program[], buffers: Record<string, DeviceBuffer>): void {
  steps.forEach((s, i) => device.dispatch(programs[i]!, s.args.map((a) => {
    const b = buffers[a];
    if (!b) throw new Error(`runSteps: no buffer named ${a}`);
    return b;
  })));
}
