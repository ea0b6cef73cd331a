// Runtime building-block timings. Build first, then run from the repository root:
//   npx tsc -p tsconfig.json && node bench/runtime/runtime.bench.mjs [safetensorsMB=400]
// Prints one JSON line per measurement.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SafetensorsFile, writeSafetensors, readSafetensors } from '../../dist/runtime/io/safetensors.js';
import { evaluateScores } from '../../dist/runtime/eval/index.js';
import { adamwStep, newAdamWState, clipGradNorm } from '../../dist/runtime/train/optimizer-ref.js';
import { Rng } from '../../dist/runtime/util/rng.js';

const mb = Number(process.argv[2] ?? 400);
const work = mkdtempSync(join(tmpdir(), 'medctc-bench-rt-'));
const report = (o) => process.stdout.write(JSON.stringify(o) + '\n');
const time = (fn) => { const t0 = performance.now(); const r = fn(); return [r, (performance.now() - t0) / 1000]; };
const bufMb = () => Math.round(process.memoryUsage().arrayBuffers / 2 ** 20);

try {
  // 1. safetensors: `mb` MB in 4 MB float32 tensors; lazy open + one tensor vs reading everything.
  const path = join(work, 'w.safetensors');
  {
    const tensors = new Map();
    const per = 1 << 20; // 4 MB of float32
    for (let i = 0; i < mb / 4; i++) tensors.set(`layer.${i}.weight`, { dtype: 'F32', shape: [1024, 1024], data: new Float32Array(per).fill(i) });
    const [, writeS] = time(() => writeSafetensors(path, tensors, { format: 'pt' }));
    report({ bench: 'safetensors_write_atomic', mb, seconds: +writeS.toFixed(2), mbPerS: Math.round(mb / writeS) });
  }
  globalThis.gc?.();
  const buf0 = bufMb();
  const [f, openS] = time(() => SafetensorsFile.open(path));
  const [, oneS] = time(() => f.readF32('layer.7.weight'));
  report({ bench: 'safetensors_lazy_open_plus_one_tensor', tensors: f.names().length, openMs: +(openS * 1000).toFixed(2), readOneMs: +(oneS * 1000).toFixed(2), arrayBufferGrowthMb: bufMb() - buf0 });
  f.close();
  const [, allS] = time(() => readSafetensors(path));
  report({ bench: 'safetensors_read_all', mb, seconds: +allS.toFixed(2), mbPerS: Math.round(mb / allS) });

  // 2. Evaluation at CT-RATE validation size: 1,564 volumes x 18 labels, 1,000 bootstrap resamples.
  const rng = new Rng(1);
  const N = 1564, L = 18;
  const truth = Array.from({ length: N }, () => Array.from({ length: L }, () => (rng.uniform() < 0.2 ? 1 : 0)));
  const scores = truth.map((row) => row.map((t) => Math.min(1, Math.max(0, 0.4 + 0.2 * t + 0.2 * rng.normal()))));
  const labels = Array.from({ length: L }, (_, i) => `label ${i}`);
  const [, evalS] = time(() => evaluateScores({ labels, scores, truth }, { threshold: { kind: 'roc_corner' }, bootstrap: null }));
  report({ bench: 'evaluate_1564x18', ms: +(evalS * 1000).toFixed(1) });
  const [, bootS] = time(() => evaluateScores({ labels, scores, truth }, { threshold: { kind: 'roc_corner' }, bootstrap: { samples: 1000, confidence: 0.95, seed: 1 } }));
  report({ bench: 'evaluate_1564x18_bootstrap_1000', seconds: +bootS.toFixed(2) });

  // 3. Reference AdamW + clipping over 10M parameters (the size of a rank-8 LoRA on CT-CLIP is ~1-3M).
  const n = 10_000_000;
  const p = new Float32Array(n).fill(0.1), g = new Float32Array(n).fill(0.01), s = newAdamWState(n);
  const [, clipS] = time(() => clipGradNorm([g], 1));
  const [, stepS] = time(() => adamwStep(p, g, s, { lr: 1e-4, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.1 }));
  report({ bench: 'adamw_ref_10M', clipMs: Math.round(clipS * 1000), stepMs: Math.round(stepS * 1000), nsPerParam: +((stepS * 1e9) / n).toFixed(1) });
} finally {
  rmSync(work, { recursive: true, force: true });
}
