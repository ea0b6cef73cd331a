// LoRA dropout draws one independent mask per adapter (PEFT: one nn.Dropout per adapted module),
// and each adapter's backward redraws its own forward's mask. Checked on the lowered train plan of
// the quickstart model: the KernelSpecs the executor runs, evaluated by the CPU reference.
import { describe, it, expect } from 'vitest';
import { lowerKernel, type LoweredKernel } from '../../compiler/kernels/launch.js';
import type { KernelSpec, LoraLinearSpec, LoraBackwardInputSpec, GemmSpec } from '../../compiler/kernels/spec.js';
import { runReference } from '../../runtime/device/cpu/reference.js';
import { Rng } from '../../runtime/util/rng.js';
import { tinyTrain } from './setup.js';

const P = 0.25, SEED = 0xc0ffee;
const params = (): Uint32Array => Uint32Array.of(SEED, 1, 0, 0);
const lowered = (l: ReturnType<typeof lowerKernel>): LoweredKernel => {
  if ('unsupported' in l) throw new Error(l.unsupported);
  return l;
};

/** The multiplier (0 or 1/(1-p)) lora_backward_input applies to each dx element: dy = 0, ds·A = 1. */
function backwardMask(spec: LoraBackwardInputSpec): Float32Array {
  const { m, k, n, r } = spec;
  const ds = new Float32Array(m * r), A = new Float32Array(r * k);
  for (let i = 0; i < m; i++) ds[i * r] = 1;
  A.fill(1, 0, k);
  const dx = new Float32Array(m * k);
  runReference(spec, { dy: new Float32Array(m * n), w: new Float32Array(n * k), ds, lora_a: A, params: params(), dx });
  return dx;
}

describe('LoRA dropout streams in a train plan', () => {
  const { plan } = tinyTrain({ dropout: P });
  const fwd = plan.kernels.filter((k) => k.kind === 'lora_linear' && k.phase === 'forward');
  const adapters = fwd.map((k) => {
    const spec = lowered(lowerKernel(plan, k)).steps[0]!.spec as LoraLinearSpec;
    const bk = plan.kernels.find((b) => b.kind === 'lora_linear_backward' && b.backward?.forward === k.id)!;
    const steps = lowered(lowerKernel(plan, bk)).steps.map((s) => s.spec);
    const input = steps.find((s): s is LoraBackwardInputSpec => s.kind === 'lora_backward_input');
    return { module: k.module, spec, steps, input };
  });
  // Adapters whose input needs no gradient (on the frozen embeddings) have no dx kernel.
  const withDx = adapters.filter((a) => a.input !== undefined);

  it('gives every adapter its own stream, and its backward kernels the same one', () => {
    expect(adapters.length).toBeGreaterThanOrEqual(4);
    const streams = adapters.map((a) => a.spec.stream);
    expect(new Set(streams).size).toBe(adapters.length);
    for (const a of adapters) {
      expect(a.spec.dropout).toBe(P);
      const masked = a.steps.filter((s): s is GemmSpec | LoraBackwardInputSpec =>
        (s.kind === 'gemm' && s.maskB > 0) || s.kind === 'lora_backward_input');
      expect(masked.map((s) => s.kind).sort(), a.module).toEqual(a.input ? ['gemm', 'lora_backward_input'] : ['gemm']);
      for (const s of masked) expect(s.stream, a.module).toBe(a.spec.stream);
    }
  });

  it('draws different masks for two adapters in one step (same seed, same element index)', () => {
    expect(withDx.length).toBeGreaterThanOrEqual(2);
    const masks = withDx.map((a) => backwardMask(a.input!));
    for (let i = 0; i < masks.length; i++) for (let j = i + 1; j < masks.length; j++) {
      const n = Math.min(masks[i]!.length, masks[j]!.length);
      let differ = 0;
      for (let e = 0; e < n; e++) if (masks[i]![e] !== masks[j]![e]) differ++;
      // Independent masks disagree on a fraction 2p(1-p) = 0.375 of the elements; identical ones on none.
      expect(differ / n, `${withDx[i]!.module} vs ${withDx[j]!.module}`).toBeGreaterThan(0.3);
      expect(differ / n).toBeLessThan(0.45);
    }
  });

  it("recomputes the forward's mask in the backward (same adapter, same stream)", () => {
    for (const a of withDx) {
      const { m, k, r, scaling } = a.spec;
      const shrink: KernelSpec = { kind: 'lora_shrink', m, k, r, scaling, dropout: a.spec.dropout, stream: a.spec.stream };
      const rng = new Rng(3, a.module);
      const x = rng.fillNormal(new Float32Array(m * k)) as Float32Array, A = rng.fillNormal(new Float32Array(r * k)) as Float32Array;
      const s = new Float32Array(m * r);
      runReference(shrink, { x, lora_a: A, params: params(), s });
      const mask = backwardMask(a.input!);
      for (let i = 0; i < m; i++) {
        let want = 0;
        for (let j = 0; j < k; j++) want += x[i * k + j]! * mask[i * k + j]! * A[j]!;
        expect(s[i * r]! / scaling).toBeCloseTo(want, 3);
      }
    }
  });
});
