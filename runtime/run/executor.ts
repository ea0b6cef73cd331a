// The slice of the plan executor (runtime/exec/types.ts) that training and evaluation drive, so the
// loops depend only on what they call and tests can drive them with a small stand-in.
import type { Graph } from '../../compiler/graph/types.js';
import type { Plan } from '../../compiler/plan/types.js';
import type { Device } from '../device/types.js';
import type { Executor, Feeds, RunScalars } from '../exec/types.js';

export type { Feeds, RunScalars };

/** What the loops use of an Executor (runtime/exec/types.ts): everything but the device. */
export type RunExecutor = Omit<Executor, 'device'>;

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
