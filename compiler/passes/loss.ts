// Training objective: appends the loss op to the forward graph (a pure function). The logits
// [B, T] have texts ordered (p0 present, p0 absent, p1 present, ...) for the pair losses and
// one report per volume (T = B) for the CLIP loss.
import type { Graph, Op, Tensor } from '../graph/types.js';
import type { TrainSpec } from '../ir/experiment.js';

export function attachLoss(graph: Graph, loss: TrainSpec['loss']): Graph {
  const logits = graph.outputs.find((o) => o.name === 'logits');
  if (!logits) throw new Error('attachLoss: graph has no logits output');
  const [b, t] = graph.tensors[logits.tensor]!.shape as [number, number];
  const tensors: Tensor[] = [...graph.tensors];
  const inputs = [...graph.inputs];
  const opIns = [logits.tensor];
  if (loss !== 'clip') {
    const id = tensors.length;
    tensors.push({ id, name: 'targets', shape: [b, t / 2], dtype: 'f32', role: 'input' });
    inputs.push(id);
    opIns.push(id);
  }
  const out = tensors.length;
  tensors.push({ id: out, name: ':loss', shape: [], dtype: 'f32', role: 'activation' });
  const kind = loss === 'clip' ? 'clip_loss' : loss === 'pair_ce' ? 'pair_ce_loss' : 'pair_mse_loss';
  const op = { id: graph.ops.length, kind, inputs: opIns, outputs: [out], attrs: {}, module: '' } as Op;
  return { ...graph, tensors, inputs, ops: [...graph.ops, op], outputs: [{ name: 'loss', tensor: out }] };
}
