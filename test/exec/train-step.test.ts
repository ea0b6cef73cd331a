// A train plan step on the executor (forward here, backward/optimizer from launch-backward):
// loss and updated LoRA weights match test/train's independent plan runner on cpu, and WebGPU
// matches cpu; param grads restart from zero every run (runtime/exec/types.ts).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CpuDevice } from '../../runtime/device/cpu/device.js';
import { openWebGpu } from '../../runtime/device/webgpu/device.js';
import type { Device } from '../../runtime/device/types.js';
import { createExecutor, type Executor } from '../../runtime/exec/index.js';
import { PlanRunnerExecutor } from '../run/plan-runner-executor.js';
import { compileExample } from './plans.js';
import { feedsFor, maxAbsDiff, weightsWithLora } from './fixtures.js';

const c = compileExample('examples/quickstart.medct');
const plan = c.plans.train!, graph = c.graphs.train!;
const weights = weightsWithLora(graph, 21);
const feeds = feedsFor(plan, graph, 4);
const scalars = { dropoutSeed: 99, adamStep: 1, lr: 1e-3 };
const probe = graph.tensors.find((t) => t.name.endsWith('lora_A.weight'))!.name;

type Ex = Pick<Executor, 'loadWeights' | 'run' | 'output' | 'readTensor'>;
async function step(ex: Ex) {
  await ex.loadWeights({ seed: 21, tensors: weights });
  await ex.run(feeds, scalars);
  return { loss: await ex.output('loss'), a: await ex.readTensor(probe) };
}

let gpu: Device;
beforeAll(async () => {
  const d = await openWebGpu();
  if ('reason' in d) throw new Error(`WebGPU is required for these tests: ${d.reason}`);
  gpu = d;
}, 60_000);
afterAll(() => gpu?.destroy());

describe('executor: quickstart train step', () => {
  let cpu: { loss: Float32Array; a: Float32Array };
  beforeAll(async () => {
    const ex = await createExecutor(plan, graph, new CpuDevice());
    cpu = await step(ex);
    ex.destroy();
  }, 300_000);

  it('cpu matches the independent plan runner: loss and the updated lora_A', async () => {
    const ref = await step(new PlanRunnerExecutor(plan, graph, new CpuDevice()));
    expect(Number.isFinite(cpu.loss[0]!)).toBe(true);
    expect(maxAbsDiff(cpu.loss, ref.loss)).toBeLessThanOrEqual(1e-6);
    expect(maxAbsDiff(cpu.a, ref.a)).toBeLessThanOrEqual(1e-6);
    expect(maxAbsDiff(cpu.a, weights.get(probe)!)).toBeGreaterThan(0); // the step moved it
  }, 300_000);

  it('webgpu matches cpu', async () => {
    const ex = await createExecutor(plan, graph, gpu);
    const got = await step(ex);
    ex.destroy();
    expect(maxAbsDiff(got.loss, cpu.loss)).toBeLessThanOrEqual(1e-4);
    expect(maxAbsDiff(got.a, cpu.a)).toBeLessThanOrEqual(1e-4);
  }, 300_000);

  it('param grads are zeroed per run: two lr = 0 steps give the same gradient bytes', async () => {
    const ex = await createExecutor(plan, graph, new CpuDevice());
    await ex.loadWeights({ seed: 21, tensors: weights });
    const grads: Float32Array[] = [];
    for (let i = 0; i < 2; i++) {
      await ex.run(feeds, { ...scalars, lr: 0 }); // AdamW with lr 0 leaves the weights as they are
      grads.push(await ex.readTensor(`grad:${probe}`));
    }
    expect(maxAbsDiff(await ex.readTensor(probe), weights.get(probe)!)).toBe(0);
    ex.destroy();
    expect(grads[0]!.some((v) => v !== 0)).toBe(true);
    expect(Buffer.from(grads[1]!.buffer).equals(Buffer.from(grads[0]!.buffer))).toBe(true);
  }, 300_000);
});
