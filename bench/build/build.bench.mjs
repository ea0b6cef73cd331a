// Build-time benchmark: the full-size ct_clip MedCT-VLM experiment (rank 24 on text q/k/v and
// image to_q/to_kv, pair_mse training, batch 1, 36 prompts) through compileExperiment and the
// CLI (from a resolved-experiment JSON and from examples/medct-vlm.medct), plus the memory plan
// (planned peak vs naive sum vs live lower bound) and FLOPs of both plans, for two configurations:
// this file's batch-1 experiment ("bench config") and examples/medct-vlm.medct itself (batch 4).
// Run from the repository root after `npx tsc -p tsconfig.json`:
//   node bench/build/build.bench.mjs [repeats]
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { compileExperiment, artifactFiles } from '../../dist/compiler/build.js';
import { planKernelSpecs } from '../../dist/compiler/codegen/library.js';
import { load } from '../../dist/cli/commands/build.js';
import { PRESETS } from '../../dist/compiler/models/presets.js';
import { CT_RATE_PATHOLOGIES } from '../../dist/compiler/ir/experiment.js';

const repeats = Number(process.argv[2] ?? 5);
const p = PRESETS.ct_clip;
const exp = {
  irVersion: 1, name: 'medct-vlm', variant: null, seed: 7, backend: 'auto',
  model: { architecture: 'ct_clip', weights: null, image: p.image, text: p.text, latentDim: p.latentDim },
  lora: {
    targets: [
      { encoder: 'text', match: 'glob', pattern: 'encoder.layer.*.attention.self.{query,key,value}', rank: 24, alpha: 24 },
      { encoder: 'image', match: 'glob', pattern: 'visual_transformer.enc_*_transformer.layers.*.1.{to_q,to_kv}', rank: 24, alpha: 24 },
    ],
    dropout: 0.05, rslora: false, init: 'kaiming', layers: { text: null, image: null }, modulesToSave: [],
  },
  data: { source: { kind: 'ct_rate', root: 'data/ct-rate' }, trainSplit: 'train', evalSplit: 'valid', limit: null, preprocess: p.preprocess, cacheDir: 'cache' },
  prompts: { positive: '{pathology} is present.', negative: '{pathology} is not present.', pathologies: [...CT_RATE_PATHOLOGIES] },
  train: { loss: 'pair_mse', optimizer: { kind: 'adamw', lr: 1e-4, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.01 }, schedule: { kind: 'cosine', warmupSteps: 10, warmupEpochs: 0 }, epochs: 10, batchSize: 1, gradClip: 1, precision: 'fp32', trainBase: false },
  evaluate: { metrics: ['auroc', 'accuracy', 'macro_f1'], threshold: { kind: 'roc_corner' }, bootstrap: null, baseline: true },
  outputs: { dir: 'runs/medct-vlm', adapter: true, scores: true },
  sources: ['exp.json'], provenance: {},
};

const gib = (n) => `${(n / 2 ** 30).toFixed(2)} GiB`;
const times = [];
let c;
for (let i = 0; i < repeats; i++) {
  const t0 = performance.now();
  c = compileExperiment(exp);
  artifactFiles(c); // serialisation is part of the build
  times.push(performance.now() - t0);
}
times.sort((a, b) => a - b);
console.log(`compileExperiment + serialise (in process): median ${times[times.length >> 1].toFixed(0)} ms, min ${times[0].toFixed(0)} ms over ${repeats}`);

const dir = mkdtempSync(join(tmpdir(), 'medctc-bench-'));
writeFileSync(join(dir, 'exp.json'), JSON.stringify(exp));
const cli = [];
for (let i = 0; i < repeats; i++) {
  const t0 = performance.now();
  const r = spawnSync(process.execPath, [resolve('dist/cli/medctc.js'), 'build', join(dir, 'exp.json'), '--out', join(dir, 'out'), '--json'], { encoding: 'utf8' });
  cli.push(performance.now() - t0);
  if (r.status !== 0) throw new Error(r.stderr || r.stdout);
}
cli.sort((a, b) => a - b);
// The same through the checker, from the example spec (parse + check + compile + write).
const medct = [];
for (let i = 0; i < repeats; i++) {
  const t0 = performance.now();
  const r = spawnSync(process.execPath, [resolve('dist/cli/medctc.js'), 'build', 'examples/medct-vlm.medct', '--out', join(dir, 'ex'), '--json'], { encoding: 'utf8' });
  medct.push(performance.now() - t0);
  if (r.status !== 0) throw new Error(r.stderr || r.stdout);
}
medct.sort((a, b) => a - b);
rmSync(dir, { recursive: true, force: true });
console.log(`medctc build (whole process, node start included): median ${cli[cli.length >> 1].toFixed(0)} ms, min ${cli[0].toFixed(0)} ms`);
console.log(`medctc build examples/medct-vlm.medct (whole process): median ${medct[medct.length >> 1].toFixed(0)} ms, min ${medct[0].toFixed(0)} ms`);
const checked = load('examples/medct-vlm.medct');
const example = compileExperiment(checked.experiments[0], checked.sources);
for (const [label, compiled] of [['bench config (batch 1)', c], [`examples/medct-vlm.medct (batch ${example.plans.train.batch.images})`, example]]) {
  console.log(`-- ${label}`);
  for (const plan of [compiled.plans.eval, compiled.plans.train]) {
    const m = plan.memory;
    console.log(`${plan.mode}: ${plan.kernels.length} kernels, ${plan.buffers.length} buffers, batch ${plan.batch.images} volumes + ${plan.batch.texts} texts; work arena peak ${gib(m.workPeakBytes)}, naive ${gib(m.workNaiveBytes)} (${(m.workNaiveBytes / m.workPeakBytes).toFixed(1)}x), live lower bound ${gib(m.workLowerBoundBytes)}; weights ${gib(m.weightsBytes)}, state ${(m.stateBytes / 2 ** 20).toFixed(2)} MiB`);
  }
  const r = compiled.report;
  console.log(`parameters: ${r.parameters.trainable} trainable of ${r.parameters.total}; FLOPs: eval forward per volume ${(r.flops.evalPerSample / 1e12).toFixed(2)} T + once per evaluation ${(r.flops.evalInvariant / 1e12).toFixed(2)} T (loop-invariant), train step per volume ${(r.flops.trainPerSample / 1e12).toFixed(2)} T (text tower amortised over the batch); device kernels in kernels/: ${planKernelSpecs([compiled.plans.eval, compiled.plans.train]).length}`);
}
