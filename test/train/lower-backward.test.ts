// Every backward and optimizer kernel of the example train plans lowers to device KernelSteps whose
// buffers fit the kernel bindings exactly (a plan buffer bound where a binding expects n elements
// holds exactly n; scratch is declared with the binding's size and dtype).
import { describe, it, expect } from 'vitest';
import { checkFiles } from '../../compiler/check/index.js';
import { compileExperiment } from '../../compiler/build.js';
import { lowerBackwardKernel } from '../../compiler/kernels/launch-backward.js';
import { kernelBindings } from '../../compiler/kernels/bindings.js';

type Over = { trainBase?: boolean; loss?: 'pair_mse' | 'pair_ce' | 'clip' };
const planOf = (file: string, over: Over = {}) => {
  const exp = checkFiles(file).experiments[0]!;
  exp.train = { ...exp.train!, ...over };
  return compileExperiment(exp).plans.train!;
};
const CASES: [string, Over][] = [
  ['test/run/fixtures/small.medct', {}], ['examples/medct-vlm.medct', {}],
  // Full fine-tuning reaches every kind's parameter gradients (embedding, bias, LayerNorm, position bias, temperature).
  ['test/run/fixtures/small.medct', { trainBase: true }], ['test/run/fixtures/small.medct', { trainBase: true, loss: 'pair_ce' }],
  ['test/run/fixtures/small.medct', { trainBase: true, loss: 'clip' }],
];

describe('backward / optimizer lowering', () => {
  for (const [file, over] of CASES) {
    it(`${file} ${JSON.stringify(over)}`, () => {
      const plan = planOf(file, over);
      const kinds = new Set<string>();
      for (const k of plan.kernels) {
        if (k.phase !== 'backward' && k.phase !== 'optimizer') continue;
        const low = lowerBackwardKernel(plan, k);
        if ('unsupported' in low) expect.fail(low.unsupported);
        kinds.add(k.kind);
        expect(low.steps.length, k.kind).toBeGreaterThan(0);
        const written = new Set<number>();
        for (const st of low.steps) {
          const binds = kernelBindings(st.spec);
          expect(st.args.length, `${k.kind}: ${st.spec.kind} args`).toBe(binds.length);
          // WebGPU rejects a dispatch binding one buffer writable and again in another slot.
          binds.forEach((bd, i) => { if (bd.access !== 'read') expect(st.args.filter((a) => a === st.args[i]).length, `${k.kind}#${k.id} ${st.spec.kind}: ${bd.name} aliased`).toBe(1); });
          binds.forEach((bd, i) => {
            const a = st.args[i]!;
            if (a === 'params') { expect(bd.name).toBe('params'); return; }
            const id = low.buffers[a];
            if (id !== undefined) {
              const buf = plan.buffers[id]!;
              expect(buf.shape.reduce((x, y) => x * y, 1), `${k.kind}#${k.id} ${st.spec.kind}.${bd.name} <- ${buf.name}`).toBe(bd.size);
              if (bd.access !== 'read') {
                written.add(id);
                // Outputs of the plan kernel only: nothing else may be written.
                expect(k.outputs, `${k.kind}#${k.id} writes ${buf.name}`).toContain(id);
              } else {
                expect([...k.inputs, ...k.outputs], `${k.kind}#${k.id} reads ${buf.name}`).toContain(id);
              }
            } else {
              const s = low.scratch[a];
              expect(s, `${k.kind}#${k.id}: ${a} is neither a plan buffer nor scratch`).toBeDefined();
              expect(s!.elements, `${k.kind}#${k.id} scratch ${a} for ${bd.name}`).toBeGreaterThanOrEqual(bd.size);
            }
          });
        }
        // Every gradient the plan kernel promises is written.
        for (const o of k.outputs) expect(written.has(o), `${k.kind}#${k.id} never writes ${plan.buffers[o]!.name}`).toBe(true);
      }
      expect([...kinds].sort()).toEqual(expect.arrayContaining(['adamw', 'attention_backward', 'lora_linear_backward', 'layer_norm_backward', `${over.loss ?? 'pair_mse'}_loss_backward`]));
      if (over.trainBase) expect([...kinds]).toEqual(expect.arrayContaining(['embedding_backward', 'elementwise_backward', 'dwconv3d_backward', 'gemm_backward']));
    }, 60_000);
  }
});
