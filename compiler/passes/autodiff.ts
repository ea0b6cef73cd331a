// Which tensors need a gradient: trainable params, and every activation computed (through a
// differentiable input) from one. Token ids, masks, targets, the VQ codebook and the position
// grid are not differentiable inputs; vq_nearest passes the gradient straight through to x.
import type { Graph, Op } from '../graph/types.js';

/** Input positions of `op` that carry gradient (others are indices, masks, codebooks, targets). */
export function differentiableInputs(op: Op): number[] {
  switch (op.kind) {
    case 'embedding': return [1];
    case 'vq_nearest': return [0];
    case 'attention': return op.attrs.hasBias ? [0, 1, 2, 3] : [0, 1, 2];
    case 'pair_mse_loss': case 'pair_ce_loss': return [0];
    default: return op.inputs.map((_, i) => i);
  }
}

export function needsGradient(graph: Graph): Set<number> {
  const need = new Set<number>(graph.tensors.filter((t) => t.role === 'param' && t.trainable).map((t) => t.id));
  for (const op of graph.ops) {
    if (differentiableInputs(op).some((i) => need.has(op.inputs[i]!))) op.outputs.forEach((o) => need.add(o));
  }
  return need;
}
