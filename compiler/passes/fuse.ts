// Fusion: partitions the graph's ops into kernels (a pure function of the graph). The rules, in
// the order they apply (spec/compiler.md "Fusion rules"); every resulting kernel has a KernelSpec
// of compiler/kernels/spec.ts:
//  1. reshape is a view: no kernel, its output aliases its input's buffer.
//  2. an adapted linear and its low-rank path (dropout, x·Aᵀ, ·Bᵀ, scale, add) -> lora_linear.
//  3. attention is one kernel (online softmax; scores never materialised); reshapes are views.
//  4. l2norm followed by a multiply with a param (q_scale / k_scale) -> l2norm_scale.
//  5. linear / lora_linear epilogues: an activation (gelu, only where no gradient flows through it,
//     because its backward needs the pre-activation) then a residual add, when the op is the sole
//     reader of the kernel's output and the residual exists before the kernel starts.
//  6. chains of elementwise ops with single readers form one elementwise kernel.
import type { Graph, Op } from '../graph/types.js';

export interface KernelGroup {
  kind: string;
  /** Graph op ids, in execution order. */
  ops: number[];
  /** Elementwise ops absorbed as epilogue, in order. */
  epilogue: string[];
}

export interface Fusion {
  groups: KernelGroup[];
  /** tensor id -> the tensor whose buffer it shares (reshape views), transitively resolved. */
  views: Map<number, number>;
}

const ELEMENTWISE = new Set(['add', 'mul', 'scale', 'exp', 'gelu', 'leaky_relu', 'dropout']);
const NEEDS_PREACTIVATION = new Set(['gelu', 'leaky_relu', 'exp', 'mul']);

const SINGLE: Record<string, string> = {
  linear: 'linear', matmul: 'gemm', layer_norm: 'layer_norm', l2norm: 'l2norm', geglu: 'geglu',
  attention: 'attention', permute: 'copy', slice: 'copy', mean: 'mean_pool', dwconv3d: 'dwconv3d',
  embedding: 'embedding', rel_pos_grid: 'rel_pos_grid', vq_nearest: 'vq_nearest',
  pair_mse_loss: 'pair_mse_loss', pair_ce_loss: 'pair_ce_loss', clip_loss: 'clip_loss',
};

