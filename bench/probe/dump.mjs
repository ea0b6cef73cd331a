// Linear-probe data for issue 11's diagnosis (bench/RESULTS.md): every preprocessed volume of an
// experiment's train and eval splits as raw float32 (n x D*H*W) and its labels as uint8 (n x 18).
//   npm run build && node bench/probe/dump.mjs examples/quickstart.medct OUT_DIR && /usr/bin/python3 bench/probe/probe.py OUT_DIR
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { checkFiles } from '../../dist/compiler/check/index.js';
import { openDataSet } from '../../dist/runtime/data/index.js';
const [spec, out] = process.argv.slice(2);
mkdirSync(out, { recursive: true });
const exp = checkFiles(spec).experiments[0];
const ds = await openDataSet(exp.data, exp.prompts, { baseDir: dirname(resolve(spec)), progress: 'off' });
for (const split of [ds.train, ds.eval]) {
  const n = split.items.length, [D, H, W] = split.shape, V = D * H * W;
  const vols = new Float32Array(n * V), labs = new Uint8Array(n * 18);
  for (let i = 0; i < n; i++) { vols.set(await split.items[i].load(), i * V); labs.set(split.items[i].labels, i * 18); }
  writeFileSync(`${out}/${split.name}.vol.f32`, Buffer.from(vols.buffer));
  writeFileSync(`${out}/${split.name}.lab.u8`, Buffer.from(labs.buffer));
  console.log(split.name, n, split.shape);
}
console.log(JSON.stringify(ds.pathologies));
