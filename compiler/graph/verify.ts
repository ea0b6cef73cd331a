// Structural checks on a Graph (tinygrad's type_verify in spirit): run after every pass in tests.
// Returns the list of problems; an empty list means the graph is well formed.
import { GraphError, inferOutput } from './shapes.js';
import type { Graph } from './types.js';

export function verify(g: Graph): string[] {
  const errs: string[] = [];
  const producer = new Map<number, number>();
  g.tensors.forEach((t, i) => { if (t.id !== i) errs.push(`tensor ${t.name}: id ${t.id} at index ${i}`); });
  const names = new Set<string>();
  for (const t of g.tensors) {
    if (t.role === 'param' || t.role === 'buffer' || t.role === 'input') {
      if (names.has(t.name)) errs.push(`duplicate ${t.role} name ${t.name}`);
      names.add(t.name);
      if (t.role !== 'input' && !t.init) errs.push(`${t.role} ${t.name} has no init`);
    }
    if (t.shape.some((d) => !Number.isInteger(d) || d < 0)) errs.push(`tensor ${t.name}: bad shape [${t.shape}]`);
  }
  const ready = new Set<number>(g.tensors.filter((t) => t.role !== 'activation').map((t) => t.id));
  for (const op of g.ops) {
    for (const i of op.inputs) {
      if (!g.tensors[i]) errs.push(`op ${op.id} (${op.kind}): input ${i} does not exist`);
      else if (!ready.has(i)) errs.push(`op ${op.id} (${op.kind}): reads ${g.tensors[i]!.name} before it is produced`);
    }
    for (const o of op.outputs) {
      const t = g.tensors[o];
      if (!t) { errs.push(`op ${op.id}: output ${o} does not exist`); continue; }
      if (t.role !== 'activation') errs.push(`op ${op.id} (${op.kind}) writes ${t.role} ${t.name}`);
      if (producer.has(o)) errs.push(`tensor ${t.name} produced twice (ops ${producer.get(o)} and ${op.id})`);
      producer.set(o, op.id);
      ready.add(o);
    }
    if (op.outputs.length !== 1) { errs.push(`op ${op.id} (${op.kind}) must have one output`); continue; }
    try {
      const ins = op.inputs.map((i) => g.tensors[i]).filter((t) => t !== undefined);
      const want = inferOutput(op.kind, ins, op.attrs as never);
      const got = g.tensors[op.outputs[0]!]!;
      if (want.shape.join(',') !== got.shape.join(',') || want.dtype !== got.dtype) {
        errs.push(`op ${op.id} (${op.kind}): output ${got.name} is [${got.shape}] ${got.dtype}, expected [${want.shape}] ${want.dtype}`);
      }
    } catch (e) {
      if (e instanceof GraphError) errs.push(`op ${op.id} (${op.kind}) in ${op.module || '<root>'}: ${e.message}`);
      else throw e;
    }
  }
  for (const t of g.tensors) if (t.role === 'activation' && !producer.has(t.id)) errs.push(`activation ${t.name} is never produced`);
  for (const o of g.outputs) if (!g.tensors[o.tensor]) errs.push(`output ${o.name} refers to a missing tensor`);
  const modulePaths = new Set(g.modules.map((m) => m.path));
  for (const op of g.ops) if (!modulePaths.has(op.module)) errs.push(`op ${op.id} (${op.kind}) names unknown module ${op.module}`);
  return errs;
}
