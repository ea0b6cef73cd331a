// The slice of the plan executor (runtime/exec, see its types.ts) that training and evaluation
// drive. Kept as a structural interface so the loops here depend only on what they call, and
// tests can drive them with a small stand-in.
import type { Graph } from '../../compiler/graph/types.js';
import type { Plan } from '../../compiler/plan/types.js';
import type { Device } from '../device/types.js';

export interface RunScalars { dropoutSeed: number; adamStep: number; lr: number }

export type Feeds = Record<string, Float32Array | Int32Array>;

export interface RunExecutor {
  readonly plan: Plan;
  loadWeights(opts: { seed: number; tensors?: ReadonlyMap<string, Float32Array> }): Promise<void>;
  prepare(): Promise<void>;
  run(feeds: Feeds, scalars?: Partial<RunScalars>): Promise<void>;
  output(name: string): Promise<Float32Array>;
  readTensor(name: string): Promise<Float32Array>;
  writeTensor(name: string, data: Float32Array): Promise<void>;
  destroy(): void;
}

export type CreateExecutor = (plan: Plan, graph: Graph, device: Device) => Promise<RunExecutor>;

/** runtime/exec's createExecutor, imported when first needed (the executor pulls in every backend's kernels). */
export async function loadCreateExecutor(): Promise<CreateExecutor> {
  const spec = '../exec/index.js';
  let mod: { createExecutor?: CreateExecutor };
  try {
    mod = (await import(spec)) as typeof mod;
  } catch (e) {
    if (String((e as Error).message).includes('exec/index')) throw new Error('internal: the plan executor (runtime/exec) is not part of this build');
    throw e;
  }
  if (!mod.createExecutor) throw new Error('internal: runtime/exec does not export createExecutor');
  return mod.createExecutor;
}
