// A small plan runner for the train tests: one device buffer per plan buffer, forward kernels from
// their KernelSpecs (a few glue kinds without a kernel yet - broadcast elementwise, slice,
// l2norm, rel_pos_grid - evaluated on the host from the graph ops they fuse), backward and
// optimizer kernels from compiler/kernels/launch-backward.ts. Independent of runtime/exec on
// purpose: it is the second implementation the executor can be compared with, and its
// `straightThrough` hook lets finite differences see the vq_nearest straight-through gradient.
import type { Graph, Op } from '../../compiler/graph/types.js';
import type { KernelPhase, Plan, PlanKernel } from '../../compiler/plan/types.js';
import type { KernelSpec } from '../../compiler/kernels/spec.js';
import type { KernelStep } from '../../compiler/kernels/lora.js';
import { kernelBindings } from '../../compiler/kernels/bindings.js';
import { kernelName } from '../../compiler/kernels/spec.js';
import { kernelSource } from '../../compiler/codegen/library.js';
import { lowerBackwardKernel, type LoweredSteps } from '../../compiler/kernels/launch-backward.js';
import type { Device, DeviceBuffer, Program } from '../../runtime/device/types.js';
import { gelu } from '../../runtime/device/cpu/math.js';
import { Rng } from '../../runtime/util/rng.js';

const numel = (s: number[]): number => s.reduce((a, b) => a * b, 1);

/** Seeded init of every param/buffer from its Init (spec/compiler.md "Initialisers"). */
export function initTensors(graph: Graph, seed: number): Map<string, Float32Array> {
  const out = new Map<string, Float32Array>();
  for (const t of graph.tensors) {
    if ((t.role !== 'param' && t.role !== 'buffer') || !t.init) continue;
    const a = new Float32Array(numel(t.shape));
    const rng = new Rng(seed, 'init', t.name);
    const i = t.init;
    if (i.kind === 'ones') a.fill(1);
    else if (i.kind === 'const') a.fill(i.value);
    else if (i.kind === 'uniform') rng.fillUniform(a, -i.bound, i.bound);
    else if (i.kind === 'normal') rng.fillNormal(a, 0, i.std);
    out.set(t.name, a);
  }
  return out;
}

type Lowered = { host: true } | LoweredSteps;

export class PlanRunner {
  readonly bufs: DeviceBuffer[];
  private readonly scratch = new Map<string, DeviceBuffer>();
  private readonly programs = new Map<string, Program>();
  private readonly lowered = new Map<number, Lowered>();
  private readonly params: DeviceBuffer;
  private readonly views = new Map<number, number>();
  /** When set: vq_nearest outputs x + delta (delta = codebook[idx] - x of a reference run) instead of the code. */
  straightThrough: Float32Array | null = null;

  constructor(readonly plan: Plan, readonly graph: Graph, readonly device: Device) {
    this.bufs = plan.buffers.map((b) => device.alloc(b.bytes));
    this.params = device.alloc(16);
    for (const op of graph.ops) if (op.kind === 'reshape') this.views.set(op.outputs[0]!, this.views.get(op.inputs[0]!) ?? op.inputs[0]!);
    for (const k of plan.kernels) {
      if (k.phase === 'backward' || k.phase === 'optimizer') {
        const l = lowerBackwardKernel(plan, k);
        if ('unsupported' in l) throw new Error(l.unsupported);
        this.lowered.set(k.id, l);
      } else {
        this.lowered.set(k.id, forwardSteps(plan, k) ?? { host: true });
      }
    }
  }

  bufferOf(name: string): number {
    const b = this.plan.buffers.find((x) => x.name === name);
    if (!b) throw new Error(`no plan buffer ${name}`);
    return b.id;
  }
  async write(id: number, data: Float32Array | Int32Array): Promise<void> { await this.device.upload(this.bufs[id]!, data); }
  async read(id: number): Promise<Float32Array> {
    await this.device.synchronize();
    const out = new Float32Array(Math.max(1, numel(this.plan.buffers[id]!.shape)));
    await this.device.download(this.bufs[id]!, out);
    return out;
  }
  async readI32(id: number): Promise<Int32Array> {
    await this.device.synchronize();
    const out = new Int32Array(Math.max(1, numel(this.plan.buffers[id]!.shape)));
    await this.device.download(this.bufs[id]!, out);
    return out;
  }

  /** Weights from `tensors` by graph name; optimizer state and param grads zeroed. */
  async load(tensors: ReadonlyMap<string, Float32Array>): Promise<void> {
    for (const b of this.plan.buffers) {
      if (b.kind === 'weight') {
        const v = tensors.get(b.name);
        if (!v) throw new Error(`no value for weight ${b.name}`);
        await this.write(b.id, v);
      } else if (b.kind === 'optimizer' || b.kind === 'param_grad') {
        await this.write(b.id, new Float32Array(numel(b.shape)));
      }
    }
  }

