// Seeded weight init (spec/compiler.md "Initialisers"): one independent stream per tensor,
// Rng(seed, 'init', name), filled row-major, so adding a tensor never shifts another's values.
import type { Init } from '../../compiler/graph/types.js';
import { Rng } from '../util/rng.js';

/** What initialisation needs of a weight: the plan's PlanWeight and the graph's Tensor both fit. */
export interface InitTensor { name: string; shape: readonly number[]; init?: Init | null; role: string }

export function initWeights(tensors: readonly InitTensor[], seed: number): Map<string, Float32Array> {
  const out = new Map<string, Float32Array>();
  for (const t of tensors) {
    if ((t.role !== 'param' && t.role !== 'buffer') || !t.init) continue;
    const v = new Float32Array(t.shape.reduce((a, b) => a * b, 1));
    const init = t.init;
    switch (init.kind) {
      case 'zeros': break;
      case 'ones': v.fill(1); break;
      case 'const': v.fill(init.value); break;
      case 'uniform': new Rng(seed, 'init', t.name).fillUniform(v, -init.bound, init.bound); break;
      case 'normal': new Rng(seed, 'init', t.name).fillNormal(v, 0, init.std); break;
    }
    out.set(t.name, v);
  }
  return out;
}