export function fuse(graph: Graph, needsGrad: ReadonlySet<number> = new Set()): Fusion {
  const views = new Map<number, number>();
  const producer = new Map<number, Op>();
  const consumers = new Map<number, Op[]>();
  for (const op of graph.ops) {
    producer.set(op.outputs[0]!, op);
    for (const i of op.inputs) (consumers.get(i) ?? consumers.set(i, []).get(i)!).push(op);
    if (op.kind === 'reshape') views.set(op.outputs[0]!, views.get(op.inputs[0]!) ?? op.inputs[0]!);
  }
  const graphOutputs = new Set(graph.outputs.map((o) => o.tensor));
  /** Real (non-view) readers of a tensor, looking through reshapes. */
  const readers = (t: number): Op[] => (consumers.get(t) ?? []).flatMap((c) => (c.kind === 'reshape' ? readers(c.outputs[0]!) : [c]));
  const escapes = (t: number): boolean => graphOutputs.has(t) || (consumers.get(t) ?? []).some((c) => c.kind === 'reshape' && escapes(c.outputs[0]!));
  const owner = new Map<number, KernelGroup>();
  const groups: KernelGroup[] = [];
  const claim = (g: KernelGroup, ops: Op[]) => { for (const o of ops) { owner.set(o.id, g); } };

  // Rule 2: LoRA paths.
  const loraByModule = new Map((graph.lora?.adapters ?? []).map((a) => [a.module, a]));
  const loraGroups = new Map<number, KernelGroup>();
  for (const op of graph.ops) {
    const ad = op.kind === 'linear' ? loraByModule.get(op.module) : undefined;
    if (!ad) continue;
    const chain: Op[] = [op];
    const add = readers(op.outputs[0]!).find((c) => c.kind === 'add' && c.module === op.module);
    const scale = add && producer.get(add.inputs[1]!);
    const linB = scale && producer.get(scale.inputs[0]!);
    const linA = linB && producer.get(linB.inputs[0]!);
    if (!add || !scale || !linB || !linA || linA.inputs[1] !== ad.a || linB.inputs[1] !== ad.b) continue;
    const drop = producer.get(linA.inputs[0]!);
    if (drop?.kind === 'dropout') chain.push(drop);
    chain.push(linA, linB, scale, add);
    const g: KernelGroup = { kind: 'lora_linear', ops: chain.map((o) => o.id).sort((a, b) => a - b), epilogue: [] };
    claim(g, chain);
    loraGroups.set(add.id, g);
  }
  // Rule 3: attention with its q/k/v preparation.
  const attnGroups = new Map<number, KernelGroup>();
  for (const op of graph.ops) {
    if (op.kind !== 'attention') continue;
    const chain: Op[] = [op];
    const walk = (t: number): void => {
      const p = producer.get(t);
      if (!p || owner.has(p.id) || chain.includes(p)) return;
      const ok = p.kind === 'reshape';
      if (!ok || escapes(t) || readers(t).some((r) => !chain.includes(r) && r !== op && !isPrep(r))) return;
      chain.push(p);
      walk(p.inputs[0]!);
    };
    const isPrep = (r: Op): boolean => r.kind === 'slice' || r.kind === 'reshape';
    for (const i of [0, 1, 2]) walk(op.inputs[i]!);
    const g: KernelGroup = { kind: 'attention', ops: chain.map((o) => o.id).sort((a, b) => a - b), epilogue: [] };
    claim(g, chain);
    attnGroups.set(op.id, g);
  }
  // Remaining ops, in order; rules 4 and 5 while walking.
  for (const op of graph.ops) {
    if (op.kind === 'reshape') continue;
    const pre = loraGroups.get(op.id) ?? attnGroups.get(op.id);
    if (pre) { groups.push(pre); continue; }
    if (owner.has(op.id)) continue;
    const tail = groups.at(-1);
    if (tail && canAbsorb(tail, op)) {
      tail.ops.push(op.id);
      tail.epilogue.push(op.kind === 'scale' ? 'scale' : op.kind);
      owner.set(op.id, tail);
      continue;
    }
    if (op.kind === 'mul' && tail?.kind === 'l2norm' && graph.tensors[op.inputs[1]!]!.role === 'param' && soleReader(tail, op)) {
      tail.kind = 'l2norm_scale';
      tail.ops.push(op.id);
      owner.set(op.id, tail);
      continue;
    }
    const kind = ELEMENTWISE.has(op.kind) ? 'elementwise' : SINGLE[op.kind];
    if (!kind) throw new Error(`fuse: no kernel for op kind ${op.kind}`);
    const g: KernelGroup = { kind, ops: [op.id], epilogue: kind === 'elementwise' ? [op.kind] : [] };
    owner.set(op.id, g);
    groups.push(g);
  }
  return { groups, views };

  function lastOut(g: KernelGroup): number {
    return graph.ops[g.ops.at(-1)!]!.outputs[0]!;
  }
  function soleReader(g: KernelGroup, op: Op): boolean {
    const t = lastOut(g);
    const rs = readers(t);
    return rs.length === 1 && rs[0] === op && !escapes(t) && op.inputs[0] === t;
  }
  function canAbsorb(g: KernelGroup, op: Op): boolean {
    if (!ELEMENTWISE.has(op.kind) || op.kind === 'dropout' || !soleReader(g, op)) return false;
    if (g.kind === 'linear' || g.kind === 'lora_linear') {
      // The GEMM epilogue is (activation)? then (residual)?, as LinearSpec / LoraLinearSpec say.
      const fits = (op.kind === 'gelu' && g.epilogue.length === 0) || (op.kind === 'add' && !g.epilogue.includes('add'));
      if (!fits) return false;
    } else if (g.kind !== 'elementwise') {
      return false;
    }
    if (NEEDS_PREACTIVATION.has(op.kind) && needsGrad.has(op.outputs[0]!)) return false;
    // The other operand must exist before the kernel starts.
    const first = g.ops[0]!;
    return op.inputs.slice(1).every((i) => { const p = producer.get(i); return !p || p.id < first; });
  }
}
