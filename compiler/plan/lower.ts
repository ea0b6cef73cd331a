// Lowering a (LoRA-injected) graph to an execution plan for one mode:
//  eval:  forward only; adapters merged into their base weight once (prepare kernels).
//  train: forward (with the loss), backward to the trainable params only, optimizer step.
// Backward kernels keep alive exactly the forward buffers their rule needs (SAVES below);
// every other work buffer is released after its last reader and its bytes reused.
import { differentiableInputs, needsGradient } from '../passes/autodiff.js';
import { fuse, type KernelGroup } from '../passes/fuse.js';
import type { Graph } from '../graph/types.js';
import type { TrainSpec } from '../ir/experiment.js';
import { kernelName } from '../kernels/spec.js';
import { lowerKernel } from '../kernels/launch.js';
import { alignUp, liveLowerBound, placeBuffers } from './memory.js';
import { groupSpec } from './specs.js';
import { assignStorage, type Precision } from './storage.js';
import { PLAN_VERSION, type Arena, type BufferKind, type KernelPhase, type Plan, type PlanBuffer, type PlanKernel, type PlanModel, type PlanSpec } from './types.js';

export const ALIGNMENT = 256;
const DTYPE_BYTES = 4; // every buffer is lowered f32/i32/u32; the storage pass narrows some to 16 bits

export interface LowerOptions {
  mode: 'eval' | 'train';
  experiment: string;
  /** Train mode: optimizer and clipping settings. */
  train?: TrainSpec | null;
  /** Storage of frozen weights and activations (compiler/plan/storage.ts); default fp32. */
  precision?: Precision;
}

/** What a backward kernel reads from the forward pass, by kernel kind: 'x' = the activation
 *  inputs, 'out' = the outputs, plus kind-specific extras the forward writes in train mode. */
const SAVES: Record<string, { inputs: 'activations' | 'none' | 'if_param_grad'; output: boolean; extra?: (g: Graph, grp: KernelGroup) => { label: string; shape: number[] } | null }> = {
  linear: { inputs: 'if_param_grad', output: false },
  lora_linear: { inputs: 'activations', output: false, extra: (g, grp) => {
    const base = g.ops[grp.ops[0]!]!;
    const ad = g.lora!.adapters.find((a) => a.module === base.module)!;
    return { label: 'lora_s', shape: [...g.tensors[base.outputs[0]!]!.shape.slice(0, -1), ad.rank] };
  } },
  gemm: { inputs: 'activations', output: false },
  attention: { inputs: 'activations', output: true, extra: (g, grp) => {
    const att = grp.ops.map((i) => g.ops[i]!).find((o) => o.kind === 'attention')!;
    const [b, n, h] = g.tensors[att.inputs[0]!]!.shape as [number, number, number];
    return { label: 'attn_lse', shape: [b, h, n] };
  } },
  // Backward recomputes the row statistics from x (LayerNormBackwardSpec saves nothing else).
  layer_norm: { inputs: 'activations', output: false },
  l2norm: { inputs: 'activations', output: false },
  l2norm_scale: { inputs: 'activations', output: false },
  geglu: { inputs: 'activations', output: false },
  elementwise: { inputs: 'activations', output: false },
  dwconv3d: { inputs: 'if_param_grad', output: false },
  embedding: { inputs: 'if_param_grad', output: false },
  copy: { inputs: 'none', output: false },
  mean_pool: { inputs: 'none', output: false },
  vq_nearest: { inputs: 'none', output: false },
  rel_pos_grid: { inputs: 'none', output: false },
  pair_mse_loss: { inputs: 'activations', output: false },
  pair_ce_loss: { inputs: 'activations', output: false },
  clip_loss: { inputs: 'activations', output: false },
};

/** Elementwise chains of adds only: the backward copies dy to each input and reads no activation
 *  (saving the operands would only keep the PEG residual inputs alive through the backward). */
const linearGradOnly = (g: KernelGroup): boolean => g.kind === 'elementwise' && g.epilogue.length > 0 && g.epilogue.every((o) => o === 'add');

