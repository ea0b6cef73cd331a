// Runs a compiled plan on a device exactly as the compiler wrote it: the plan's arenas allocated
// once (./arena.ts: every buffer a view at its planned offset), every kernel's steps (lowered by
// the compiler, compiler/plan/lower.ts) compiled once from the library's sources, then each run()
// is uploads of the feeds and scalars plus a stream of dispatches, with no wait: the caller
// synchronises by reading an output. Nothing is re-lowered or re-derived here.
//
// Loop-invariant kernels (PlanKernel.invariant, eval plans: the text tower and other weight-only
// work) are skipped when nothing they read can have changed since the run that last computed
// them: weights (loadWeights, writeTensor, prepare), the non-volume feeds (compared byte for
// byte) and the run scalars. Their results are live for the whole plan (no other buffer takes
// their bytes), so a skipping run reads exactly the bytes a recomputing one would write.
import type { KernelLibrary } from '../../compiler/codegen/library.js';
import type { Plan, PlanBuffer, PlanKernel } from '../../compiler/plan/types.js';
import type { Device, DeviceBuffer, Program } from '../device/types.js';
import { ArenaAllocation, type MemoryReport } from './arena.js';
import { initWeights } from './init.js';
import { fromHalf, toHalf } from '../util/half.js';
import { packScalars, type Executor, type Feeds, type RunOptions, type RunScalars } from './types.js';

const numel = (b: PlanBuffer): number => b.shape.reduce((a, c) => a * c, 1);

interface Launch { program: Program; args: DeviceBuffer[] }

export interface ExecutorOptions {
  /** Where the kernels' sources come from: the build folder (runtime/exec/library.ts) or, in tests
   *  and benchmarks, compiler/codegen/library.ts emittedLibrary(device.target). */
  kernels: KernelLibrary;
  /** Skip invariant kernels when their inputs are unchanged (default true); false recomputes every run. */
  hoistInvariant?: boolean;
  /** Largest single allocation (default: the device's own limit, if it has one). */
  maxBufferBytes?: number;
}

const bytesOf = (a: Float32Array | Int32Array | Uint32Array): Buffer => Buffer.from(a.buffer, a.byteOffset, a.byteLength);

export class PlanExecutor implements Executor {
  private readonly arenas: ArenaAllocation;
  private readonly bufs: DeviceBuffer[];
  private readonly params: DeviceBuffer;
  private readonly launches = new Map<number, Launch[]>();
  private readonly byName = new Map<string, PlanBuffer>();
  private destroyed = false;
  private readonly hoist: boolean;
  /** Feeds an invariant kernel reads, by name; their last run's bytes, once a run computed the invariant kernels. */
  private readonly invariantFeeds: string[];
  private lastInvariantInputs: Map<string, Buffer> | null = null;

  private constructor(readonly plan: Plan, readonly device: Device, opts: ExecutorOptions) {
    const invariantReads = new Set(plan.kernels.filter((k) => k.invariant).flatMap((k) => k.inputs));
    this.hoist = (opts.hoistInvariant ?? true) && plan.kernels.some((k) => k.invariant);
    this.invariantFeeds = Object.keys(plan.inputs).filter((n) => invariantReads.has(plan.inputs[n]!));
    const max = opts.maxBufferBytes ?? (device as { maxBufferBytes?: number }).maxBufferBytes;
    this.arenas = new ArenaAllocation(plan, device, max);
    this.bufs = this.arenas.views;
    const params = plan.buffers.find((b) => b.kind === 'params');
    if (!params) throw new Error(`internal: the ${plan.mode} plan has no params buffer`);
    this.params = this.bufs[params.id]!;
    for (const b of plan.buffers) if (b.kind === 'weight' || b.kind === 'merged_weight' || !this.byName.has(b.name)) this.byName.set(b.name, b);
    for (const b of plan.buffers) if (b.kind === 'weight') this.byName.set(b.name, b);
  }

  static async create(plan: Plan, device: Device, opts: ExecutorOptions): Promise<PlanExecutor> {
    const ex = new PlanExecutor(plan, device, opts);
    try {
      const steps = plan.kernels.flatMap((k) => k.steps.map((st) => ({ k, st })));
      const programs = await device.compile(steps.map(({ st }) => opts.kernels.source(st.kernel, st.spec)));
      steps.forEach(({ k, st }, i) => {
        const list = ex.launches.get(k.id) ?? ex.launches.set(k.id, []).get(k.id)!;
        list.push({ program: programs[i]!, args: st.args.map((a) => ex.bufs[a]!) });
      });
    } catch (e) {
      ex.destroy();
      throw e;
    }
    return ex;
  }

  /** Planned and allocated bytes per arena. */
  get memory(): MemoryReport { return this.arenas.memory; }

