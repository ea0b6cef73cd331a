// Imperative construction of a Graph, as a model's forward would run: register modules and
// their tensors in state-dict order, then emit ops whose output shapes come from shapes.ts.
import { inferOutput } from './shapes.js';
import { GRAPH_IR_VERSION, type DType, type Graph, type Init, type Module, type ModuleKind, type Op, type OpAttrs, type OpKind, type Tensor } from './types.js';

export class GraphBuilder {
  readonly tensors: Tensor[] = [];
  readonly ops: Op[] = [];
  readonly modules: Module[] = [];
  private readonly moduleIndex = new Map<string, Module>();
  private readonly inputs: number[] = [];
  private readonly outputs: { name: string; tensor: number }[] = [];

  constructor(readonly architecture: string) {}

  module(path: string, kind: ModuleKind, opts: { inFeatures?: number; outFeatures?: number; bias?: boolean; used?: boolean } = {}): string {
    if (this.moduleIndex.has(path)) throw new Error(`graph builder: module ${path} registered twice`);
    const m: Module = { path, kind, tensors: [], used: opts.used ?? true };
    if (opts.inFeatures !== undefined) m.inFeatures = opts.inFeatures;
    if (opts.outFeatures !== undefined) m.outFeatures = opts.outFeatures;
    if (opts.bias !== undefined) m.bias = opts.bias;
    this.modules.push(m);
    this.moduleIndex.set(path, m);
    return path;
  }

  /** A param (or buffer) owned by `module`, named `<module>.<local>` as in the state dict. */
  param(module: string, local: string, shape: number[], init: Init, role: 'param' | 'buffer' = 'param'): number {
    const owner = this.moduleIndex.get(module);
    if (!owner) throw new Error(`graph builder: unknown module ${module}`);
    const name = module ? `${module}.${local}` : local;
    owner.tensors.push(name);
    const t: Tensor = { id: this.tensors.length, name, shape, dtype: 'f32', role, init };
    if (role === 'param') t.trainable = false;
    this.tensors.push(t);
    return t.id;
  }

  input(name: string, shape: number[], dtype: DType): number {
    const id = this.tensors.length;
    this.tensors.push({ id, name, shape, dtype, role: 'input' });
    this.inputs.push(id);
    return id;
  }

  op<K extends OpKind>(kind: K, inputs: number[], attrs: OpAttrs[K], module: string, label: string): number {
    const ins = inputs.map((i) => this.tensors[i]!);
    const out = inferOutput(kind, ins, attrs);
    const id = this.tensors.length;
    this.tensors.push({ id, name: `${module}:${label}`, shape: out.shape, dtype: out.dtype, role: 'activation' });
    this.ops.push({ id: this.ops.length, kind, inputs, outputs: [id], attrs, module } as Op);
    return id;
  }

  shape(t: number): number[] {
    return this.tensors[t]!.shape;
  }

  output(name: string, tensor: number): void {
    this.outputs.push({ name, tensor });
  }

  finish(): Graph {
    return {
      irVersion: GRAPH_IR_VERSION, architecture: this.architecture, tensors: this.tensors, ops: this.ops,
      modules: this.modules, inputs: this.inputs, outputs: this.outputs, lora: null,
    };
  }
}