export function lowerPlan(graph: Graph, opts: LowerOptions): Plan {
  const train = opts.mode === 'train';
  const needs = train ? needsGradient(graph) : new Set<number>();
  const { groups, views } = fuse(graph, needs);
  const root = (t: number): number => views.get(t) ?? t;
  const buffers: PlanBuffer[] = [];
  const bufByKey = new Map<string, number>();
  const kernels: PlanKernel[] = [];

  const newBuffer = (key: string, name: string, shape: number[], dtype: PlanBuffer['dtype'], kind: BufferKind, arena: Arena, tensor: number | null): number => {
    const have = bufByKey.get(key);
    if (have !== undefined) return have;
    const id = buffers.length;
    buffers.push({ id, name, shape, dtype, bytes: Math.max(1, shape.reduce((a, b) => a * b, 1)) * DTYPE_BYTES, kind, arena, offset: 0, tensor, live: null });
    bufByKey.set(key, id);
    return id;
  };
  const tensorBuffer = (t: number): number => {
    const r = root(t);
    const tt = graph.tensors[r]!;
    const kind: BufferKind = tt.role === 'param' || tt.role === 'buffer' ? 'weight' : tt.role === 'input' ? 'input' : 'activation';
    return newBuffer(`t${r}`, tt.name, tt.shape, tt.dtype, kind, kind === 'weight' ? 'weights' : 'work', r);
  };
  const emit = (kind: string, phase: KernelPhase, ops: number[], module: string, inputs: number[], outputs: number[], spec: PlanSpec, flops: number, backward: PlanKernel['backward'] = null): PlanKernel => {
    const k: PlanKernel = { id: kernels.length, kind, phase, ops, module, inputs, outputs, spec, steps: [], backward, flops, invariant: false };
    kernels.push(k);
    return k;
  };

  // Which ops read each buffer root (looking through views), to find each group's outputs.
  const outputRoots = new Set(graph.outputs.map((o) => root(o.tensor)));
  const readersOf = new Map<number, Set<number>>();
  for (const op of graph.ops) {
    if (op.kind === 'reshape') continue;
    for (const i of op.inputs) (readersOf.get(root(i)) ?? readersOf.set(root(i), new Set()).get(root(i))!).add(op.id);
  }
  const groupIO = groups.map((g) => {
    const inside = new Set(g.ops);
    const produced = new Set(g.ops.filter((o) => graph.ops[o]!.kind !== 'reshape').map((o) => root(graph.ops[o]!.outputs[0]!)));
    const ins: number[] = [], outs: number[] = [];
    // Real ops before views, so inputs come in the main op's order (attention: q, k, v, bias, mask).
    const ordered = [...g.ops.filter((o) => graph.ops[o]!.kind !== 'reshape'), ...g.ops.filter((o) => graph.ops[o]!.kind === 'reshape')];
    for (const o of ordered) {
      const op = graph.ops[o]!;
      op.inputs.forEach((i) => { if (!produced.has(root(i)) && !ins.includes(root(i))) ins.push(root(i)); });
      const r = root(op.outputs[0]!);
      if (op.kind !== 'reshape' && !outs.includes(r) && (outputRoots.has(r) || [...(readersOf.get(r) ?? [])].some((x) => !inside.has(x)))) outs.push(r);
    }
    return { ins, outs };
  });
  const isTrainableParam = (t: number) => graph.tensors[t]!.role === 'param' && graph.tensors[t]!.trainable === true;
  const diffInsOf = (gi: number): number[] => {
    const g = groups[gi]!;
    const ok = new Set<number>();
    for (const o of g.ops) { const op = graph.ops[o]!; differentiableInputs(op).forEach((i) => ok.add(root(op.inputs[i]!))); }
    return groupIO[gi]!.ins.filter((t) => ok.has(t) && needs.has(t));
  };

  /** Linear kernels take [x, W, A, B, bias, residual] (compiler/kernels/bindings.ts order). */
  const bindingOrder = (g: KernelGroup, ins: number[]): number[] => {
    if (g.kind !== 'linear' && g.kind !== 'lora_linear') return ins;
    const base = graph.ops[g.ops[0]!]!;
    const ad = graph.lora?.adapters.find((a) => a.module === base.module);
    const lead = [base.inputs[0]!, base.inputs[1]!, ...(g.kind === 'lora_linear' && ad ? [ad.a, ad.b] : []), ...base.inputs.slice(2)].map(root);
    return [...lead, ...ins.filter((t) => !lead.includes(t))];
  };

  // Eval: merge each adapter into its base weight once.
  const merged = new Map<string, number>();
  if (!train && graph.lora) {
    for (const ad of graph.lora.adapters) {
      const w = graph.tensors.find((t) => t.name === `${ad.module}.weight`)!;
      const out = newBuffer(`merged:${ad.module}`, `${ad.module}.weight+lora`, w.shape, 'f32', 'merged_weight', 'weights', null);
      emit('lora_merge', 'prepare', [], ad.module, [tensorBuffer(w.id), tensorBuffer(ad.a), tensorBuffer(ad.b)], [out],
        { kind: 'lora_merge', k: ad.inFeatures, n: ad.outFeatures, r: ad.rank, scaling: ad.scaling }, 2 * ad.inFeatures * ad.outFeatures * ad.rank);
      merged.set(ad.module, out);
    }
  }

  // Forward.
  const forwardKernel = new Map<number, PlanKernel>();
  const extraSaved = new Map<number, number>();
  groups.forEach((g, gi) => {
    const { ins, outs } = groupIO[gi]!;
    const module = graph.ops[g.ops[0]!]!.module;
    const { spec, flops } = groupSpec(graph, g, !train && g.kind === 'lora_linear');
    let inBufs = bindingOrder(g, ins).map(tensorBuffer);
    const kind = spec.kind;
    if (!train && g.kind === 'lora_linear') {
      // Merged: the kernel reads W + s·BA instead of W, A and B.
      const base = graph.ops[g.ops[0]!]!;
      const drop = new Set([base.inputs[1]!, graph.lora!.adapters.find((a) => a.module === base.module)!.a, graph.lora!.adapters.find((a) => a.module === base.module)!.b].map(tensorBuffer));
      inBufs = inBufs.filter((b) => !drop.has(b));
      inBufs.splice(1, 0, merged.get(base.module)!);
    }
    const outBufs = outs.map(tensorBuffer);
    const rule = SAVES[g.kind];
    if (train && diffInsOf(gi).length > 0 && rule?.extra) {
      const ex = rule.extra(graph, g);
      if (ex) {
        const b = newBuffer(`extra:${gi}`, `${module}:${ex.label}`, ex.shape, 'f32', 'saved', 'work', null);
        outBufs.push(b);
        extraSaved.set(gi, b);
      }
    }
    forwardKernel.set(gi, emit(kind, 'forward', [...g.ops], module, inBufs, outBufs, spec, flops));
  });

  // Backward and optimizer.
  const paramGrads: number[] = [], trainables: number[] = [];
  if (train) {
    const gradOf = new Map<number, number>();
    for (let gi = groups.length - 1; gi >= 0; gi--) {
      const g = groups[gi]!;
      const diffIns = diffInsOf(gi);
      if (diffIns.length === 0) continue;
      const { ins, outs } = groupIO[gi]!;
      const isLoss = g.kind.endsWith('_loss');
      const gradIns = outs.filter((o) => gradOf.has(o)).map((o) => gradOf.get(o)!);
      if (!isLoss && gradIns.length === 0) continue;
      const rule = linearGradOnly(g) ? { inputs: 'none' as const, output: false } : SAVES[g.kind] ?? { inputs: 'activations', output: false };
      const paramGrad = diffIns.some(isTrainableParam);
      const saved: number[] = [];
      const keep = (t: number) => { const b = tensorBuffer(t); if (buffers[b]!.kind === 'activation' || buffers[b]!.kind === 'input') { if (buffers[b]!.kind === 'activation') buffers[b]!.kind = 'saved'; } saved.push(b); };
      const acts = ins.filter((t) => graph.tensors[t]!.role === 'activation' || graph.tensors[t]!.role === 'input');
      if (rule.inputs === 'activations' || (rule.inputs === 'if_param_grad' && paramGrad)) acts.forEach(keep);
      if (rule.output) outs.forEach(keep);
      // Weights the backward multiplies by (dX = dY·W) are read, not saved: they are resident.
      const weights = ins.filter((t) => graph.tensors[t]!.role === 'param' || graph.tensors[t]!.role === 'buffer').map(tensorBuffer);
      const extra = extraSaved.get(gi);
      const outputs: number[] = [];
      const accumulate: number[] = [];
      const dInputOf = new Map<number, number>();
      for (const t of diffIns) {
        const tt = graph.tensors[t]!;
        if (isTrainableParam(t)) {
          const b = newBuffer(`pgrad:${t}`, `grad:${tt.name}`, tt.shape, 'f32', 'param_grad', 'state', null);
          // A param read by several kernels (a shared weight) sums their contributions.
          if (!paramGrads.includes(b)) { paramGrads.push(b); trainables.push(t); } else accumulate.push(b);
          outputs.push(b);
          dInputOf.set(tensorBuffer(t), b);
        } else {
          if (gradOf.has(t)) accumulate.push(gradOf.get(t)!);
          else gradOf.set(t, newBuffer(`grad:${t}`, `grad:${tt.name}`, tt.shape, 'f32', 'gradient', 'work', null));
          outputs.push(gradOf.get(t)!);
          dInputOf.set(tensorBuffer(t), gradOf.get(t)!);
        }
      }
      const fwd = forwardKernel.get(gi)!;
      // Roles by the forward kernel's positions (the lowering never guesses them from names).
      const dOutputs = fwd.outputs.map((b) => { const t = buffers[b]!.tensor; return t !== null && outs.includes(t) && gradOf.has(t) ? gradOf.get(t)! : null; });
      const dInputs = fwd.inputs.map((b) => dInputOf.get(b) ?? null);
      const needDX = diffIns.some((t) => !isTrainableParam(t));
      const flops = (needDX ? fwd.flops : 0) + (paramGrad ? fwd.flops : 0);
      emit(`${fwd.kind}_backward`, 'backward', [...g.ops], fwd.module,
        [...gradIns, ...saved, ...weights, ...(extra !== undefined ? [extra] : [])], outputs,
        fwd.spec, flops, { forward: fwd.id, inputGrads: needDX, paramGrads: paramGrad, accumulate, dOutputs, dInputs });
    }
    const elements = trainables.reduce((a, t) => a + graph.tensors[t]!.shape.reduce((x, y) => x * y, 1), 0);
    if (opts.train?.gradClip != null && paramGrads.length) {
      emit('grad_clip', 'optimizer', [], '', paramGrads, paramGrads, { kind: 'grad_clip', maxNorm: opts.train.gradClip, tensors: paramGrads.length, elements }, 3 * elements);
    }
    if (paramGrads.length) {
      const moments = trainables.flatMap((t) => {
        const tt = graph.tensors[t]!;
        return [newBuffer(`m:${t}`, `adam_m:${tt.name}`, tt.shape, 'f32', 'optimizer', 'state', null), newBuffer(`v:${t}`, `adam_v:${tt.name}`, tt.shape, 'f32', 'optimizer', 'state', null)];
      });
      const params = trainables.map(tensorBuffer);
      const o = opts.train?.optimizer;
      // One multi-tensor step: inputs are params, grads, then (m, v) per param, in that order.
      // `lr` is the configured base rate; kernels read each step's scheduled rate from the runtime params.
      emit('adamw', 'optimizer', [], '', [...params, ...paramGrads, ...moments], [...params, ...moments], {
        kind: 'adamw', numel: elements, lr: o?.lr ?? 0, beta1: o?.beta1 ?? 0.9, beta2: o?.beta2 ?? 0.999, eps: o?.eps ?? 1e-8, weightDecay: o?.weightDecay ?? 0,
      }, 12 * elements);
    }
  }

  const hoisted = train ? new Set<number>() : markInvariant(graph, kernels, tensorBuffer);

  // Lower each kernel to its device steps once, here: scratch and the runtime-scalars buffer
  // become plan buffers, so the memory plan covers everything a device allocates.
  const paramsBuf = newBuffer('params', 'params', [4], 'u32', 'params', 'state', null);
  lowerSteps(buffers, kernels, paramsBuf, (key, name, elements, dtype) => newBuffer(key, name, [elements], dtype, 'scratch', 'work', null));
  const io = new Set([...graph.inputs.map(tensorBuffer), ...graph.outputs.map((o) => tensorBuffer(o.tensor))]);
  assignStorage(buffers, kernels, opts.precision ?? 'fp32', (b) => {
    const t = b.tensor === null ? null : graph.tensors[b.tensor]!;
    return t !== null && t.trainable !== true && t.lora !== true && t.shape.length >= 2;
  }, io);

  // Lifetimes of work buffers, then placement.
  const end = kernels.length;
  for (const k of kernels) {
    for (const b of [...k.inputs, ...k.outputs, ...k.steps.flatMap((st) => st.args)]) {
      const buf = buffers[b]!;
      if (buf.arena !== 'work') continue;
      const start = buf.kind === 'input' ? -1 : k.id;
      buf.live = buf.live ? [Math.min(buf.live[0], start), Math.max(buf.live[1], k.id)] : [start, k.id];
    }
  }
  const inputs: Record<string, number> = {}, outputs: Record<string, number> = {};
  for (const i of graph.inputs) inputs[graph.tensors[i]!.name] = tensorBuffer(i);
  for (const o of graph.outputs) {
    const b = tensorBuffer(o.tensor);
    outputs[o.name] = b;
    const buf = buffers[b]!;
    buf.live = [buf.live?.[0] ?? -1, end]; // read by the caller after the last kernel
  }
  // Invariant results the per-volume kernels read survive between runs: no other buffer may take
  // their bytes at any kernel, before their writer included (a run that skips the writer still runs those).
  for (const b of hoisted) if (buffers[b]!.arena === 'work') buffers[b]!.live = [-1, end];
  for (const b of buffers) if (b.arena === 'work' && !b.live) b.live = [-1, -1];
  const work = buffers.filter((b) => b.arena === 'work');
  const placed = placeBuffers(work.map((b) => ({ bytes: b.bytes, live: b.live! })), ALIGNMENT);
  work.forEach((b, i) => { b.offset = placed.offsets[i]!; });
  const arenaSize: Record<Arena, number> = { weights: 0, state: 0, work: placed.peak };
  for (const b of buffers) {
    if (b.arena === 'work') continue;
    b.offset = arenaSize[b.arena];
    arenaSize[b.arena] += alignUp(b.bytes, ALIGNMENT);
  }
  const [volume] = graph.inputs.map((i) => graph.tensors[i]!).filter((t) => t.name === 'volume');
  const [ids] = graph.inputs.map((i) => graph.tensors[i]!).filter((t) => t.name === 'input_ids');
  return {
    planVersion: PLAN_VERSION, mode: opts.mode, experiment: opts.experiment, architecture: graph.architecture,
    batch: { images: volume?.shape[0] ?? 0, texts: ids?.shape[0] ?? 0 },
    inputs, outputs, buffers, kernels, model: planModel(graph, (t) => bufByKey.get(`t${root(t)}`) ?? null),
    memory: {
      alignment: ALIGNMENT, weightsBytes: arenaSize.weights, stateBytes: arenaSize.state, workPeakBytes: placed.peak,
      workNaiveBytes: work.reduce((a, b) => a + alignUp(b.bytes, ALIGNMENT), 0),
      workLowerBoundBytes: liveLowerBound(work.map((b) => ({ bytes: b.bytes, live: b.live! })), ALIGNMENT),
    },
  };
}

