// Run folders for the report tests, made cheaply: runCompiled on a small spec (generated data)
// with a stand-in executor whose loss falls, whose gradient norm is a known function of the step,
// and whose latents are seeded by the volume (so the scores, ROC curves and metrics are real
// computations on made-up model outputs).
import { join } from 'node:path';
import { expect } from 'vitest';
import { compileExperiment } from '../../compiler/build.js';
import { checkFiles } from '../../compiler/check/index.js';
import type { Plan } from '../../compiler/plan/types.js';
import { CpuDevice } from '../../runtime/device/index.js';
import { runCompiled } from '../../runtime/run/index.js';
import { Rng } from '../../runtime/util/rng.js';
import { RecordingExecutor } from '../run/helpers.js';

/** The stand-in's gradient norm at step s (1-based). */
export const gradNormAt = (s: number): number => 2 / s + 0.25;

class WithGradNorm extends RecordingExecutor {
  gradNorm(): number | null { return this.plan.mode === 'train' ? gradNormAt(this.runs.length) : null; }
}

export function standIn() {
  return async (plan: Plan) => {
    const tensors = new Map<string, Float32Array>([['temperature', Float32Array.of(0)]]);
    const saved = plan.model.lora?.modulesToSave ?? [];
    for (const t of plan.model.weights) {
      if (t.lora || (t.role === 'param' && saved.some((m) => t.name.startsWith(`${m}.`)))) tensors.set(t.name, new Rng(1, t.name).fillUniform(new Float32Array(t.shape.reduce((a, b) => a * b, 1)), -1, 1) as Float32Array);
    }
    const tl = plan.outputs['text_latent'];
    const dim = tl === undefined ? 4 : plan.buffers[tl]!.shape[1] ?? 4;
    const texts = plan.batch.texts;
    return new WithGradNorm(plan, (name, run, i) => {
      if (name === 'loss') return Float32Array.of(1 / (i + 1));
      if (name === 'text_latent') return new Rng(2, 'text').fillNormal(new Float32Array(texts * dim)) as Float32Array;
      if (name === 'image_latent') {
        const v = run.feeds.volume as Float32Array;
        // Another draw after the adapter is written, so "after" differs from "before".
        let sum = 0;
        for (let k = 0; k < v.length; k++) sum += v[k]! * ((k % 97) + 1);
        return new Rng(3, sum.toFixed(3), run.written > 0 ? 'adapted' : 'base').fillNormal(new Float32Array(dim)) as Float32Array;
      }
      throw new Error(`output ${name}`);
    }, tensors);
  };
}

/** Runs every experiment of `file` (a sweep: one folder per variant under `out`). */
export async function runFolders(file: string, out: string): Promise<string[]> {
  const { experiments, diagnostics } = checkFiles(file);
  expect(diagnostics.filter((d) => d.severity === 'error')).toEqual([]);
  const dirs: string[] = [];
  for (const e of experiments) {
    const dir = experiments.length > 1 ? join(out, e.name) : out;
    await runCompiled(compileExperiment(e), { outDir: dir, baseDir: join(file, '..'), source: file, progress: 'quiet', device: new CpuDevice(), createExecutor: standIn() as never, baseline: true });
    dirs.push(dir);
  }
  return dirs;
}