  /** Called after each kernel with its wall time (exact on the CPU device, whose dispatch is synchronous). */
  onKernel: ((k: PlanKernel, ms: number) => void) | null = null;

  async run(feeds: Record<string, Float32Array | Int32Array>, scalars: { dropoutSeed?: number; adamStep?: number; lr?: number }, phases: KernelPhase[]): Promise<void> {
    for (const [name, data] of Object.entries(feeds)) await this.write(this.plan.inputs[name]!, data);
    const p = new Uint32Array(4);
    p[0] = scalars.dropoutSeed ?? 0; p[1] = scalars.adamStep ?? 1;
    p[2] = new Uint32Array(Float32Array.of(scalars.lr ?? 0).buffer)[0]!;
    await this.device.upload(this.params, p);
    for (const k of this.plan.kernels) {
      if (!phases.includes(k.phase)) continue;
      const l = this.lowered.get(k.id)!;
      const t0 = performance.now();
      if ('host' in l || (k.kind === 'vq_nearest' && this.straightThrough)) await this.host(k);
      else await this.dispatch(l);
      this.onKernel?.(k, performance.now() - t0);
    }
    await this.device.synchronize();
  }

  private async dispatch(l: LoweredSteps): Promise<void> {
    for (const st of l.steps) {
      const prog = await this.program(st);
      const args = st.args.map((a) => {
        if (a === 'params') return this.params;
        const id = l.buffers[a];
        if (id !== undefined) return this.bufs[id]!;
        let s = this.scratch.get(a);
        if (!s) { s = this.device.alloc(l.scratch[a]!.elements * 4); this.scratch.set(a, s); }
        return s;
      });
      this.device.dispatch(prog, args);
    }
  }
  private async program(st: KernelStep): Promise<Program> {
    const key = kernelName(st.spec);
    let p = this.programs.get(key);
    if (!p) { p = (await this.device.compile([kernelSource(st.spec, this.device.target)]))[0]!; this.programs.set(key, p); }
    return p;
  }

  /** Evaluates the kernel's graph ops on the host (glue kinds without a KernelSpec). */
  private async host(k: PlanKernel): Promise<void> {
    const g = this.graph;
    const root = (t: number) => this.views.get(t) ?? t;
    const local = new Map<number, Float32Array>();
    const value = async (t: number): Promise<Float32Array> => {
      const r = root(t);
      const have = local.get(r);
      if (have) return have;
      const b = this.plan.buffers.find((x) => x.tensor === r);
      if (!b) throw new Error(`host ${k.kind}: no buffer for tensor ${g.tensors[r]!.name}`);
      const v = b.dtype === 'i32' ? Float32Array.from(await this.readI32(b.id)) : await this.read(b.id);
      local.set(r, v);
      return v;
    };
    for (const id of k.ops) {
      const op = g.ops[id]!;
      if (op.kind === 'reshape') continue;
      const ins = await Promise.all(op.inputs.map(value));
      local.set(root(op.outputs[0]!), this.hostOp(op, ins));
    }
    for (const o of k.outputs) {
      const t = this.plan.buffers[o]!.tensor;
      const v = t === null ? undefined : local.get(t);
      if (!v) throw new Error(`host ${k.kind}: output ${this.plan.buffers[o]!.name} not computed`);
      await this.write(o, v);
    }
  }