/** Sets every kernel's steps (compiler/kernels/launch.ts); a kernel no device can run is a compiler bug. */
function lowerSteps(buffers: PlanBuffer[], kernels: PlanKernel[], paramsBuf: number,
  scratch: (key: string, name: string, elements: number, dtype: PlanBuffer['dtype']) => number): void {
  const draft = { buffers, kernels } as Pick<Plan, 'buffers' | 'kernels'>;
  const problems: string[] = [];
  for (const k of kernels) {
    const l = lowerKernel(draft, k);
    if ('unsupported' in l) { problems.push(`kernel ${k.id} ${k.kind} (${k.module || k.phase}): ${l.unsupported}`); continue; }
    const ids = new Map<string, number>(Object.entries(l.buffers));
    ids.set('params', paramsBuf);
    for (const [name, s] of Object.entries(l.scratch)) ids.set(name, scratch(`scratch:${name}`, name, s.elements, s.dtype));
    k.steps = l.steps.map((st) => ({ kernel: kernelName(st.spec), spec: st.spec, args: st.args.map((a) => {
      const id = ids.get(a);
      if (id === undefined) throw new Error(`internal: kernel ${k.id} ${k.kind}: step arg ${a} is neither a plan buffer nor scratch`);
      return id;
    }) }));
  }
  if (problems.length) throw new Error(`internal: ${problems.length} plan kernel(s) have no device lowering:\n  ${problems.slice(0, 8).join('\n  ')}`);
}

