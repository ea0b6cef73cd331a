// Seeded random inputs for a kernel's bindings, shaped so each kernel's preconditions hold
// (valid token ids, non-negative second moments, consistent forward outputs for backward kernels).
import type { KernelSpec } from '../../compiler/kernels/spec.js';
import { kernelBindings } from '../../compiler/kernels/bindings.js';
import { runReference, type Buffers } from '../../runtime/device/cpu/reference.js';
import { Rng } from '../../runtime/util/rng.js';

export const DROPOUT_SEED = 0x5eed1234;

export function randomInputs(spec: KernelSpec, seed: number): Buffers {
  const rng = new Rng(seed, spec.kind);
  const out: Buffers = {};
  for (const b of kernelBindings(spec)) {
    // params = [dropout seed, AdamW step, lr as f32 bits, 0] (runtime/exec RunScalars).
    if (b.name === 'params') { out[b.name] = Uint32Array.from([DROPOUT_SEED, 3, new Uint32Array(Float32Array.of(1e-3).buffer)[0]!, 0]); continue; }
    if (b.dtype === 'i32') {
      const a = new Int32Array(b.size);
      if (b.name === 'ids') for (let i = 0; i < a.length; i++) a[i] = rng.int((spec as { vocab: number }).vocab);
      else for (let i = 0; i < a.length; i++) a[i] = rng.uniform() < 0.75 ? 1 : 0;
      out[b.name] = a;
      continue;
    }
    const a = rng.fillNormal(new Float32Array(b.size)) as Float32Array;
    if (b.name === 'targets') for (let i = 0; i < a.length; i++) a[i] = rng.uniform() < 0.5 ? 1 : 0;
    if (b.name === 'norms') for (let i = 0; i < a.length; i++) a[i] = a[i]! * a[i]!;
    if (b.name === 'v') for (let i = 0; i < a.length; i++) a[i] = Math.abs(a[i]!) * 0.01;
    if (b.name === 'gamma') for (let i = 0; i < a.length; i++) a[i] = 1 + 0.3 * a[i]!;
    out[b.name] = a;
  }
  if (spec.kind === 'attention_backward' || spec.kind === 'attention_bias_grad') {
    // o and lse must be what the forward produced for these q, k, v.
    const fwd: Buffers = { ...out, o: new Float32Array(out.o!.length), lse: new Float32Array(out.lse!.length) };
    runReference({ ...spec, kind: 'attention', bias: spec.kind === 'attention_bias_grad' ? true : spec.bias }, fwd);
    out.o = fwd.o!; out.lse = fwd.lse!;
  }
  return out;
}

export function cloneBuffers(b: Buffers): Buffers {
  return Object.fromEntries(Object.entries(b).map(([k, v]) => [k, v.slice()]));
}
