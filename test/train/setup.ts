// The ct_clip_tiny train step the gradient tests run: the quickstart experiment with LoRA dropout 0
// (so finite differences see the same function the backward differentiates), a 2-volume batch (by default) and
// 3 pathologies (6 prompts; null keeps all), plus seeded feeds.
import { checkFiles } from '../../compiler/check/index.js';
import { compileExperiment } from '../../compiler/build.js';
import type { Graph } from '../../compiler/graph/types.js';
import type { Plan } from '../../compiler/plan/types.js';
import { Rng } from '../../runtime/util/rng.js';
import { initTensors } from './harness.js';

export function tinyTrain(opts: { dropout?: number; gradClip?: number | null; batch?: number; pathologies?: number | null; trainBase?: boolean; loss?: 'pair_mse' | 'pair_ce' | 'clip' } = {}): { plan: Plan; graph: Graph } {
  const exp = checkFiles('test/run/fixtures/small.medct').experiments[0]!;
  exp.lora = { ...exp.lora!, dropout: opts.dropout ?? 0 };
  exp.train = { ...exp.train!, loss: opts.loss ?? exp.train!.loss, trainBase: opts.trainBase ?? false, batchSize: opts.batch ?? 2, gradClip: opts.gradClip === undefined ? exp.train!.gradClip : opts.gradClip };
  if (opts.pathologies !== null) exp.prompts = { ...exp.prompts, pathologies: exp.prompts.pathologies.slice(0, opts.pathologies ?? 3) };
  const c = compileExperiment(exp);
  return { plan: c.plans.train!, graph: c.graphs.train! };
}

export function feeds(plan: Plan, seed: number): Record<string, Float32Array | Int32Array> {
  const rng = new Rng(seed, 'feeds');
  const out: Record<string, Float32Array | Int32Array> = {};
  const shape = (name: string) => plan.buffers[plan.inputs[name]!]!.shape;
  const n = (name: string) => shape(name).reduce((a, b) => a * b, 1);
  out.volume = rng.fillNormal(new Float32Array(n('volume'))) as Float32Array;
  const [texts, len] = shape('input_ids') as [number, number];
  const ids = new Int32Array(texts * len), mask = new Float32Array(texts * len);
  for (let t = 0; t < texts; t++) {
    const used = 6 + rng.int(len - 6);
    for (let j = 0; j < len; j++) { ids[t * len + j] = j < used ? 1 + rng.int(500) : 0; mask[t * len + j] = j < used ? 1 : 0; }
  }
  out.input_ids = ids; out.attention_mask = mask;
  if (plan.inputs.targets !== undefined) out.targets = Float32Array.from({ length: n('targets') }, () => (rng.uniform() < 0.5 ? 1 : 0));
  return out;
}

/** Seeded weights with every lora_B non-zero (PEFT inits B to 0, which would make A's gradient 0). */
export function weights(graph: Graph, seed: number): Map<string, Float32Array> {
  const w = initTensors(graph, seed);
  for (const [name, v] of w) if (name.endsWith('lora_B.weight')) new Rng(seed, 'test-lora-b', name).fillNormal(v, 0, 0.05);
  return w;
}
