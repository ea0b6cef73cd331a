// Shared argument check: a dispatch with the wrong buffers is medctc's own bug (the plan names
// every argument), so it is an internal error, caught here rather than as a GPU fault.
import { dtypeBytes, type Binding } from '../../compiler/kernels/bindings.js';
import { InternalError, type DeviceBuffer } from './types.js';

export function checkBuffers(kernel: string, bindings: Binding[], buffers: DeviceBuffer[]): void {
  if (buffers.length !== bindings.length) {
    throw new InternalError(`kernel ${kernel} takes ${bindings.length} buffers (${bindings.map((b) => b.name).join(', ')}), got ${buffers.length}`);
  }
  bindings.forEach((b, i) => {
    const need = b.size * dtypeBytes(b.dtype);
    if (buffers[i]!.bytes < need) throw new InternalError(`kernel ${kernel}: buffer ${i} (${b.name}) holds ${buffers[i]!.bytes} bytes, needs ${need}`);
  });
}

/** Offsets of views: what every device's view() checks before handing one out. */
export function checkView(parent: DeviceBuffer, offset: number, bytes: number): void {
  if (offset % 256 !== 0 || offset < 0 || bytes < 0 || offset + bytes > parent.bytes) {
    throw new InternalError(`view [${offset}, +${bytes}) of a ${parent.bytes}-byte buffer (offsets are multiples of 256 inside the buffer)`);
  }
}
