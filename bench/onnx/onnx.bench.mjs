// ONNX export benchmark: the quickstart's ct_clip_tiny eval graph (1 volume, 36 prompts, LoRA
// unmerged) -> exportOnnx -> onnxruntime-node (CPU, graph optimisations off as in the tests, then
// 'all'). Weights are the seeded init of spec/compiler.md with every lora_B made non-zero.
// Run from the repository root after `npx tsc -p tsconfig.json`:
//   node bench/onnx/onnx.bench.mjs [repeats]
import ort from 'onnxruntime-node';
import { checkFiles } from '../../dist/compiler/check/index.js';
import { compileExperiment } from '../../dist/compiler/build.js';
import { exportOnnx } from '../../dist/compiler/export/onnx/index.js';
import { Rng } from '../../dist/runtime/util/rng.js';

const repeats = Number(process.argv[2] ?? 5);
const c = compileExperiment(checkFiles('examples/quickstart.medct').experiments[0]);
const g = c.graphs.eval;
const weights = new Map();
for (const t of g.tensors) {
  if ((t.role !== 'param' && t.role !== 'buffer') || !t.init) continue;
  const v = new Float32Array(t.shape.reduce((a, b) => a * b, 1));
  const rng = new Rng(c.experiment.seed, 'init', t.name);
  const i = t.init;
  if (i.kind === 'ones') v.fill(1);
  else if (i.kind === 'const') v.fill(i.value);
  else if (i.kind === 'uniform') rng.fillUniform(v, -i.bound, i.bound);
  else if (i.kind === 'normal') rng.fillNormal(v, 0, i.std);
  if (t.name.endsWith('lora_B.weight')) new Rng(1, 'bench-lora-b', t.name).fillNormal(v, 0, 0.05);
  weights.set(t.name, v);
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const time = async (fn) => { const t0 = performance.now(); await fn(); return performance.now() - t0; };

let bytes;
const exportMs = [];
for (let r = 0; r < repeats; r++) exportMs.push(await time(() => { bytes = exportOnnx(g, weights); }));

const shape = (n) => g.tensors.find((t) => t.name === n).shape;
const [texts, len] = shape('input_ids');
const feeds = {
  volume: new ort.Tensor('float32', Float32Array.from({ length: 32 ** 3 }, (_, i) => Math.sin(i * 0.37)), shape('volume')),
  input_ids: new ort.Tensor('int32', Int32Array.from({ length: texts * len }, (_, i) => (i * 7) % 500), [texts, len]),
  attention_mask: new ort.Tensor('float32', Float32Array.from({ length: texts * len }, (_, i) => (i % len < 12 ? 1 : 0)), [texts, len]),
};
const rows = [];
for (const level of ['disabled', 'all']) {
  let session;
  const createMs = await time(async () => { session = await ort.InferenceSession.create(bytes, { graphOptimizationLevel: level, intraOpNumThreads: 2 }); });
  await session.run(feeds); // warm-up
  const runMs = [];
  for (let r = 0; r < repeats; r++) runMs.push(await time(() => session.run(feeds)));
  await session.release();
  rows.push({ level, createMs, runMs: median(runMs) });
}
const model = (await import('../../dist/compiler/export/onnx/proto.js')).onnx.ModelProto.decode(bytes);
console.log(`nodes ${model.graph.node.length}, initializers ${model.graph.initializer.length} (of ${weights.size} state-dict tensors), model ${(bytes.length / 2 ** 20).toFixed(2)} MiB`);
console.log(`exportOnnx: ${median(exportMs).toFixed(1)} ms (median of ${repeats})`);
for (const r of rows) console.log(`ORT (${r.level}): session create ${r.createMs.toFixed(0)} ms, forward ${r.runMs.toFixed(1)} ms (median of ${repeats})`);
