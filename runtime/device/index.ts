// Public surface of the devices: the interface, the backends, and openDevice.
//
// 'auto' picks the fastest backend that is really available: CUDA (an NVIDIA driver and NVRTC
// were found), then WebGPU (a hardware adapter; failing that a software one such as Mesa
// llvmpipe), then the CPU reference. llvmpipe beats the CPU reference: on the 2-core CI box its
// GEMMs run at ≥ 0.8 GMAC/s against the reference's ~0.06 (bench/RESULTS.md "LoRA linear kernels"),
// because the reference is written to be read, not to be fast.
import { DiagnosticError } from '../../compiler/diagnostics/types.js';
import { diag } from '../../compiler/diagnostics/catalog.js';
import type { BackendName, Device, Unavailable } from './types.js';
import { CpuDevice } from './cpu/device.js';
import { openWebGpu } from './webgpu/device.js';
import { openCuda } from './cuda/device.js';

export { InternalError, type BackendName, type Device, type DeviceBuffer, type KernelSource, type Program, type SourceTarget, type Unavailable } from './types.js';
export { CpuDevice } from './cpu/device.js';
export { runReference, pairLoss, clipLoss, type Buffers, type HostArray } from './cpu/reference.js';
export { dropoutBits, dropoutKeep } from './cpu/rng.js';
export { erf, gelu, geluGrad } from './cpu/math.js';
export { openWebGpu, WebGpuDevice } from './webgpu/device.js';
export { openCuda, CudaDevice, loadCuda } from './cuda/device.js';

export const isUnavailable = (d: Device | Unavailable): d is Unavailable => 'reason' in d;

/** Opens a backend, or answers why it cannot run here. */
export async function tryOpenDevice(name: BackendName): Promise<Device | Unavailable> {
  switch (name) {
    case 'cpu': return new CpuDevice();
    case 'webgpu': return openWebGpu();
    case 'cuda': return openCuda();
    case 'native': return { backend: 'native', reason: 'the native CPU backend is not wired in yet' };
  }
}

/** openDevice('auto' | backend): a device, or a DiagnosticError E4001 / E4003 saying why not. */
export async function openDevice(name: string = 'auto'): Promise<Device> {
  if (name === 'auto') {
    const cuda = await openCuda();
    if (!isUnavailable(cuda)) return cuda;
    const gpu = await openWebGpu();
    if (!isUnavailable(gpu)) return gpu;
    return new CpuDevice();
  }
  if (name !== 'cpu' && name !== 'webgpu' && name !== 'cuda') {
    throw new DiagnosticError(diag('E4003', `unknown compute backend \`${name}\``, null, { help: 'use one of: auto, cpu, webgpu, cuda' }));
  }
  const d = await tryOpenDevice(name);
  if (isUnavailable(d)) throw new DiagnosticError(diag('E4001', `the ${d.backend} backend is unavailable: ${d.reason}`, null, { help: 'use --backend cpu, or auto to pick what this machine has' }));
  return d;
}
