// The native device driven directly: KernelSource objects built as the build writes them
// (kernelName, kernelBindings, emitKernel(spec, 'c')), host buffers in, outputs out.
import { emitKernel } from '../../../compiler/codegen/emit.js';
import { kernelBindings } from '../../../compiler/kernels/bindings.js';
import { kernelName, type KernelSpec } from '../../../compiler/kernels/spec.js';
import type { Device, KernelSource, Program } from '../../../runtime/device/types.js';
import type { Buffers } from '../../../runtime/device/cpu/reference.js';

export function cSource(spec: KernelSpec): KernelSource {
  const k = emitKernel(spec, 'c');
  return { name: kernelName(spec), spec, bindings: kernelBindings(spec), target: 'c', source: k.source, launches: k.launches };
}

/** Uploads every binding, dispatches once, downloads the writable ones. */
export async function runProgram(device: Device, program: Program, inputs: Buffers): Promise<Buffers> {
  const bindings = kernelBindings(program.spec);
  const bufs = bindings.map((b) => device.alloc(b.size * 4));
  await Promise.all(bindings.map((b, i) => device.upload(bufs[i]!, inputs[b.name]!)));
  device.dispatch(program, bufs);
  await device.synchronize();
  const out: Buffers = {};
  for (const [i, b] of bindings.entries()) {
    if (b.access === 'read') continue;
    const host = inputs[b.name]!.slice();
    await device.download(bufs[i]!, host);
    out[b.name] = host;
  }
  bufs.forEach((b) => device.free(b));
  return out;
}

export const sameBits = (a: ArrayLike<number> & { buffer: ArrayBufferLike; byteOffset: number; byteLength: number }, b: typeof a): boolean =>
  Buffer.compare(Buffer.from(a.buffer, a.byteOffset, a.byteLength), Buffer.from(b.buffer, b.byteOffset, b.byteLength)) === 0;