/** Every weight of the model (the plan may read fewer) and its adapters, so the runtime can load,
 *  check and write state dicts without the graph. */
function planModel(graph: Graph, bufferOf: (t: number) => number | null): PlanModel {
  const weights = graph.tensors.filter((t) => t.role === 'param' || t.role === 'buffer').map((t) => ({
    name: t.name, shape: [...t.shape], dtype: t.dtype, role: t.role as 'param' | 'buffer', trainable: t.trainable === true, lora: t.lora === true,
    init: t.init ?? null, buffer: bufferOf(t.id),
  }));
  const lora = graph.lora && {
    dropout: graph.lora.dropout, modulesToSave: [...graph.lora.modulesToSave],
    adapters: graph.lora.adapters.map((a) => ({ module: a.module, rank: a.rank, alpha: a.alpha, scaling: a.scaling, inFeatures: a.inFeatures, outFeatures: a.outFeatures,
      a: graph.tensors[a.a]!.name, b: graph.tensors[a.b]!.name, target: a.target })),
  };
  return { weights, lora };
}

/** The feed that changes between runs of an eval plan; everything not derived from it is invariant. */
export const PER_VOLUME_FEED = 'volume';

/**
 * Marks eval forward kernels that never read (transitively) the volume feed as invariant, and
 * returns the work buffers they write that a per-volume kernel or the caller reads: those must
 * keep their contents from one run to the next.
 */
function markInvariant(graph: Graph, kernels: PlanKernel[], tensorBuffer: (t: number) => number): Set<number> {
  const varying = new Set<number>();
  for (const i of graph.inputs) if (graph.tensors[i]!.name === PER_VOLUME_FEED) varying.add(tensorBuffer(i));
  const fwd = kernels.filter((k) => k.phase === 'forward');
  for (const k of fwd) {
    if (k.inputs.some((b) => varying.has(b))) k.outputs.forEach((b) => varying.add(b));
    else k.invariant = true;
  }
  const written = new Set(fwd.filter((k) => k.invariant).flatMap((k) => k.outputs));
  const hoisted = new Set<number>();
  for (const k of fwd) if (!k.invariant) for (const b of k.inputs) if (written.has(b)) hoisted.add(b);
  for (const o of graph.outputs) { const b = tensorBuffer(o.tensor); if (written.has(b)) hoisted.add(b); }
  return hoisted;
}