  async loadWeights(opts: { seed: number; tensors?: ReadonlyMap<string, Float32Array> }): Promise<void> {
    this.lastInvariantInputs = null;
    const weights = this.plan.model.weights;
    const known = new Set(weights.map((w) => w.name));
    for (const name of opts.tensors?.keys() ?? []) if (!known.has(name)) throw new Error(`loadWeights: the model has no tensor named ${name}`);
    const init = initWeights(weights.filter((w) => w.buffer !== null && !opts.tensors?.has(w.name)), opts.seed);
    for (const w of weights) {
      if (w.buffer === null) continue;
      const v = opts.tensors?.get(w.name) ?? init.get(w.name);
      if (!v) throw new Error(`loadWeights: no value for ${w.name} (no initialiser and none given)`);
      await this.upload(this.plan.buffers[w.buffer]!, v, 'loadWeights');
    }
    for (const b of this.plan.buffers) if (b.kind === 'optimizer' || b.kind === 'param_grad') await this.device.upload(this.bufs[b.id]!, this.zeros(numel(b)));
  }

  async prepare(): Promise<void> {
    this.lastInvariantInputs = null;
    this.dispatchPhase('prepare');
  }

  async run(feeds: Feeds, scalars: Partial<RunScalars> = {}, opts: RunOptions = {}): Promise<void> {
    this.lastGradNorm = null;
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
      const micro = opts.micro ?? { index: 0, count: 1 };
      if (micro.count > 1 && !(await this.accumulateGradients(micro.index, micro.count))) return;
      // Before the optimizer phase: grad_clip scales the gradients in place.
      if (opts.gradNorm) this.lastGradNorm = await this.gradientNorm();
      this.dispatchPhase('optimizer');
    }
  }

  /** Host-side gradient sums of the micro-batches so far, per param_grad buffer id. */
  private readonly gradSums = new Map<number, Float32Array>();
  private gradScratch = new Float32Array(0);

  /** Adds this micro-batch's gradients into the host sums (RunOptions.micro); on the last one,
   *  uploads sum / count into the gradient buffers and answers true (the optimizer may run). */
  private async accumulateGradients(index: number, count: number): Promise<boolean> {
    if (!Number.isInteger(index) || !Number.isInteger(count) || index < 0 || index >= count) throw new Error(`internal: micro-batch ${index} of ${count}`);
    await this.device.synchronize();
    const last = index === count - 1;
    for (const b of this.plan.buffers) {
      if (b.kind !== 'param_grad') continue;
      const n = numel(b);
      let sum = this.gradSums.get(b.id);
      if (!sum) this.gradSums.set(b.id, sum = new Float32Array(n));
      if (index === 0) {
        await this.device.download(this.bufs[b.id]!, sum);
      } else {
        if (this.gradScratch.length < n) this.gradScratch = new Float32Array(n);
        const g = this.gradScratch.subarray(0, n);
        await this.device.download(this.bufs[b.id]!, g);
        for (let i = 0; i < n; i++) sum[i] += g[i]!;
      }
      if (last) {
        for (let i = 0; i < n; i++) sum[i] /= count;
        await this.device.upload(this.bufs[b.id]!, sum);
      }
    }
    return last;
  }

  private lastGradNorm: number | null = null;

  gradNorm(): number | null { return this.lastGradNorm; }

  /** sqrt(Σ g²) over every param_grad buffer, in float64 (one synchronisation, then the downloads). */
  private async gradientNorm(): Promise<number> {
    await this.device.synchronize();
    let s = 0;
    for (const b of this.plan.buffers) {
      if (b.kind !== 'param_grad') continue;
      const g = new Float32Array(numel(b));
      await this.device.download(this.bufs[b.id]!, g);
      for (let i = 0; i < g.length; i++) s += g[i]! * g[i]!;
    }
    return Math.sqrt(s);
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
      for (const l of this.launches.get(k.id) ?? []) this.device.dispatch(l.program, l.args);
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
    this.arenas.free();
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
    if (b.dtype === 'bf16' || b.dtype === 'f16') {
      // Whole u32 words (WebGPU copies multiples of 4 bytes); the view is rounded up to 4.
      const bits = new Uint16Array(n + (n & 1));
      await this.device.download(this.bufs[b.id]!, bits);
      return fromHalf(bits, b.dtype, n);
    }
    const out = new Float32Array(n);
    await this.device.download(this.bufs[b.id]!, out);
    return out;
  }

  private async upload(b: PlanBuffer, data: Float32Array | Int32Array, what: string): Promise<void> {
    if (data.length !== numel(b)) throw new Error(`${what}: ${data.length} values, but ${b.name} [${b.shape.join(', ')}] holds ${numel(b)}`);
    if (b.dtype === 'bf16' || b.dtype === 'f16') {
      if (!(data instanceof Float32Array)) throw new Error(`${what}: ${b.name} holds ${b.dtype} values, given integers`);
      await this.device.upload(this.bufs[b.id]!, toHalf(data, b.dtype));
      return;
    }
    await this.device.upload(this.bufs[b.id]!, data);
  }
}

export function createExecutor(plan: Plan, device: Device, opts: ExecutorOptions): Promise<PlanExecutor> {
  return PlanExecutor.create(plan, device, opts);
}
