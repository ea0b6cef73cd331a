// The kernel parity list and its inputs for bench/device-check.mjs, on a machine that has dist/
// and koffi but no vitest or TypeScript toolchain (the borrowed GPU machine, bench/device.sh).
//
// The list itself stays in test/kernels/specs.ts (the test suite's parity list, which tsc does not
// compile into dist/): it is read as text and evaluated after dropping its type-only syntax, so
// the device check always runs exactly the specs the tests run. randomInputs mirrors
// test/kernels/inputs.ts (same seeds, same preconditions) over dist's kernelBindings.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { kernelBindings } from '../dist/compiler/kernels/bindings.js';
import { kernelSource } from '../dist/compiler/codegen/library.js';
import { runReference } from '../dist/runtime/device/cpu/reference.js';
import { Rng } from '../dist/runtime/util/rng.js';

/** SAMPLE_SPECS of test/kernels/specs.ts: a literal array, so removing `import type` lines and
 *  the `: KernelSpec[]` annotation leaves plain JavaScript. */
export async function loadParitySpecs(root) {
  const file = join(root, 'test/kernels/specs.ts');
  const ts = readFileSync(file, 'utf8');
  const js = ts
    .split('\n').filter((l) => !/^\s*import\s+type\b/.test(l)).join('\n')
    .replace(/export const (\w+)\s*:\s*[A-Za-z_][\w.<>[\], ]*=/g, 'export const $1 =');
  let mod;
  try {
    mod = await import(`data:text/javascript;base64,${Buffer.from(js).toString('base64')}`);
  } catch (e) {
    throw new Error(`cannot read the parity list from ${file} as JavaScript after stripping its types (${e.message.split('\n')[0]}); has its syntax changed?`);
  }
  const specs = mod.SAMPLE_SPECS;
  if (!Array.isArray(specs) || specs.length === 0 || !specs.every((s) => s && typeof s.kind === 'string')) {
    throw new Error(`${file} did not yield a SAMPLE_SPECS array of kernel specs`);
  }
  return specs;
}

export const DROPOUT_SEED = 0x5eed1234;

/** Seeded inputs for a spec's bindings: the rules of test/kernels/inputs.ts. */
export function randomInputs(spec, seed) {
  const rng = new Rng(seed, spec.kind);
  const out = {};
  for (const b of kernelBindings(spec)) {
    // params = [dropout seed, AdamW step, lr as f32 bits, 0] (runtime/exec RunScalars).
    if (b.name === 'params') { out[b.name] = Uint32Array.from([DROPOUT_SEED, 3, new Uint32Array(Float32Array.of(1e-3).buffer)[0], 0]); continue; }
    if (b.dtype === 'i32') {
      const a = new Int32Array(b.size);
      if (b.name === 'ids') for (let i = 0; i < a.length; i++) a[i] = rng.int(spec.vocab);
      else for (let i = 0; i < a.length; i++) a[i] = rng.uniform() < 0.75 ? 1 : 0;
      out[b.name] = a;
      continue;
    }
    const a = rng.fillNormal(new Float32Array(b.size));
    if (b.name === 'targets') for (let i = 0; i < a.length; i++) a[i] = rng.uniform() < 0.5 ? 1 : 0;
    if (b.name === 'norms') for (let i = 0; i < a.length; i++) a[i] = a[i] * a[i];
    if (b.name === 'v') for (let i = 0; i < a.length; i++) a[i] = Math.abs(a[i]) * 0.01;
    if (b.name === 'gamma') for (let i = 0; i < a.length; i++) a[i] = 1 + 0.3 * a[i];
    out[b.name] = a;
  }
  if (spec.kind === 'attention_backward' || spec.kind === 'attention_bias_grad') {
    // o and lse must be what the forward produced for these q, k, v.
    const fwd = { ...out, o: new Float32Array(out.o.length), lse: new Float32Array(out.lse.length) };
    runReference({ ...spec, kind: 'attention', bias: spec.kind === 'attention_bias_grad' ? true : spec.bias }, fwd);
    out.o = fwd.o; out.lse = fwd.lse;
  }
  return out;
}

export const cloneBuffers = (b) => Object.fromEntries(Object.entries(b).map(([k, v]) => [k, v.slice()]));

/** One kernel on a device over host arrays (its source generated for the device's language);
 *  returns its written bindings. */
export async function runOn(device, spec, inputs) {
  const bindings = kernelBindings(spec);
  const [program] = await device.compile([kernelSource(spec, device.target)]);
  const bufs = bindings.map((b) => device.alloc(b.size * 4));
  await Promise.all(bindings.map((b, i) => device.upload(bufs[i], inputs[b.name])));
  device.dispatch(program, bufs);
  await device.synchronize();
  const out = {};
  for (const [i, b] of bindings.entries()) {
    if (b.access === 'read') continue;
    const host = inputs[b.name].slice();
    await device.download(bufs[i], host);
    out[b.name] = host;
  }
  bufs.forEach((b) => device.free(b));
  return out;
}

/** The tolerance of test/kernels/harness.ts expectClose: |got - want| <= 2e-4·|want| + 2e-5·max|want| + 1e-6.
 *  Returns the max abs error, max error relative to max|want|, and the first element over tolerance. */
export function compare(got, want) {
  let maxRef = 0;
  for (let i = 0; i < want.length; i++) maxRef = Math.max(maxRef, Math.abs(want[i]));
  let maxAbs = 0, bad = -1;
  for (let i = 0; i < want.length; i++) {
    const err = Math.abs(got[i] - want[i]);
    if (!(err <= maxAbs)) maxAbs = Number.isNaN(err) ? Infinity : Math.max(maxAbs, err);
    const tol = 2e-4 * Math.abs(want[i]) + 2e-5 * maxRef + 1e-6;
    if (bad < 0 && !(err <= tol)) bad = i;
  }
  return { maxAbs, maxRel: maxRef ? maxAbs / maxRef : maxAbs, bad, got: bad >= 0 ? got[bad] : null, want: bad >= 0 ? want[bad] : null };
}