  private hostOp(op: Op, ins: Float32Array[]): Float32Array {
    const shp = (t: number) => this.graph.tensors[t]!.shape;
    const outShape = shp(op.outputs[0]!);
    const out = new Float32Array(numel(outShape));
    const bcast = (fn: (a: number, b: number) => number) => {
      const [sa, sb] = [shp(op.inputs[0]!), shp(op.inputs[1]!)];
      const idx = (s: number[], o: number) => {
        // Offset into an operand of shape s (trailing-aligned, size-1 axes stretch) for flat output index o.
        let off = 0, stride = 1, rem = o;
        const os = outShape;
        const lead = os.length - s.length;
        const coords = new Array<number>(os.length);
        for (let d = os.length - 1; d >= 0; d--) { coords[d] = rem % os[d]!; rem = Math.floor(rem / os[d]!); }
        for (let d = s.length - 1; d >= 0; d--) { off += (s[d] === 1 ? 0 : coords[d + lead]!) * stride; stride *= s[d]!; }
        return off;
      };
      for (let i = 0; i < out.length; i++) out[i] = fn(ins[0]![idx(sa, i)]!, ins[1]![idx(sb, i)]!);
      return out;
    };
    switch (op.kind) {
      case 'add': return bcast((a, b) => a + b);
      case 'mul': return bcast((a, b) => a * b);
      case 'scale': return out.map((_, i) => ins[0]![i]! * op.attrs.factor);
      case 'exp': return out.map((_, i) => Math.exp(ins[0]![i]!));
      case 'gelu': return out.map((_, i) => gelu(ins[0]![i]!));
      case 'leaky_relu': return out.map((_, i) => (ins[0]![i]! >= 0 ? ins[0]![i]! : op.attrs.slope * ins[0]![i]!));
      case 'slice': {
        const s = shp(op.inputs[0]!), { axis, start, end } = op.attrs;
        const inner = numel(s.slice(axis + 1)), len = s[axis]!, w = end - start;
        for (let i = 0; i < out.length; i++) {
          const o = Math.floor(i / (w * inner)), j = Math.floor(i / inner) % w, c = i % inner;
          out[i] = ins[0]![(o * len + j + start) * inner + c]!;
        }
        return out;
      }
      case 'l2norm': {
        const n = outShape.at(-1)!;
        for (let r = 0; r < out.length / n; r++) {
          let q = 0; for (let j = 0; j < n; j++) q += ins[0]![r * n + j]! ** 2;
          const d = Math.max(Math.sqrt(q), op.attrs.eps);
          for (let j = 0; j < n; j++) out[r * n + j] = ins[0]![r * n + j]! / d;
        }
        return out;
      }
      case 'rel_pos_grid': {
        const { h, w } = op.attrs, hw = h * w;
        for (let i = 0; i < hw; i++) for (let j = 0; j < hw; j++) {
          const d = [Math.floor(i / w) - Math.floor(j / w), (i % w) - (j % w)];
          for (let c = 0; c < 2; c++) out[(i * hw + j) * 2 + c] = Math.sign(d[c]!) * Math.log(Math.abs(d[c]!) + 1);
        }
        return out;
      }
      case 'vq_nearest': {
        if (!this.straightThrough) throw new Error('host vq_nearest needs straightThrough');
        return out.map((_, i) => ins[0]![i]! + this.straightThrough![i]!);
      }
      default:
        throw new Error(`host: op ${op.kind} not implemented`);
    }
  }
}

/** A forward plan kernel as one KernelStep, or null for the glue kinds run on the host. Reads
 *  bind the plan kernel's inputs in order (lower.ts orders them like kernelBindings); writes bind
 *  its outputs, then scratch for outputs the plan does not keep (vq idx, loss gradient, frozen lse). */
function forwardSteps(plan: Plan, k: PlanKernel): LoweredSteps | null {
  const s = k.spec as Record<string, unknown>;
  let spec: KernelSpec;
  switch (k.kind) {
    case 'gemm': spec = { ...(s as unknown as KernelSpec & { kind: 'gemm' }), maskB: 0 }; break;
    case 'copy':
      if (s.op !== 'permute') return null;
      spec = { kind: 'permute', inShape: s.inShape as number[], perm: s.perm as number[] };
      break;
    case 'embedding': case 'layer_norm': case 'lora_linear': case 'linear': case 'attention': case 'gelu': case 'add':
    case 'dwconv3d': case 'geglu': case 'l2norm_scale': case 'vq_nearest': case 'mean_pool': case 'pair_mse_loss': case 'pair_ce_loss': case 'clip_loss':
      spec = { ...s, kind: k.kind } as unknown as KernelSpec;
      break;
    default:
      return null;
  }
  const binds = kernelBindings(spec);
  const ins = [...k.inputs], outs = [...k.outputs];
  const out: LoweredSteps = { steps: [], buffers: {}, scratch: {} };
  const args = binds.map((b) => {
    if (b.name === 'params') return 'params';
    const id = b.access === 'read' ? ins.shift() : outs.shift();
    if (id === undefined) {
      if (b.access === 'read') throw new Error(`forward ${k.kind}#${k.id}: missing input for ${b.name}`);
      const name = `k${k.id}.${b.name}`;
      if (b.dtype === 'bf16' || b.dtype === 'f16') throw new Error(`forward ${k.kind}#${k.id}: scratch ${b.name} of a 16-bit binding`);
      out.scratch[name] = { elements: b.size, dtype: b.dtype };
      return name;
    }
    if (numel(plan.buffers[id]!.shape) !== b.size) throw new Error(`forward ${k.kind}#${k.id}: ${plan.buffers[id]!.name} bound to ${b.name}[${b.size}]`);
    out.buffers[`b${id}`] = id;
    return `b${id}`;
  });
  if (ins.length || outs.length) throw new Error(`forward ${k.kind}#${k.id}: ${ins.length} inputs / ${outs.length} outputs left over`);
  out.steps.push({ spec, args });
  return out;
}
