// The CPU device: buffers are host ArrayBuffers; "compiling" maps a spec to its reference function.
import type { KernelSpec } from '../../../compiler/kernels/spec.js';
import { kernelName } from '../../../compiler/kernels/spec.js';
import { kernelBindings } from '../../../compiler/kernels/bindings.js';
import type { Device, DeviceBuffer, Program } from '../types.js';
import { checkBuffers } from '../check.js';
import { runReference, type Buffers, type HostArray } from './reference.js';

class CpuBuffer implements DeviceBuffer {
  readonly data: ArrayBuffer;
  constructor(readonly bytes: number) { this.data = new ArrayBuffer(Math.max(4, Math.ceil(bytes / 4) * 4)); }
}

const VIEW = { f32: Float32Array, i32: Int32Array, u32: Uint32Array } as const;

export class CpuDevice implements Device {
  readonly backend = 'cpu' as const;
  readonly description = 'cpu: TypeScript reference kernels';
  readonly software = true;
  alloc(bytes: number): DeviceBuffer { return new CpuBuffer(bytes); }
  async upload(buffer: DeviceBuffer, data: HostArray): Promise<void> {
    new Uint8Array((buffer as CpuBuffer).data).set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
  }
  async download(buffer: DeviceBuffer, out: HostArray): Promise<void> {
    new Uint8Array(out.buffer, out.byteOffset, out.byteLength).set(new Uint8Array((buffer as CpuBuffer).data, 0, out.byteLength));
  }
  async compile(spec: KernelSpec): Promise<Program> { return { name: kernelName(spec), spec }; }
  dispatch(program: Program, buffers: DeviceBuffer[]): void {
    const bindings = kernelBindings(program.spec);
    checkBuffers(program.name, bindings, buffers);
    const named: Buffers = {};
    bindings.forEach((b, i) => { named[b.name] = new VIEW[b.dtype]((buffers[i] as CpuBuffer).data, 0, b.size); });
    runReference(program.spec, named);
  }
  async synchronize(): Promise<void> {}
  free(): void {}
  destroy(): void {}
}
