// Runs one kernel on a device over host arrays, and compares results with a documented tolerance.
import { expect } from 'vitest';
import type { Device } from '../../runtime/device/types.js';
import { kernelBindings } from '../../compiler/kernels/bindings.js';
import type { KernelSpec } from '../../compiler/kernels/spec.js';
import type { Buffers } from '../../runtime/device/cpu/reference.js';
import { kernelSource } from '../../compiler/codegen/library.js';

export async function runOn(device: Device, spec: KernelSpec, inputs: Buffers): Promise<Buffers> {
  const bindings = kernelBindings(spec);
  const [program] = await device.compile([kernelSource(spec, device.target)]);
  const bufs = bindings.map((b) => device.alloc(b.size * 4));
  await Promise.all(bindings.map((b, i) => device.upload(bufs[i]!, inputs[b.name]!)));
  device.dispatch(program!, bufs);
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

/** |got - want| <= 2e-4·|want| + 2e-5·max|want| + 1e-6: f32 accumulation in another order than
 *  the f64 reference, over reductions of at most a few hundred terms. */
export function expectClose(name: string, got: ArrayLike<number>, want: ArrayLike<number>): void {
  let maxAbs = 0;
  for (let i = 0; i < want.length; i++) maxAbs = Math.max(maxAbs, Math.abs(want[i]!));
  let worst = -1, worstExcess = 0;
  for (let i = 0; i < want.length; i++) {
    const tol = 2e-4 * Math.abs(want[i]!) + 2e-5 * maxAbs + 1e-6;
    const excess = Math.abs(got[i]! - want[i]!) - tol;
    if (!(excess <= 0) && (worst < 0 || !(excess <= worstExcess))) { worst = i; worstExcess = excess; }
  }
  if (worst >= 0) expect.fail(`${name}[${worst}]: got ${got[worst]}, want ${want[worst]} (max |ref| ${maxAbs})`);
}
