// The device interface every backend implements (tinygrad-sized): an allocator (alloc, views at
// offsets, copy in, copy out, free), a compiler (kernel source -> program, cached) and a program
// runner (dispatch, synchronise). Async because WebGPU is. A device never generates code: it is
// handed the source the build wrote (KernelSource), so what ran is what `medctc build` wrote.
import type { KernelSpec } from '../../compiler/kernels/spec.js';
import type { KernelSource } from '../../compiler/codegen/library.js';
import type { TargetName } from '../../compiler/codegen/target.js';
import type { HostArray } from './cpu/reference.js';

export type { KernelSource, Launch } from '../../compiler/codegen/library.js';

/** cpu: the native backend (generated C, system compiler); reference: the TypeScript reference kernels, the oracle. */
export type BackendName = 'reference' | 'cpu' | 'webgpu' | 'cuda';

/** Source languages a device can be handed (null: the TypeScript reference interprets the spec). */
export type SourceTarget = TargetName;

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
  /** True when this device runs kernels on a CPU (CPU backends, or WebGPU on a software adapter). */
  readonly software: boolean;
  /** The source language it compiles, or null (it interprets specs). */
  readonly target: SourceTarget | null;
  alloc(bytes: number): DeviceBuffer;
  /** `bytes` bytes of `buffer` from `offset` (a multiple of 256): how arenas hand out buffers.
   *  A view is freed with its parent. */
  view(buffer: DeviceBuffer, offset: number, bytes: number): DeviceBuffer;
  upload(buffer: DeviceBuffer, data: HostArray): Promise<void>;
  /** Copies into `out` (whose byte length must not exceed the buffer's). */
  download(buffer: DeviceBuffer, out: HostArray): Promise<void>;
  /** Compiles a batch of kernels (a device may compile them in one go); same source, same program. */
  compile(kernels: KernelSource[]): Promise<Program[]>;
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

/** A mistake inside medctc (generated code that does not compile, a dispatch with the wrong
 *  buffers): exit 3 with "please report", never a user diagnostic. */
export class InternalError extends Error {
  override readonly name = 'InternalError';
}
