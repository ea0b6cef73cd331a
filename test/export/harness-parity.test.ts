// Two independent implementations of the ct_clip_tiny forward agree: onnxruntime on the ONNX
// export, and test/train's plan runner (the compiled train plan's forward kernels on the CPU
// reference device and on WebGPU). LoRA dropout 0 so the train-mode forward is the deterministic function ONNX
// exports; lora_B non-zero so the adapters contribute.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { exportOnnx } from '../../compiler/export/onnx/index.js';
import type { Graph } from '../../compiler/graph/types.js';
import { CpuDevice } from '../../runtime/device/cpu/device.js';
import type { Device } from '../../runtime/device/types.js';
import { openWebGpu } from '../../runtime/device/webgpu/device.js';
import { PlanRunner } from '../train/harness.js';
import { feeds, tinyTrain, weights } from '../train/setup.js';
import { runOnnx } from './ort.js';

let gpu: Device;
beforeAll(async () => {
  const d = await openWebGpu();
  if ('reason' in d) throw new Error(`WebGPU is required for these tests (CI installs Mesa): ${d.reason}`);
  gpu = d;
}, 60_000);
afterAll(() => gpu?.destroy());

describe('onnx export vs the plan runner', () => {
  it.each(['cpu', 'webgpu'])('ct_clip_tiny train graph forward on %s: latents, logits and pair-MSE loss within 1e-4', async (backend) => {
    const { plan, graph } = tinyTrain({ dropout: 0, batch: 2 });
    const w = weights(graph, 7);
    const f = feeds(plan, 3);
    const runner = new PlanRunner(plan, graph, backend === 'cpu' ? new CpuDevice() : gpu);
    await runner.load(w);
    await runner.run(f, {}, ['forward']);
    const tensorOf = (name: string) => graph.tensors.find((t) => t.name === name)!.id;
    const named = { image_latent: tensorOf(':image_latent'), text_latent: tensorOf(':text_latent'), logits: tensorOf(':logits') };
    const withAll: Graph = { ...graph, outputs: [...graph.outputs, ...Object.entries(named).map(([name, tensor]) => ({ name, tensor }))] };
    const ort = await runOnnx(exportOnnx(withAll, w), f);
    for (const [name, t] of [...Object.entries(named), ['loss', graph.outputs[0]!.tensor] as const]) {
      const got = await runner.read(plan.buffers.find((b) => b.tensor === t)!.id);
      const want = ort[name]!;
      expect(got.length).toBe(want.length);
      const maxDiff = got.reduce((m, v, i) => Math.max(m, Math.abs(v - want[i]!)), 0);
      expect(maxDiff, name).toBeLessThan(1e-4);
    }
  });
});
