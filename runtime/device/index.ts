// Public surface of the devices: the interface, the backends, and openDevice.
//
// 'auto' picks the fastest backend that is really available: CUDA (an NVIDIA driver and NVRTC
// were found), then WebGPU on a hardware adapter, then the native CPU backend (the plan's kernels
// as C, compiled by the system compiler: bench/RESULTS.md "Native CPU backend"), then WebGPU on a
// software adapter (Mesa llvmpipe), then the TypeScript reference, which is written to be read,
// not to be fast.
import { DiagnosticError } from '../../base/diagnostics/types.js';
import { diag } from '../../base/diagnostics/catalog.js';
import type { BackendName, Device, Unavailable } from './types.js';
import { CpuDevice } from './cpu/device.js';
import { openWebGpu } from './webgpu/device.js';
import { openCuda } from './cuda/device.js';
import { openNative } from './native/device.js';

export { InternalError, type BackendName, type Device, type DeviceBuffer, type KernelSource, type Program, type SourceTarget, type Unavailable } from './types.js';
export { CpuDevice } from './cpu/device.js';
export { runReference, pairLoss, clipLoss, type Buffers, type HostArray } from './cpu/reference.js';
export { dropoutBits, dropoutKeep } from './cpu/rng.js';
export { erf, gelu, geluGrad } from './cpu/math.js';
export { openWebGpu, WebGpuDevice } from './webgpu/device.js';
export { openCuda, CudaDevice, loadCuda } from './cuda/device.js';
export { openNative, NativeDevice } from './native/device.js';

export const BACKENDS = ['auto', 'cpu', 'webgpu', 'cuda', 'reference'] as const;

export const isUnavailable = (d: Device | Unavailable): d is Unavailable => 'reason' in d;

/** Opens a backend, or answers why it cannot run here. */
export async function tryOpenDevice(name: BackendName): Promise<Device | Unavailable> {
  switch (name) {
    case 'reference': return new CpuDevice();
    case 'cpu': return openNative();
    case 'webgpu': return openWebGpu();
    case 'cuda': return openCuda();
  }
}

/** openDevice('auto' | backend): a device, or a DiagnosticError E4001 / E4003 saying why not. */
export async function openDevice(name: string = 'auto', notice: (line: string) => void = () => {}): Promise<Device> {
  if (name === 'auto') {
    const cuda = await openCuda();
    if (!isUnavailable(cuda)) return cuda;
    const gpu = await openWebGpu();
    if (!isUnavailable(gpu) && !gpu.software) return gpu;
    const native = await openNative();
    if (!isUnavailable(native)) return native;
    // A missing C compiler is worth one line, not an error: the run goes on, slower.
    notice(`no native CPU backend (${native.reason}); using ${isUnavailable(gpu) ? 'the TypeScript reference' : 'WebGPU on a software adapter'}`);
    if (!isUnavailable(gpu)) return gpu;
    return new CpuDevice();
  }
  if (!(BACKENDS as readonly string[]).includes(name) || name === 'auto') {
    throw new DiagnosticError(diag('E4003', `unknown compute backend \`${name}\``, null, { help: `use one of: ${BACKENDS.join(', ')}` }));
  }
  const d = await tryOpenDevice(name as BackendName);
  if (isUnavailable(d)) throw new DiagnosticError(diag('E4001', `the ${d.backend} backend is unavailable: ${d.reason}`, null,
    { help: d.backend === 'cpu' ? 'install a C compiler (gcc or clang; or set CC), or use --backend auto / reference' : 'use --backend cpu, or auto to pick what this machine has' }));
  return d;
}
