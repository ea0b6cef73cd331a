// Runs a compiled plan on a device: one device buffer per plan buffer, every kernel lowered once
// (compiler/kernels/launch.ts) and its programs compiled once (the device caches by spec), then
// each run() is uploads of the feeds and scalars plus a stream of dispatches, with no wait: the
// caller synchronises by reading an output.
//
// Loop-invariant kernels (PlanKernel.invariant, eval plans: the text tower and other weight-only
// work) are skipped when nothing they read can have changed since the run that last computed
// them: weights (loadWeights, writeTensor, prepare), the non-volume feeds (compared byte for
// byte) and the run scalars. Their results stay in their own buffers, so a skipping run reads
// exactly the bytes a recomputing one would write.
//
// Memory: each plan buffer gets its own device buffer. The plan's work-arena offsets (liveness
// planned, compiler/plan/memory.ts) would let buffers share one allocation, but Device binds whole
// buffers; aliasing by offset is future work (it needs sub-buffer bindings in the Device interface).
import type { Graph } from '../../compiler/graph/types.js';
import type { Plan, PlanBuffer, PlanKernel } from '../../compiler/plan/types.js';
import { lowerKernel, type LoweredKernel } from '../../compiler/kernels/launch.js';
import type { Device, DeviceBuffer, Program } from '../device/types.js';
import { initWeights } from './init.js';
import { packScalars, type Executor, type Feeds, type RunScalars } from './types.js';

const numel = (b: PlanBuffer): number => b.shape.reduce((a, c) => a * c, 1);
const bytesFor = (elements: number): number => Math.max(16, Math.ceil(elements * 4 / 16) * 16);

interface Launch { program: Program; args: DeviceBuffer[] }

export interface ExecutorOptions {
  /** Skip invariant kernels when their inputs are unchanged (default true); false recomputes every run. */
  hoistInvariant?: boolean;
}

const bytesOf = (a: Float32Array | Int32Array | Uint32Array): Buffer => Buffer.from(a.buffer, a.byteOffset, a.byteLength);

export class PlanExecutor implements Executor {
  private readonly bufs: DeviceBuffer[];
  private readonly scratch = new Map<string, DeviceBuffer>();
  private readonly params: DeviceBuffer;
  private readonly launches = new Map<number, Launch[]>();
  private readonly byName = new Map<string, PlanBuffer>();
  private destroyed = false;
  private readonly hoist: boolean;
  /** Feeds an invariant kernel reads, by name; their last run's bytes, once a run computed the invariant kernels. */
  private readonly invariantFeeds: string[];
  private lastInvariantInputs: Map<string, Buffer> | null = null;

  private constructor(readonly plan: Plan, readonly graph: Graph, readonly device: Device, opts: ExecutorOptions = {}) {
    const invariantReads = new Set(plan.kernels.filter((k) => k.invariant).flatMap((k) => k.inputs));
    this.hoist = (opts.hoistInvariant ?? true) && plan.kernels.some((k) => k.invariant);
    this.invariantFeeds = Object.keys(plan.inputs).filter((n) => invariantReads.has(plan.inputs[n]!));
    this.bufs = plan.buffers.map((b) => device.alloc(bytesFor(numel(b))));
    this.params = device.alloc(16);
    for (const b of plan.buffers) if (b.kind === 'weight' || b.kind === 'merged_weight' || !this.byName.has(b.name)) this.byName.set(b.name, b);
    for (const b of plan.buffers) if (b.kind === 'weight') this.byName.set(b.name, b);
  }

  static async create(plan: Plan, graph: Graph, device: Device, opts: ExecutorOptions = {}): Promise<PlanExecutor> {
    const ex = new PlanExecutor(plan, graph, device, opts);
    const lowered: [PlanKernel, LoweredKernel][] = [];
    const problems: string[] = [];
    for (const k of plan.kernels) {
      const l = lowerKernel(plan, k);
      if ('unsupported' in l) problems.push(`kernel ${k.id} ${k.kind} (${k.module || k.phase}): ${l.unsupported}`);
      else lowered.push([k, l]);
    }
    if (problems.length) {
      ex.destroy();
      throw new Error(`this ${plan.mode} plan cannot run on ${device.backend}: ${problems.length} kernel(s) have no device lowering:\n  ${problems.slice(0, 8).join('\n  ')}`);
    }
    for (const [k, l] of lowered) {
      const launches: Launch[] = [];
      for (const st of l.steps) {
        const program = await device.compile(st.spec);
        launches.push({ program, args: st.args.map((a) => ex.resolve(a, l)) });
      }
      ex.launches.set(k.id, launches);
    }
    return ex;
  }

  private resolve(arg: string, l: LoweredKernel): DeviceBuffer {
    if (arg === 'params') return this.params;
    const id = l.buffers[arg];
    if (id !== undefined) return this.bufs[id]!;
    const s = l.scratch[arg];
    if (!s) throw new Error(`internal: step arg ${arg} is neither a plan buffer nor scratch`);
    let b = this.scratch.get(arg);
    if (!b) { b = this.device.alloc(bytesFor(s.elements)); this.scratch.set(arg, b); }
    return b;
  }

