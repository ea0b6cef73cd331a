// A train plan step on the executor (forward here, backward/optimizer from launch-backward):
// loss and updated LoRA weights match test/train's independent plan runner on cpu, and WebGPU
// matches cpu; a step's param grads do not depend on what the grad buffers held before.
import { beforeAll, describe, expect, it } from 'vitest';
import { CpuDevice } from '../../runtime/device/cpu/device.js';
import type { Executor } from '../../runtime/exec/index.js';
import { PlanRunnerExecutor } from '../run/plan-runner-executor.js';
import { compileExample } from './plans.js';
import { execFor, feedsFor, maxAbsDiff, weightsWithLora, useWebGpu } from './fixtures.js';

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

const webgpu = useWebGpu();

describe('executor: quickstart train step', () => {
  let cpu: { loss: Float32Array; a: Float32Array };
  beforeAll(async () => {
    const ex = await execFor(plan, new CpuDevice());
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
    const ex = await execFor(plan, webgpu());
    const got = await step(ex);
    ex.destroy();
    expect(maxAbsDiff(got.loss, cpu.loss)).toBeLessThanOrEqual(1e-4);
    expect(maxAbsDiff(got.a, cpu.a)).toBeLessThanOrEqual(1e-4);
  }, 300_000);

  it('a step\'s param grads do not depend on stale gradient buffers', async () => {
    // On WebGPU for speed: the rule is the executor's, and the kernels reduce in a fixed order.
    const ex = await execFor(plan, webgpu());
    await ex.loadWeights({ seed: 21, tensors: weights });
    const names = plan.buffers.filter((b) => b.kind === 'param_grad').map((b) => b.name);
    expect(names.length).toBeGreaterThan(0);
    const grads = async () => Promise.all(names.map((n) => ex.readTensor(n)));
    await ex.run(feeds, { ...scalars, lr: 0 }); // AdamW with lr 0 leaves the weights as they are
    const first = await grads();
    for (const [i, n] of names.entries()) await ex.writeTensor(n, new Float32Array(first[i]!.length).fill(1e3));
    await ex.run(feeds, { ...scalars, lr: 0 });
    const second = await grads();
    expect(maxAbsDiff(await ex.readTensor(probe), weights.get(probe)!)).toBe(0);
    ex.destroy();
    expect(first.some((g) => g.some((v) => v !== 0))).toBe(true);
    for (const [i, n] of names.entries()) expect(Buffer.from(second[i]!.buffer).equals(Buffer.from(first[i]!.buffer)), n).toBe(true);
  }, 300_000);
});
