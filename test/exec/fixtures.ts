// Shared inputs for the executor tests: quickstart's tiny CT-CLIP, seeded weights with non-zero
// LoRA B (so the eval plan's merge changes the result), and seeded feeds in the plan's layout.
import { afterAll, beforeAll } from 'vitest';
import type { Graph } from '../../compiler/graph/types.js';
import type { Plan } from '../../compiler/plan/types.js';
import type { Device } from '../../runtime/device/types.js';
import { openWebGpu } from '../../runtime/device/webgpu/device.js';
import { initWeights } from '../../runtime/exec/init.js';
import { createExecutor, type ExecutorOptions, type PlanExecutor } from '../../runtime/exec/index.js';
import { emittedLibrary } from '../../compiler/codegen/library.js';

/** An executor over sources generated in memory for the device's language (what a build folder holds). */
export function execFor(plan: Plan, device: Device, opts: Omit<ExecutorOptions, 'kernels'> = {}): Promise<PlanExecutor> {
  return createExecutor(plan, device, { kernels: emittedLibrary(device.target), ...opts });
}
import { Rng } from '../../runtime/util/rng.js';

export function weightsWithLora(graph: Graph, seed: number, loraBStd = 0.05): Map<string, Float32Array> {
  const w = initWeights(graph.tensors, seed);
  for (const [name, v] of w) if (name.endsWith('lora_B.weight')) new Rng(seed, 'test-lora-b', name).fillNormal(v, 0, loraBStd);
  return w;
}

/** volume ~ N(0,1); input_ids in [0, vocab) with the tail of each row padded (mask 0); targets 0/1. */
export function feedsFor(plan: Plan, graph: Graph, seed: number): Record<string, Float32Array | Int32Array> {
  const vocab = graph.tensors.find((t) => t.name.endsWith('word_embeddings.weight'))!.shape[0]!;
  const rng = new Rng(seed, 'feeds');
  const out: Record<string, Float32Array | Int32Array> = {};
  for (const [name, id] of Object.entries(plan.inputs)) {
    const b = plan.buffers[id]!;
    const n = b.shape.reduce((a, c) => a * c, 1);
    if (name === 'input_ids') out[name] = Int32Array.from({ length: n }, () => rng.int(vocab));
    else if (name === 'attention_mask') {
      const [rows, len] = b.shape as [number, number];
      const m = new Float32Array(n);
      for (let r = 0; r < rows; r++) { const real = 3 + rng.int(len - 3); for (let j = 0; j < real; j++) m[r * len + j] = 1; }
      out[name] = m;
    } else if (name === 'targets') out[name] = Float32Array.from({ length: n }, () => rng.int(2));
    else out[name] = rng.fillNormal(new Float32Array(n), 0, 1) as Float32Array;
  }
  return out;
}

export const maxAbsDiff = (a: Float32Array, b: Float32Array): number => {
  if (a.length !== b.length) throw new Error(`length ${a.length} vs ${b.length}`);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
};

/** The test file's WebGPU device, opened before its tests and destroyed after them. WebGPU must be
 *  available (CI runs it on llvmpipe): a missing adapter fails the file instead of skipping it. */
export function useWebGpu(): () => Device {
  let gpu: Device | undefined;
  beforeAll(async () => {
    const d = await openWebGpu();
    if ('reason' in d) throw new Error(`WebGPU is required for these tests: ${d.reason}`);
    gpu = d;
  }, 60_000);
  afterAll(() => gpu?.destroy());
  return () => { if (!gpu) throw new Error('WebGPU device used outside the tests'); return gpu; };
}
