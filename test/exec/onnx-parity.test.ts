// Key acceptance check: the executor's ct_clip_tiny eval forward (LoRA merged into W by the
// prepare kernels) on the reference, on webgpu and on the native C backend (`cpu`) equals
// onnxruntime-node on the ONNX export of the same eval graph (LoRA unmerged: x·Wᵀ + s·(x·Aᵀ)·Bᵀ)
// with the same weights and feeds, max abs err <= 1e-4. The native case is skipped, loudly, only
// where no C compiler works.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { exportOnnx } from '../../compiler/export/onnx/index.js';
import { CpuDevice } from '../../runtime/device/cpu/device.js';
import { openNative, type NativeDevice } from '../../runtime/device/native/index.js';
import type { Device } from '../../runtime/device/types.js';
import { runOnnx } from '../export/ort.js';
import { compileExample } from './plans.js';
import { execFor, feedsFor, maxAbsDiff, weightsWithLora, useWebGpu } from './fixtures.js';

const c = compileExample('examples/quickstart.medct');
const plan = c.plans.eval, graph = c.graphs.eval;
const weights = weightsWithLora(graph, 13);
const feeds = feedsFor(plan, graph, 9);
const OUTS = ['image_latent', 'text_latent', 'logits'];

const webgpu = useWebGpu();
const native = await openNative();
if ('reason' in native) console.warn(`SKIPPING the native (cpu) ct_clip_tiny forward vs onnxruntime: ${native.reason}`);
afterAll(() => { if (!('reason' in native)) native.destroy(); });

describe('executor vs onnxruntime on the ONNX export', () => {
  let want: Record<string, Float32Array>;
  beforeAll(async () => {
    expect(graph.outputs.map((o) => o.name).sort()).toEqual([...OUTS].sort());
    want = await runOnnx(exportOnnx(graph, weights), feeds);
  }, 120_000);

  async function check(device: Device): Promise<void> {
    const ex = await execFor(plan, device);
    await ex.loadWeights({ seed: 13, tensors: weights });
    await ex.prepare();
    await ex.run(feeds);
    for (const n of OUTS) {
      const got = await ex.output(n);
      expect(got.length, n).toBe(want[n]!.length);
      expect(maxAbsDiff(got, want[n]!), n).toBeLessThanOrEqual(1e-4);
    }
    ex.destroy();
  }

  it.each(['reference', 'webgpu'])('ct_clip_tiny eval forward on %s within 1e-4', (backend) => check(backend === 'reference' ? new CpuDevice() : webgpu()), 120_000);
  it.skipIf('reason' in native)('ct_clip_tiny eval forward on the native C backend (cpu) within 1e-4', async () => {
    const dev = native as NativeDevice;
    expect(dev.backend).toBe('cpu');
    await check(dev);
  }, 120_000);
});
