// The CPU reference device: buffers are host ArrayBuffers (views are byte ranges of them);
// "compiling" keeps the spec, which the reference interpreter (./reference.ts) runs. It is the
// living definition of every kernel, written to be read, not to be fast: the oracle the other
// backends are tested against.
import type { KernelSpec } from '../../../compiler/kernels/spec.js';
import type { Device, DeviceBuffer, KernelSource, Program } from '../types.js';
import { checkBuffers, checkView } from '../check.js';
import { runReference, type Buffers, type HostArray } from './reference.js';
import { fromHalf, toHalf } from '../../util/half.js';

class CpuBuffer implements DeviceBuffer {
  constructor(readonly bytes: number, readonly data: ArrayBuffer, readonly offset: number) {}
}

interface CpuProgram extends Program { readonly kernel: KernelSource }

const VIEW = { f32: Float32Array, i32: Int32Array, u32: Uint32Array } as const;

export class CpuDevice implements Device {
  readonly backend = 'reference' as const;
  readonly description = 'reference: TypeScript reference kernels (the oracle every backend is tested against; slow)';
  readonly software = true;
  readonly target = null;
  alloc(bytes: number): DeviceBuffer {
    const size = Math.max(4, Math.ceil(bytes / 4) * 4);
    return new CpuBuffer(size, new ArrayBuffer(size), 0);
  }
  view(buffer: DeviceBuffer, offset: number, bytes: number): DeviceBuffer {
    checkView(buffer, offset, bytes);
    const b = buffer as CpuBuffer;
    return new CpuBuffer(bytes, b.data, b.offset + offset);
  }
  async upload(buffer: DeviceBuffer, data: HostArray): Promise<void> {
    const b = buffer as CpuBuffer;
    new Uint8Array(b.data, b.offset, b.bytes).set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
  }
  async download(buffer: DeviceBuffer, out: HostArray): Promise<void> {
    const b = buffer as CpuBuffer;
    new Uint8Array(out.buffer, out.byteOffset, out.byteLength).set(new Uint8Array(b.data, b.offset, out.byteLength));
  }
  async compile(kernels: KernelSource[]): Promise<Program[]> {
    return kernels.map((kernel): CpuProgram => ({ name: kernel.name, spec: kernel.spec, kernel }));
  }
  dispatch(program: Program, buffers: DeviceBuffer[]): void {
    const { bindings } = (program as CpuProgram).kernel;
    checkBuffers(program.name, bindings, buffers);
    const named: Buffers = {};
    const narrow: (() => void)[] = [];
    bindings.forEach((b, i) => {
      const buf = buffers[i] as CpuBuffer;
      if (b.dtype === 'bf16' || b.dtype === 'f16') {
        // 16-bit storage: the reference computes on the exact f32 values and rounds what it
        // writes to nearest even, as the generated kernels' loads and stores do.
        const dtype = b.dtype;
        const bits = new Uint16Array(buf.data, buf.offset, b.size);
        const wide = fromHalf(bits, dtype);
        named[b.name] = wide;
        if (b.access === 'read_write') narrow.push(() => bits.set(toHalf(wide, dtype).subarray(0, b.size)));
        return;
      }
      named[b.name] = new VIEW[b.dtype](buf.data, buf.offset, b.size);
    });
    runReference(program.spec as KernelSpec, named);
    for (const n of narrow) n();
  }
  async synchronize(): Promise<void> {}
  free(): void {}
  destroy(): void {}
}
