// RunExecutor over test/train's PlanRunner (the independent plan runner the train and export tests
// compare against), so runCompiled can be tested with real model math before and besides
// runtime/exec. Test-only. Adds what PlanRunner leaves out: seeded weight loading, the eval
// plan's lora_merge prepare kernels (W' = W + scaling·B·A on the host), and lookups by name.
import type { Graph } from '../../compiler/graph/types.js';
import type { KernelPhase, Plan } from '../../compiler/plan/types.js';
import type { Device } from '../../runtime/device/types.js';
import type { Feeds, RunExecutor, RunScalars } from '../../runtime/run/executor.js';
import { initTensors, PlanRunner } from '../train/harness.js';
import type { MemoryReport } from '../../runtime/exec/arena.js';

export class PlanRunnerExecutor implements RunExecutor {
  private readonly runner: PlanRunner;
  constructor(readonly plan: Plan, graph: Graph, readonly device: Device) {
    this.runner = new PlanRunner(plan, graph, device);
    this.graph = graph;
  }
  private readonly graph: Graph;

  static create = async (plan: Plan, graph: Graph, device: Device): Promise<RunExecutor> => new PlanRunnerExecutor(plan, graph, device);
  /** A CreateExecutor for runCompiled: the runner needs the graphs the plans were lowered from. */
  static over = (graphs: { eval: Graph; train: Graph | null }) => (plan: Plan, device: Device): Promise<RunExecutor> =>
    PlanRunnerExecutor.create(plan, plan.mode === 'eval' ? graphs.eval : graphs.train!, device);
  /** The runner allocates per buffer, outside the plan's arenas: nothing to report. */
  readonly memory: MemoryReport = { weights: { plannedBytes: 0, allocatedBytes: 0, allocations: 0 }, state: { plannedBytes: 0, allocatedBytes: 0, allocations: 0 }, work: { plannedBytes: 0, allocatedBytes: 0, allocations: 0 } };

  async loadWeights(o: { seed: number; tensors?: ReadonlyMap<string, Float32Array> }): Promise<void> {
    const w = initTensors(this.graph, o.seed);
    for (const [k, v] of o.tensors ?? []) w.set(k, v);
    await this.runner.load(w);
  }

  async prepare(): Promise<void> {
    for (const k of this.plan.kernels) {
      if (k.phase !== 'prepare') continue;
      if (k.kind !== 'lora_merge') throw new Error(`prepare kernel ${k.kind}`);
      if (k.spec.kind !== 'lora_merge') throw new Error(`prepare kernel spec ${k.spec.kind}`);
      const { k: inF, n, r, scaling } = k.spec;
      const [w, a, b] = await Promise.all(k.inputs.map((id) => this.runner.read(id)));
      const out = new Float32Array(n * inF);
      for (let i = 0; i < n; i++) for (let j = 0; j < inF; j++) {
        let s = 0;
        for (let q = 0; q < r; q++) s += b![i * r + q]! * a![q * inF + j]!;
        out[i * inF + j] = w![i * inF + j]! + scaling * s;
      }
      await this.runner.write(k.outputs[0]!, out);
    }
  }

  async run(feeds: Feeds, scalars: Partial<RunScalars> = {}): Promise<void> {
    const phases: KernelPhase[] = this.plan.mode === 'train' ? ['forward', 'backward', 'optimizer'] : ['forward'];
    await this.runner.run(feeds, scalars, phases);
  }

  output(name: string): Promise<Float32Array> { return this.runner.read(this.plan.outputs[name]!); }
  readTensor(name: string): Promise<Float32Array> { return this.runner.read(this.runner.bufferOf(name)); }
  writeTensor(name: string, data: Float32Array): Promise<void> { return this.runner.write(this.runner.bufferOf(name), data); }
  destroy(): void {}
}
