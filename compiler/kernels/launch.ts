// Lowers one plan kernel to the device KernelSteps that compute it: which KernelSpecs run, in
// which order, over which plan buffers. Forward/prepare kinds are lowered here; the train plan's
// backward and optimizer kinds in ./launch-backward.ts.
//
// A forward plan kernel's inputs and outputs are listed in kernelBindings order of its spec
// (compiler/plan/lower.ts): reads bind the inputs in order, writes bind the outputs in order, and
// writes the plan does not keep (vq idx, a loss's dLogits in eval, an eval attention's lse) go to
// scratch. The step arg `params` is reserved for the executor's runtime-scalars buffer.
import type { ElementwiseChainSpec, Plan, PlanKernel } from '../plan/types.js';
import type { ElementwiseSpec, KernelSpec } from './spec.js';
import type { KernelStep } from './lora.js';
import { kernelBindings } from './bindings.js';
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

/** The part of a plan lowering reads: its buffers and kernels (lowering runs while the plan is built). */
export type PlanDraft = Pick<Plan, 'buffers' | 'kernels'>;

export function lowerKernel(plan: PlanDraft, k: PlanKernel): Lowering {
  if (k.phase === 'backward' || k.phase === 'optimizer') return lowerBackwardKernel(plan, k);
  try {
    return lowerForward(plan, k);
  } catch (e) {
    return { unsupported: `${k.kind}#${k.id} (${k.module}): ${(e as Error).message}` };
  }
}

const shapeOf = (plan: PlanDraft, id: number): number[] => plan.buffers[id]!.shape;

/** Forward and prepare kinds. Plan specs of the kinds the backends run directly are already the
 *  KernelSpec (compiler/plan/specs.ts); the glue kinds map to their own KernelSpecs. */
function lowerForward(plan: PlanDraft, k: PlanKernel): Lowering {
  const s = k.spec;
  switch (s.kind) {
    case 'lora_linear': case 'linear': case 'attention': case 'layer_norm': case 'l2norm_scale': case 'geglu':
    case 'mean_pool': case 'embedding': case 'dwconv3d': case 'vq_nearest': case 'add': case 'gelu':
    case 'pair_mse_loss': case 'pair_ce_loss': case 'clip_loss': case 'gemm': case 'l2norm': case 'rel_pos_grid':
      return bindInOrder(plan, k, s);
    case 'lora_merge': {
      // W' = W + scaling·B·A: one GEMM of B [n,r] by A [r,k] with W as the residual.
      const [w, a, b] = k.inputs as [number, number, number];
      const spec: KernelSpec = { kind: 'gemm', m: s.n, k: s.r, n: s.k, transA: false, transB: false, alpha: s.scaling, bias: false, activation: 'none', residual: true, maskB: 0 };
      return bindInOrder(plan, { ...k, inputs: [b, a, w] }, spec);
    }
    case 'copy': {
      const inShape = s.inShape;
      switch (s.op) {
        case 'permute': return bindInOrder(plan, k, { kind: 'permute', inShape, perm: s.perm });
        case 'slice': return bindInOrder(plan, k, {
          kind: 'slice', outer: numel(inShape.slice(0, s.axis)), len: inShape[s.axis]!, inner: numel(inShape.slice(s.axis + 1)), start: s.start, end: s.end,
        });
      }
      break;
    }
    case 'elementwise': return lowerElementwise(plan, k, s);
  }
  return { unsupported: `no forward kernel for plan kind ${k.kind}` };
}

const BINARY = new Set(['add', 'mul']);
const UNARY = new Set(['scale', 'exp', 'leaky_relu', 'gelu']);

/** A one-op elementwise kernel; binary operands may broadcast along leading axes only. */
function lowerElementwise(plan: PlanDraft, k: PlanKernel, s: ElementwiseChainSpec): Lowering {
  const ops = s.ops;
  if (ops.length !== 1) return { unsupported: `elementwise chain [${ops.join(', ')}] (only single ops have a kernel)` };
  const op = ops[0]!;
  const out = shapeOf(plan, k.outputs[0]!);
  const n = numel(out);
  const base = { kind: 'elementwise' as const, numel: n, slope: s.slope, factor: s.factor };
  if (UNARY.has(op)) {
    if (k.inputs.length !== 1 || numel(shapeOf(plan, k.inputs[0]!)) !== n) return { unsupported: `elementwise ${op} over ${k.inputs.length} inputs` };
    return bindInOrder(plan, k, { ...base, op: op as ElementwiseSpec['op'], aNumel: n, bNumel: 0 });
  }
  if (!BINARY.has(op)) return { unsupported: `elementwise op ${op}` };
  const ins = k.inputs.length === 1 ? [k.inputs[0]!, k.inputs[0]!] : k.inputs;
  if (ins.length !== 2) return { unsupported: `elementwise ${op} over ${k.inputs.length} inputs` };
  for (const id of ins) {
    // Leading-axis broadcast: the operand (leading 1s dropped) is a suffix of the output shape.
    const sh = [...shapeOf(plan, id)];
    while (sh.length && sh[0] === 1) sh.shift();
    const tail = out.slice(out.length - sh.length);
    if (sh.length > out.length || sh.join() !== tail.join()) {
      if (numel(sh) !== n) return { unsupported: `elementwise ${op}: operand [${shapeOf(plan, id).join(', ')}] does not broadcast along leading axes of [${out.join(', ')}]` };
    }
  }
  return bindInOrder(plan, { ...k, inputs: ins }, { ...base, op: op as ElementwiseSpec['op'], aNumel: numel(shapeOf(plan, ins[0]!)), bNumel: numel(shapeOf(plan, ins[1]!)) });
}

/** One step whose reads take k.inputs and writes take k.outputs in order (extra writes -> scratch). */
export function bindInOrder(plan: PlanDraft, k: PlanKernel, spec: KernelSpec): LoweredKernel {
  const ins = [...k.inputs], outs = [...k.outputs];
  const out: LoweredKernel = { steps: [], buffers: {}, scratch: {} };
  const args = kernelBindings(spec).map((b) => {
    if (b.name === 'params') return 'params';
    const id = b.access === 'read' ? ins.shift() : outs.shift();
    if (id === undefined) {
      if (b.access === 'read') throw new Error(`no plan input for ${b.name}`);
      const name = `k${k.id}.${b.name}`;
      // Lowered specs have no 16-bit bindings yet (the storage pass comes after): scratch is f32/i32/u32.
      if (b.dtype === 'bf16' || b.dtype === 'f16') throw new Error(`${b.name}: scratch of a 16-bit binding`);
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
