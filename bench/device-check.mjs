// CUDA parity on a borrowed GPU machine without node_modules: every kernel spec of the test
// suite's parity list (test/kernels/specs.ts) runs on CUDA (NVRTC + driver through koffi) and on
// the CPU reference, outputs compared with the tolerance of test/kernels/harness.ts.
// Needs only dist/ (npx tsc -p tsconfig.json) and node_modules/koffi + node_modules/@koromix.
// Usage, from the repository root: node bench/device-check.mjs [--filter SUBSTRING] [--device cuda|webgpu]
// (--device webgpu, with the full node_modules, checks this script itself on a machine without a GPU.)
// Prints one line per spec (PASS/FAIL, max abs and relative error) and exits 1 on any failure,
// 3 when there is no usable CUDA device.
// It imports the CUDA and CPU backends directly, not dist/runtime/device/index.js, which also
// loads the WebGPU backend and with it the `webgpu` package (absent there).
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { openCuda } from '../dist/runtime/device/cuda/device.js';
import { CpuDevice } from '../dist/runtime/device/cpu/device.js';
import { kernelName } from '../dist/compiler/kernels/spec.js';
import { loadParitySpecs, randomInputs, cloneBuffers, runOn, compare } from './device-specs.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const fi = args.indexOf('--filter');
const filter = fi >= 0 ? args[fi + 1] : '';
const di = args.indexOf('--device');
const backend = di >= 0 ? args[di + 1] : 'cuda';

const specs = await loadParitySpecs(root);
const gpu = backend === 'webgpu' ? await (await import('../dist/runtime/device/webgpu/device.js')).openWebGpu() : await openCuda();
if ('reason' in gpu) {
  console.error(`device-check: no ${backend === 'webgpu' ? 'WebGPU' : 'CUDA'} device: ${gpu.reason}`);
  process.exit(3);
}
console.log(`device-check: ${gpu.description}; ${specs.length} parity specs from test/kernels/specs.ts`);
const cpu = new CpuDevice();
let failed = 0, ran = 0;
const t0 = performance.now();
for (const [i, spec] of specs.entries()) {
  const name = kernelName(spec);
  if (filter && !name.includes(filter)) continue;
  ran++;
  // Same seed per spec as test/kernels/cuda-parity.test.ts (1000 + index in the list).
  const inputs = randomInputs(spec, 1000 + i);
  let line;
  try {
    const want = await runOn(cpu, spec, cloneBuffers(inputs));
    const got = await runOn(gpu, spec, cloneBuffers(inputs));
    const parts = [], bad = [];
    for (const out of Object.keys(want)) {
      const c = compare(got[out], want[out]);
      parts.push(`${out} abs ${c.maxAbs.toExponential(2)} rel ${c.maxRel.toExponential(2)}`);
      if (c.bad >= 0) bad.push(`${out}[${c.bad}] got ${c.got} want ${c.want}`);
    }
    if (bad.length) failed++;
    line = `${bad.length ? 'FAIL' : 'PASS'} ${name}: ${parts.join('; ')}${bad.length ? ` -- over tolerance: ${bad.join('; ')}` : ''}`;
  } catch (e) {
    failed++;
    line = `FAIL ${name}: ${String(e?.message ?? e).split('\n').slice(0, 6).join(' | ')}`;
  }
  console.log(line);
}
gpu.destroy();
console.log(`device-check: ${ran - failed}/${ran} PASS, ${failed} FAIL (${((performance.now() - t0) / 1000).toFixed(1)} s)`);
process.exit(failed ? 1 : 0);
