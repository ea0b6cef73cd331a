// Seeded weights for export tests, drawn per spec/compiler.md "Initialisers": one stream per
// tensor, Rng(seed, 'init', name), row-major. runtime/exec/init.ts (initWeights) is the runtime's
// implementation; this stays test-local so the exporter tests do not depend on the executor.
import type { Graph } from '../../compiler/graph/types.js';
import { Rng } from '../../runtime/util/rng.js';

export function seededWeights(graph: Graph, seed: number): Map<string, Float32Array> {
  const out = new Map<string, Float32Array>();
  for (const t of graph.tensors) {
    if ((t.role !== 'param' && t.role !== 'buffer') || !t.init) continue;
    const v = new Float32Array(t.shape.reduce((a, b) => a * b, 1));
    const rng = new Rng(seed, 'init', t.name);
    const init = t.init;
    switch (init.kind) {
      case 'zeros': break;
      case 'ones': v.fill(1); break;
      case 'const': v.fill(init.value); break;
      case 'uniform': rng.fillUniform(v, -init.bound, init.bound); break;
      case 'normal': rng.fillNormal(v, 0, init.std); break;
    }
    out.set(t.name, v);
  }
  return out;
}