  async loadWeights(opts: { seed: number; tensors?: ReadonlyMap<string, Float32Array> }): Promise<void> {
    this.lastInvariantInputs = null;
    const init = initWeights(this.graph, opts.seed);
    const known = new Set(this.graph.tensors.map((t) => t.name));
    for (const name of opts.tensors?.keys() ?? []) if (!known.has(name)) throw new Error(`loadWeights: the model has no tensor named ${name}`);
    for (const b of this.plan.buffers) {
      if (b.kind === 'weight') {
        const v = opts.tensors?.get(b.name) ?? init.get(b.name);
        if (!v) throw new Error(`loadWeights: no value for ${b.name} (no initialiser and none given)`);
        await this.upload(b, v, 'loadWeights');
      } else if (b.kind === 'optimizer' || b.kind === 'param_grad') {
        await this.device.upload(this.bufs[b.id]!, new Float32Array(numel(b)));
      }
    }
  }

  async prepare(): Promise<void> {
    this.lastInvariantInputs = null;
    this.dispatchPhase('prepare');
  }

  async run(feeds: Feeds, scalars: Partial<RunScalars> = {}): Promise<void> {
    const names = Object.keys(this.plan.inputs);
    for (const name of Object.keys(feeds)) if (!(name in this.plan.inputs)) throw new Error(`run: unknown feed ${name} (the plan takes ${names.join(', ')})`);
    for (const name of names) {
      const data = feeds[name];
      if (!data) throw new Error(`run: missing feed ${name} (the plan takes ${names.join(', ')})`);
      const b = this.plan.buffers[this.plan.inputs[name]!]!;
      if ((b.dtype === 'i32') !== (data instanceof Int32Array)) throw new Error(`run: feed ${name} must be ${b.dtype === 'i32' ? 'an Int32Array' : 'a Float32Array'}`);
      await this.upload(b, data, `run: feed ${name}`);
    }
    const packed = packScalars({ dropoutSeed: scalars.dropoutSeed ?? 0, adamStep: scalars.adamStep ?? 1, lr: scalars.lr ?? 0 });
    await this.device.upload(this.params, packed);
    const recompute = this.invariantInputsChanged(feeds, packed);
    this.dispatchPhase('forward', recompute);
    if (this.plan.mode === 'train') {
      // The gradient rule of runtime/exec/types.ts: param grads start at zero every step.
      for (const b of this.plan.buffers) if (b.kind === 'param_grad') await this.device.upload(this.bufs[b.id]!, this.zeros(numel(b)));
      this.dispatchPhase('backward');
      this.dispatchPhase('optimizer');
    }
  }

  private zeroBuf: Float32Array = new Float32Array(0);
  private zeros(n: number): Float32Array {
    if (this.zeroBuf.length < n) this.zeroBuf = new Float32Array(n);
    return this.zeroBuf.subarray(0, n);
  }

  /** Whether invariant kernels must run this time; remembers this run's invariant inputs when they must. */
  private invariantInputsChanged(feeds: Feeds, packed: Uint32Array): boolean {
    if (!this.hoist) return true;
    const now = new Map<string, Buffer>(this.invariantFeeds.map((n) => [n, bytesOf(feeds[n]!)]));
    now.set('\0params', bytesOf(packed));
    const last = this.lastInvariantInputs;
    if (last && [...now].every(([n, b]) => last.get(n)!.equals(b))) return false;
    // Copies: the caller may reuse its arrays.
    this.lastInvariantInputs = new Map([...now].map(([n, b]) => [n, Buffer.from(b)]));
    return true;
  }

  private dispatchPhase(phase: PlanKernel['phase'], invariantToo = true): void {
    for (const k of this.plan.kernels) {
      if (k.phase !== phase || (k.invariant && !invariantToo)) continue;
      for (const l of this.launches.get(k.id)!) this.device.dispatch(l.program, l.args);
    }
  }

  async output(name: string): Promise<Float32Array> {
    const id = this.plan.outputs[name];
    if (id === undefined) throw new Error(`output: the plan has no output ${name} (it has ${Object.keys(this.plan.outputs).join(', ')})`);
    return this.read(this.plan.buffers[id]!);
  }

  async readTensor(name: string): Promise<Float32Array> {
    return this.read(this.tensorBuffer(name));
  }

  async writeTensor(name: string, data: Float32Array): Promise<void> {
    this.lastInvariantInputs = null;
    await this.upload(this.tensorBuffer(name), data, `writeTensor ${name}`);
  }

  destroy(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    for (const b of [...this.bufs, ...this.scratch.values(), this.params]) this.device.free(b);
  }

  private tensorBuffer(name: string): PlanBuffer {
    const b = this.byName.get(name);
    if (!b) throw new Error(`the ${this.plan.mode} plan has no tensor named ${name}`);
    return b;
  }

  private async read(b: PlanBuffer): Promise<Float32Array> {
    await this.device.synchronize();
    const n = numel(b);
    if (b.dtype === 'i32') {
      const out = new Int32Array(n);
      await this.device.download(this.bufs[b.id]!, out);
      return Float32Array.from(out);
    }
    const out = new Float32Array(n);
    await this.device.download(this.bufs[b.id]!, out);
    return out;
  }

  private async upload(b: PlanBuffer, data: Float32Array | Int32Array, what: string): Promise<void> {
    if (data.length !== numel(b)) throw new Error(`${what}: ${data.length} values, but ${b.name} [${b.shape.join(', ')}] holds ${numel(b)}`);
    await this.device.upload(this.bufs[b.id]!, data);
  }
}

export function createExecutor(plan: Plan, graph: Graph, device: Device, opts: ExecutorOptions = {}): Promise<Executor> {
  return PlanExecutor.create(plan, graph, device, opts);
}
