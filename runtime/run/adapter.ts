// Adapters <-> the executor's weights: a PEFT adapter's matrices by graph tensor name, checked
// against the LoRA modules the experiment's graph has (same modules, ranks, shapes and alpha, since
// the eval plan merges with the scaling the spec gives).
import { DiagnosticError, fileDiagnostic } from '../../base/diagnostics/types.js';
import type { PlanModel } from '../../compiler/plan/types.js';
import type { Adapter } from '../adapter/types.js';

/** Graph tensor name -> values, for every LoRA matrix and modules_to_save parameter of `a`. */
export function adapterTensors(a: Adapter): Map<string, Float32Array> {
  const out = new Map<string, Float32Array>();
  for (const m of a.modules) { out.set(`${m.path}.lora_A.weight`, m.A); out.set(`${m.path}.lora_B.weight`, m.B); }
  for (const s of a.saved) for (const [p, t] of Object.entries(s.params)) out.set(`${s.path}.${p}`, t.data);
  return out;
}

/** `adapterTensors(a)` after checking that `a` fits the plan's model exactly; E5565 naming `source` otherwise. */
export function adapterTensorsFor(model: PlanModel, a: Adapter, source: string): Map<string, Float32Array> {
  const problems: string[] = [];
  const have = new Map(a.modules.map((m) => [m.path, m]));
  const want = model.lora?.adapters ?? [];
  for (const g of want) {
    const m = have.get(g.module);
    if (!m) { problems.push(`no weights for ${g.module}`); continue; }
    have.delete(g.module);
    if (m.rank !== g.rank || m.inFeatures !== g.inFeatures || m.outFeatures !== g.outFeatures) {
      problems.push(`${g.module} is rank ${m.rank} [${m.outFeatures}x${m.inFeatures}], the experiment has rank ${g.rank} [${g.outFeatures}x${g.inFeatures}]`);
    } else if (m.alpha !== g.alpha) {
      problems.push(`${g.module} has alpha ${m.alpha}, the experiment ${g.alpha}`);
    }
  }
  for (const path of have.keys()) problems.push(`${path} is not adapted by the experiment`);
  const saved = new Set(model.lora?.modulesToSave ?? []);
  for (const s of a.saved) {
    if (!saved.has(s.path)) { problems.push(`${s.path} (modules_to_save) is not trained by the experiment`); continue; }
    for (const [p, t] of Object.entries(s.params)) {
      const tensor = model.weights.find((x) => x.name === `${s.path}.${p}`);
      if (!tensor || tensor.shape.join(',') !== t.shape.join(',')) problems.push(`${s.path}.${p} [${t.shape.join(', ')}] does not match the model`);
    }
  }
  if (problems.length) {
    const more = problems.length > 4 ? `; and ${problems.length - 4} more` : '';
    throw new DiagnosticError(fileDiagnostic('E5565', `the adapter does not fit the experiment: ${problems.slice(0, 4).join('; ')}${more}`, source,
      { help: 'evaluate with the spec the adapter was trained from (same LoRA targets, rank and alpha)' }));
  }
  return adapterTensors(a);
}
