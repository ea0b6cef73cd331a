// Loop-invariant hoisting in the executor (PlanKernel.invariant): evaluating several volumes with
// one executor, which computes the text tower once, gives the same bytes as a fresh executor per
// volume (which computes everything); weights or prompt changes between runs recompute exactly
// as a fresh executor would; and the skipping really happens (dispatch counts from the lowering).
import { beforeAll, describe, expect, it } from 'vitest';
import { lowerKernel } from '../../compiler/kernels/launch.js';
import type { Program, DeviceBuffer } from '../../runtime/device/types.js';
import { CpuDevice } from '../../runtime/device/cpu/device.js';
import type { Executor, Feeds } from '../../runtime/exec/index.js';
import { Rng } from '../../runtime/util/rng.js';
import { compileExample } from './plans.js';
import { execFor, feedsFor, maxAbsDiff, weightsWithLora, useWebGpu } from './fixtures.js';

const c = compileExample('examples/quickstart.medct');
const plan = c.plans.eval, graph = c.graphs.eval;
const weights = weightsWithLora(graph, 11);
const text = feedsFor(plan, graph, 5);
const volumes = [1, 2, 3].map((s) => ({ ...text, volume: feedsFor(plan, graph, 100 + s).volume! }));
const OUTS = ['image_latent', 'text_latent', 'logits'];

class CountingCpu extends CpuDevice {
  dispatches = 0;
  override dispatch(program: Program, buffers: DeviceBuffer[]): void {
    this.dispatches++;
    super.dispatch(program, buffers);
  }
}

const launches = (pred: (k: (typeof plan.kernels)[number]) => boolean) => plan.kernels.filter(pred).reduce((a, k) => {
  const l = lowerKernel(plan, k);
  if ('unsupported' in l) throw new Error(l.unsupported);
  return a + l.steps.length;
}, 0);
const allForward = launches((k) => k.phase === 'forward');
const perVolume = launches((k) => k.phase === 'forward' && !k.invariant);

async function outputs(ex: Executor): Promise<Record<string, Float32Array>> {
  return Object.fromEntries(await Promise.all(OUTS.map(async (n) => [n, await ex.output(n)] as const)));
}

/** What a fresh executor (nothing cached) gives for these weights and feeds. */
async function fresh(feeds: Feeds, w = weights): Promise<Record<string, Float32Array>> {
  const ex = await execFor(plan, new CpuDevice());
  await ex.loadWeights({ seed: 11, tensors: w });
  await ex.prepare();
  await ex.run(feeds);
  const out = await outputs(ex);
  ex.destroy();
  return out;
}

const expectSame = (got: Record<string, Float32Array>, want: Record<string, Float32Array>) => {
  for (const n of OUTS) expect(Buffer.from(got[n]!.buffer).equals(Buffer.from(want[n]!.buffer)), `${n} bit-identical`).toBe(true);
};

const webgpu = useWebGpu();

