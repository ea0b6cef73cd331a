// The device interface every backend implements (tinygrad-sized): allocate, copy in, copy out,
// compile a kernel (cached), dispatch it, synchronise, free. Async because WebGPU is.
import type { KernelSpec } from '../../compiler/kernels/spec.js';
import type { HostArray } from './cpu/reference.js';

export type BackendName = 'cpu' | 'webgpu' | 'cuda';

export interface DeviceBuffer {
  readonly bytes: number;
}

export interface Program {
  readonly name: string;
  readonly spec: KernelSpec;
}

export interface Device {
  readonly backend: BackendName;
  /** e.g. "webgpu: llvmpipe (opengles, compatibility)". */
  readonly description: string;
  /** True when this device runs kernels on a CPU (CPU backend, or WebGPU on a software adapter). */
  readonly software: boolean;
  alloc(bytes: number): DeviceBuffer;
  upload(buffer: DeviceBuffer, data: HostArray): Promise<void>;
  /** Copies into `out` (whose byte length must not exceed the buffer's). */
  download(buffer: DeviceBuffer, out: HostArray): Promise<void>;
  /** Generates (for GPUs), compiles and caches the kernel for a spec; same spec, same program. */
  compile(spec: KernelSpec): Promise<Program>;
  /** Enqueues every launch of the program with buffers in kernelBindings(spec) order. */
  dispatch(program: Program, buffers: DeviceBuffer[]): void;
  /** Waits until every enqueued dispatch and copy has finished. */
  synchronize(): Promise<void>;
  free(buffer: DeviceBuffer): void;
  destroy(): void;
}

/** openDevice's answer when a backend cannot run here: the reason, never a crash. */
export interface Unavailable {
  backend: BackendName;
  reason: string;
}
