// Key acceptance check: the executor's ct_clip_tiny eval forward (LoRA merged into W by the
// prepare kernels) on cpu and webgpu equals onnxruntime-node on the ONNX export of the same eval
// graph (LoRA unmerged: x·Wᵀ + s·(x·Aᵀ)·Bᵀ) with the same weights and feeds, max abs err <= 1e-4.
import { beforeAll, describe, expect, it } from 'vitest';
import { exportOnnx } from '../../compiler/export/onnx/index.js';
import { CpuDevice } from '../../runtime/device/cpu/device.js';
import { runOnnx } from '../export/ort.js';
import { compileExample } from './plans.js';
import { execFor, feedsFor, maxAbsDiff, weightsWithLora, useWebGpu } from './fixtures.js';

const c = compileExample('examples/quickstart.medct');
const plan = c.plans.eval, graph = c.graphs.eval;
const weights = weightsWithLora(graph, 13);
const feeds = feedsFor(plan, graph, 9);
const OUTS = ['image_latent', 'text_latent', 'logits'];

const webgpu = useWebGpu();

describe('executor vs onnxruntime on the ONNX export', () => {
  let want: Record<string, Float32Array>;
  beforeAll(async () => {
    expect(graph.outputs.map((o) => o.name).sort()).toEqual([...OUTS].sort());
    want = await runOnnx(exportOnnx(graph, weights), feeds);
  }, 120_000);

  it.each(['cpu', 'webgpu'])('ct_clip_tiny eval forward on %s within 1e-4', async (backend) => {
    const ex = await execFor(plan, backend === 'cpu' ? new CpuDevice() : webgpu());
    await ex.loadWeights({ seed: 13, tensors: weights });
    await ex.prepare();
    await ex.run(feeds);
    for (const n of OUTS) {
      const got = await ex.output(n);
      expect(got.length, n).toBe(want[n]!.length);
      expect(maxAbsDiff(got, want[n]!), n).toBeLessThanOrEqual(1e-4);
    }
    ex.destroy();
  }, 120_000);
});
