// ONNX export of a medctc graph: an independent oracle (onnxruntime) for the whole forward.
// - Params and buffers read by the exported ops become initializers named by their state-dict
//   keys; tensors no exported op reads (decoder heads, `_extra` latents, null_kv) are left out.
// - Graph inputs keep their names and dtypes: f32 -> FLOAT, i32 -> INT32 (token ids feed
//   Gather directly, which accepts int32 indices; no Cast needed).
// - LoRA adapters stay UNMERGED, exactly as the graph ops express them (x·Aᵀ·Bᵀ·scaling added to
//   the base output), so the oracle checks the runtime's merged eval path independently.
// - Dropout is eval behaviour (Identity); rel_pos_grid is a Constant computed at export time.
import type { Graph, Op, OpKind, Tensor } from '../../graph/types.js';
import { Emitter } from './emitter.js';
import { OnnxExportError, TRANSLATIONS } from './ops.js';
import { DT, floatTensor, onnx, valueInfo, type O } from './proto.js';

export { OnnxExportError } from './ops.js';

export interface OnnxExportOptions {
  /** Graph outputs to export (default: all of them). Only the ops they need are translated. */
  outputs?: string[];
  /** ONNX opset of the default domain, 14..21 (default 17: LayerNormalization is native). */
  opset?: number;
}

export const DEFAULT_OPSET = 17;
const MIN_OPSET = 14, MAX_OPSET = 21;
const PRODUCER = 'medctc';
const PROTOBUF_LIMIT = 2 ** 31 - 1 - 64 * 2 ** 20; // leave room for the nodes

/** Lowest IR version each opset is declared in (onnx/helper.py's VERSION_TABLE). */
function irVersionFor(opset: number): number {
  if (opset <= 18) return 8;
  if (opset <= 20) return 9;
  return 10;
}

const elemType = (t: Tensor) => (t.dtype === 'i32' ? DT.INT32 : DT.FLOAT);

/** Ops needed for the selected outputs, in graph order. */
function neededOps(graph: Graph, outputs: number[]): Op[] {
  const producer = new Map<number, Op>();
  for (const op of graph.ops) for (const o of op.outputs) producer.set(o, op);
  const needed = new Set<number>();
  const stack = [...outputs];
  while (stack.length) {
    const t = stack.pop()!;
    const op = producer.get(t);
    if (!op || needed.has(op.id)) continue;
    needed.add(op.id);
    stack.push(...op.inputs);
  }
  return graph.ops.filter((op) => needed.has(op.id));
}

/** Exports the forward of `graph` (the selected outputs) as a serialized ONNX ModelProto. */
export function exportOnnx(graph: Graph, weights: ReadonlyMap<string, Float32Array>, opts: OnnxExportOptions = {}): Uint8Array {
  const opset = opts.opset ?? DEFAULT_OPSET;
  if (!Number.isInteger(opset) || opset < MIN_OPSET || opset > MAX_OPSET) {
    throw new OnnxExportError(`ONNX opset ${opset} is not supported (use ${MIN_OPSET}..${MAX_OPSET})`);
  }
  const byName = new Map(graph.outputs.map((o) => [o.name, o.tensor]));
  const outNames = opts.outputs ?? graph.outputs.map((o) => o.name);
  for (const n of outNames) {
    if (!byName.has(n)) throw new OnnxExportError(`graph has no output \`${n}\` (outputs: ${graph.outputs.map((o) => o.name).join(', ')})`);
  }
  const ops = neededOps(graph, outNames.map((n) => byName.get(n)!));

  // ONNX names: state-dict keys / feed names as they are; activations by their graph name, made
  // unique with the tensor id when two share one; the first graph output naming a tensor wins.
  const names = new Map<number, string>();
  const taken = new Set<string>();
  for (const t of graph.tensors) if (t.role !== 'activation') { names.set(t.id, t.name); taken.add(t.name); }
  for (const n of outNames) {
    if (taken.has(n)) throw new OnnxExportError(`graph output \`${n}\` has the name of an input or weight`);
    taken.add(n);
    const t = byName.get(n)!;
    if (graph.tensors[t]!.role === 'activation' && !names.has(t)) names.set(t, n);
  }
  for (const op of ops) for (const o of op.outputs) {
    if (names.has(o)) continue;
    const base = graph.tensors[o]!.name;
    const name = taken.has(base) ? `${base}#${o}` : base;
    names.set(o, name);
    taken.add(name);
  }

  const em = new Emitter(opset);
  const read = new Set<number>();
  for (const op of ops) {
    const tr = TRANSLATIONS[op.kind] as ((c: unknown, a: unknown, op: Op) => void) | undefined;
    if (!tr) throw new OnnxExportError(`op \`${op.kind}\` (op ${op.id}, module \`${op.module || '<root>'}\`) has no ONNX translation`);
    for (const i of op.inputs) read.add(i);
    em.enter(`op${op.id}.${op.kind}`);
    tr({ em, graph, ins: op.inputs.map((i) => names.get(i)!), out: names.get(op.outputs[0]!)! }, op.attrs, op);
  }
  // A graph output that is not a fresh activation (an input, a weight, or a second name for the
  // same tensor) is copied by an Identity so it can carry the output's name.
  for (const n of outNames) {
    const t = byName.get(n)!;
    if (names.get(t) !== n) {
      read.add(t);
      em.enter(`output.${n}`);
      em.node('Identity', [names.get(t)!], [n]);
    }
  }

  const initializer: O.ITensorProto[] = [];
  const inputs: O.IValueInfoProto[] = [];
  for (const t of graph.tensors) {
    if (!read.has(t.id)) continue;
    if (t.role === 'param' || t.role === 'buffer') {
      const w = weights.get(t.name);
      const numel = t.shape.reduce((a, b) => a * b, 1);
      if (!w) throw new OnnxExportError(`no weights for \`${t.name}\``);
      if (w.length !== numel) throw new OnnxExportError(`weights for \`${t.name}\` hold ${w.length} values; its shape [${t.shape.join(', ')}] needs ${numel}`);
      initializer.push(floatTensor(t.name, t.shape, w));
    }
  }
  const bytes = initializer.reduce((a, t) => a + t.rawData!.length, 0);
  if (bytes > PROTOBUF_LIMIT) {
    throw new OnnxExportError(`the weights take ${(bytes / 2 ** 30).toFixed(2)} GiB, over protobuf's 2 GiB message limit (ONNX external data is not supported)`);
  }
  // Inputs in the graph's order; those the selected outputs do not read are left out.
  for (const id of graph.inputs) {
    const t = graph.tensors[id]!;
    if (read.has(id)) inputs.push(valueInfo(t.name, elemType(t), t.shape));
  }
  const outputs = outNames.map((n) => {
    const t = graph.tensors[byName.get(n)!]!;
    return valueInfo(n, elemType(t), t.shape);
  });

  const model: O.IModelProto = {
    irVersion: irVersionFor(opset),
    opsetImport: [{ domain: '', version: opset }],
    producerName: PRODUCER,
    graph: { name: graph.architecture, node: em.nodes, initializer, input: inputs, output: outputs },
  };
  const err = onnx.ModelProto.verify(model);
  if (err) throw new Error(`internal: ONNX model does not verify: ${err}`);
  return onnx.ModelProto.encode(model).finish();
}

/** Op kinds the exporter translates. */
export const ONNX_OP_KINDS: readonly OpKind[] = Object.keys(TRANSLATIONS) as OpKind[];
