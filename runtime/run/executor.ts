// The slice of the plan executor (runtime/exec/types.ts) that training and evaluation drive, so the
// loops depend only on what they call and tests can drive them with a small stand-in.
import type { Plan } from '../../compiler/plan/types.js';
import type { KernelLibrary } from '../../compiler/codegen/library.js';
import type { Device } from '../device/types.js';
import type { Executor, Feeds, RunScalars } from '../exec/types.js';

export type { Feeds, RunScalars };

/** What the loops use of an Executor (runtime/exec/types.ts): everything but the device. */
export type RunExecutor = Omit<Executor, 'device'>;

export type CreateExecutor = (plan: Plan, device: Device, opts: { kernels: KernelLibrary }) => Promise<RunExecutor>;
