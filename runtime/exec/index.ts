// The plan executor: createExecutor(plan, graph, device) -> Executor (see ./types.ts).
export { createExecutor, PlanExecutor, type ExecutorOptions } from './executor.js';
export { initWeights } from './init.js';
export { packScalars, type Executor, type RunScalars, type Feeds, type CreateExecutor } from './types.js';
