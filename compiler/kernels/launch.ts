// Lowers one plan kernel to the device KernelSteps that compute it: which KernelSpecs run, in
// which order, over which plan buffers. Forward/prepare kinds are lowered here; the train plan's
// backward and optimizer kinds in ./launch-backward.ts.
//
// A forward plan kernel's inputs and outputs are listed in kernelBindings order of its spec
// (compiler/plan/lower.ts): reads bind the inputs in order, writes bind the outputs in order, and
// writes the plan does not keep (vq idx, a loss's dLogits in eval, an eval attention's lse) go to
// scratch. The step arg `params` is reserved for the executor's runtime-scalars buffer.
import type { Plan, PlanKernel } from '../plan/types.js';
import type { KernelSpec } from './spec.js';
import type { KernelStep } from './lora.js';
import { kernelBindings } from './bindings.js';
import { fromPlanSpec } from './from-plan.js';
import { lowerBackwardKernel } from './launch-backward.js';

export type { KernelStep } from './lora.js';

export interface LoweredKernel {
  steps: KernelStep[];
  /** Step arg name -> plan buffer id. */
  buffers: Record<string, number>;
  /** Arg names the executor allocates (contents undefined on entry). */
  scratch: Record<string, { elements: number; dtype: 'f32' | 'i32' | 'u32' }>;
}
export type Lowering = LoweredKernel | { unsupported: string };

const numel = (s: number[]): number => s.reduce((a, b) => a * b, 1);

export function lowerKernel(plan: Plan, k: PlanKernel): Lowering {
  if (k.phase === 'backward' || k.phase === 'optimizer') return lowerBackwardKernel(plan, k);
  try {
    return lowerForward(plan, k);
  } catch (e) {
    return { unsupported: `${k.kind}#${k.id} (${k.module}): ${(e as Error).message}` };
  }
}

function lowerForward(plan: Plan, k: PlanKernel): Lowering {
  const f = fromPlanSpec(k.spec);
  if ('unsupported' in f) return f;
  if (f.specs.length !== 1) return { unsupported: `${k.kind}: ${f.specs.length} specs` };
  return bindInOrder(plan, k, f.specs[0]!);
}

/** One step whose reads take k.inputs and writes take k.outputs in order (extra writes -> scratch). */
export function bindInOrder(plan: Plan, k: PlanKernel, spec: KernelSpec): LoweredKernel {
  const ins = [...k.inputs], outs = [...k.outputs];
  const out: LoweredKernel = { steps: [], buffers: {}, scratch: {} };
  const args = kernelBindings(spec).map((b) => {
    if (b.name === 'params') return 'params';
    const id = b.access === 'read' ? ins.shift() : outs.shift();
    if (id === undefined) {
      if (b.access === 'read') throw new Error(`no plan input for ${b.name}`);
      const name = `k${k.id}.${b.name}`;
      out.scratch[name] = { elements: Math.max(1, b.size), dtype: b.dtype };
      return name;
    }
    const buf = plan.buffers[id]!;
    if (numel(buf.shape) !== b.size) throw new Error(`${buf.name} [${buf.shape.join(', ')}] bound to ${b.name} of ${b.size} elements`);
    out.buffers[`b${id}`] = id;
    return `b${id}`;
  });
  if (ins.length || outs.length) throw new Error(`${ins.length} inputs / ${outs.length} outputs left over`);
  out.steps.push({ spec, args });
  return out;
}
