// The plan executor: createExecutor(plan, device, { kernels }) -> Executor (see ./types.ts).
export { createExecutor, PlanExecutor, type ExecutorOptions } from './executor.js';
export { ArenaAllocation, segments, type ArenaMemory, type MemoryReport } from './arena.js';
export { buildLibrary, readLocked, type LockedFiles } from './library.js';
export { compileSteps, dispatchSteps } from './steps.js';
export { initWeights, type InitTensor } from './init.js';
export { packScalars, type Executor, type RunScalars, type Feeds } from './types.js';