describe('executor: hoisted invariant kernels (quickstart eval plan)', () => {
  let reference: Record<string, Float32Array>[];
  beforeAll(async () => { reference = []; for (const f of volumes) reference.push(await fresh(f)); }, 180_000);

  it('the plan hoists something and the volumes differ (the comparison below is not vacuous)', () => {
    expect(perVolume).toBeGreaterThan(0);
    expect(perVolume).toBeLessThan(allForward);
    expect(maxAbsDiff(reference[0]!.logits!, reference[1]!.logits!)).toBeGreaterThan(1e-4);
    expect(maxAbsDiff(reference[1]!.logits!, reference[2]!.logits!)).toBeGreaterThan(1e-4);
  });

  it('cpu: 3 volumes on one executor are bit-identical to a fresh executor per volume, and skip the invariant kernels', async () => {
    const dev = new CountingCpu();
    const ex = await execFor(plan, dev);
    await ex.loadWeights({ seed: 11, tensors: weights });
    await ex.prepare();
    const counts: number[] = [];
    for (let i = 0; i < volumes.length; i++) {
      // New arrays with the same prompt bytes: equal contents, not identity, decide the skip.
      const f = { ...volumes[i]!, input_ids: Int32Array.from(text.input_ids as Int32Array), attention_mask: Float32Array.from(text.attention_mask as Float32Array) };
      const before = dev.dispatches;
      await ex.run(f);
      counts.push(dev.dispatches - before);
      expectSame(await outputs(ex), reference[i]!);
    }
    expect(counts).toEqual([allForward, perVolume, perVolume]);
    ex.destroy();
  }, 120_000);

  it('cpu: hoistInvariant false recomputes every run (same bytes)', async () => {
    const dev = new CountingCpu();
    const ex = await execFor(plan, dev, { hoistInvariant: false });
    await ex.loadWeights({ seed: 11, tensors: weights });
    await ex.prepare();
    for (let i = 0; i < 2; i++) {
      const before = dev.dispatches;
      await ex.run(volumes[i]!);
      expect(dev.dispatches - before).toBe(allForward);
      expectSame(await outputs(ex), reference[i]!);
    }
    ex.destroy();
  }, 120_000);

  it('webgpu with hoisting matches cpu over the 3 volumes (max abs err <= 1e-4)', async () => {
    const ex = await execFor(plan, webgpu());
    await ex.loadWeights({ seed: 11, tensors: weights });
    await ex.prepare();
    for (let i = 0; i < volumes.length; i++) {
      await ex.run(volumes[i]!);
      const got = await outputs(ex);
      for (const n of OUTS) expect(maxAbsDiff(got[n]!, reference[i]![n]!), `volume ${i} ${n}`).toBeLessThanOrEqual(1e-4);
    }
    ex.destroy();
  }, 180_000);

  it('new prompt feeds between runs recompute, as a fresh executor would (also when the same array is changed in place)', async () => {
    const dev = new CountingCpu();
    const ex = await execFor(plan, dev);
    await ex.loadWeights({ seed: 11, tensors: weights });
    await ex.prepare();
    const f: Feeds = { ...volumes[0]!, input_ids: Int32Array.from(text.input_ids as Int32Array) };
    await ex.run(f);
    const vocab = graph.tensors.find((t) => t.name.endsWith('word_embeddings.weight'))!.shape[0]!;
    const ids = f.input_ids as Int32Array;
    const rng = new Rng(9, 'new-prompts');
    for (let i = 0; i < ids.length; i++) ids[i] = rng.int(vocab); // in place: same object, new bytes
    const before = dev.dispatches;
    await ex.run(f);
    expect(dev.dispatches - before).toBe(allForward);
    const got = await outputs(ex);
    const want = await fresh(f);
    expectSame(got, want);
    expect(maxAbsDiff(got.logits!, reference[0]!.logits!)).toBeGreaterThan(1e-4);
    // And a changed mask alone counts too.
    const mask = Float32Array.from(f.attention_mask as Float32Array);
    mask[mask.indexOf(1)] = 0;
    await ex.run({ ...f, attention_mask: mask });
    expectSame(await outputs(ex), await fresh({ ...f, attention_mask: mask }));
    ex.destroy();
  }, 180_000);

  it('writeTensor of a text lora_B then prepare recomputes the text tower, as a fresh executor with that weight would', async () => {
    const dev = new CountingCpu();
    const ex = await execFor(plan, dev);
    await ex.loadWeights({ seed: 11, tensors: weights });
    await ex.prepare();
    await ex.run(volumes[0]!);
    const name = [...weights.keys()].find((n) => n.startsWith('text_transformer.') && n.endsWith('lora_B.weight'))!;
    const changed = new Rng(3, 'new-b').fillNormal(new Float32Array(weights.get(name)!.length), 0, 0.2) as Float32Array;
    await ex.writeTensor(name, changed);
    await ex.prepare();
    const before = dev.dispatches;
    await ex.run(volumes[0]!);
    expect(dev.dispatches - before).toBe(allForward);
    const got = await outputs(ex);
    expectSame(got, await fresh(volumes[0]!, new Map([...weights, [name, changed]])));
    expect(maxAbsDiff(got.text_latent!, reference[0]!.text_latent!)).toBeGreaterThan(1e-4);
    // loadWeights back to the originals: recomputed again, back to the first answer.
    await ex.loadWeights({ seed: 11, tensors: weights });
    await ex.prepare();
    await ex.run(volumes[1]!);
    expectSame(await outputs(ex), reference[1]!);
    ex.destroy();
  }, 180_000);
});
