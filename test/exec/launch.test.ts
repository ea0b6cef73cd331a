// Every forward/prepare kernel of the example plans lowers to device steps whose buffers match the
// KernelSpecs' bindings in size (bindInOrder checks each binding against the plan buffer's shape).
import { describe, expect, it } from 'vitest';
import { lowerKernel } from '../../compiler/kernels/launch.js';
import { kernelBindings } from '../../compiler/kernels/bindings.js';
import { compileExample } from './plans.js';

const numel = (s: number[]) => s.reduce((a, b) => a * b, 1);

describe('lowerKernel', () => {
  for (const file of ['examples/quickstart.medct', 'examples/medct-vlm.medct']) {
    it(`lowers every forward/prepare kernel of ${file}`, () => {
      const c = compileExample(file);
      for (const plan of [c.plans.eval, c.plans.train]) {
        if (!plan) continue;
        const problems: string[] = [];
        for (const k of plan.kernels) {
          if (k.phase === 'backward' || k.phase === 'optimizer') continue;
          const l = lowerKernel(plan, k);
          if ('unsupported' in l) { problems.push(`${plan.mode} ${k.kind}#${k.id}: ${l.unsupported}`); continue; }
          // Every plan output is written by some step; every bound plan buffer has the binding's size.
          const written = new Set<number>();
          for (const st of l.steps) {
            kernelBindings(st.spec).forEach((b, i) => {
              const arg = st.args[i]!;
              if (arg === 'params') return;
              const id = l.buffers[arg];
              const size = id !== undefined ? numel(plan.buffers[id]!.shape) : l.scratch[arg]?.elements;
              expect(size, `${k.kind}#${k.id} ${b.name}`).toBe(Math.max(1, b.size));
              if (id !== undefined && b.access === 'read_write') written.add(id);
            });
          }
          for (const o of k.outputs) if (!written.has(o)) problems.push(`${plan.mode} ${k.kind}#${k.id}: output ${plan.buffers[o]!.name} not written`);
        }
        expect(problems).toEqual([]);
      }
    }, 60_000);
  }
});
