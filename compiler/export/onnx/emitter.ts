// Collects the nodes of one ONNX graph with deterministic names: helper tensors of the op with
// graph id N are called `op<N>/<label>`, constants `const<k>`, so exporting twice gives equal bytes.
import { attr, floatTensor, int64Tensor, type AttrValue, type O } from './proto.js';

export class Emitter {
  readonly nodes: O.INodeProto[] = [];
  private constants = 0;
  private scope = 'graph';
  private scoped = 0;

  constructor(readonly opset: number) {}

  /** Names helper tensors and nodes after the graph op being translated. */
  enter(scope: string): void {
    this.scope = scope;
    this.scoped = 0;
  }

  /** A fresh intermediate tensor name inside the current scope. */
  tmp(label: string): string {
    return `${this.scope}/${label}`;
  }

  node(opType: string, inputs: string[], outputs: string[], attrs: Record<string, AttrValue> = {}): string {
    const attribute = Object.entries(attrs).map(([k, v]) => attr(k, v));
    this.nodes.push({ opType, input: inputs, output: outputs, name: `${this.scope}#${this.scoped++}:${opType}`, attribute });
    return outputs[0]!;
  }

  /** One-output node writing a new intermediate named `<scope>/<label>`. */
  op(opType: string, inputs: string[], label: string, attrs: Record<string, AttrValue> = {}): string {
    return this.node(opType, inputs, [this.tmp(label)], attrs);
  }

  constF32(values: ArrayLike<number>, dims: number[] = []): string {
    const name = `const${this.constants++}`;
    this.nodes.push({ opType: 'Constant', input: [], output: [name], name: `${name}:Constant`, attribute: [attr('value', { t: floatTensor(name, dims, Float32Array.from(values)) })] });
    return name;
  }

  constI64(values: readonly number[], dims: number[] = [values.length]): string {
    const name = `const${this.constants++}`;
    this.nodes.push({ opType: 'Constant', input: [], output: [name], name: `${name}:Constant`, attribute: [attr('value', { t: int64Tensor(name, dims, values) })] });
    return name;
  }

  /** Reduce* over `axes`: an attribute up to opset 17, an input from opset 18. */
  reduce(opType: 'ReduceMean' | 'ReduceL2', x: string, axes: number[], keepdims: boolean, label: string, out?: string): string {
    const o = [out ?? this.tmp(label)], k = { i: keepdims ? 1 : 0 };
    if (this.opset >= 18) return this.node(opType, [x, this.constI64(axes)], o, { keepdims: k });
    return this.node(opType, [x], o, { axes: { ints: axes }, keepdims: k });
  }

  slice(x: string, axis: number, start: number, end: number, label: string): string {
    return this.op('Slice', [x, this.constI64([start]), this.constI64([end]), this.constI64([axis])], label);
  }

  reshape(x: string, shape: number[], label: string, out?: string): string {
    const attrs: Record<string, AttrValue> = shape.includes(0) ? { allowzero: { i: 1 } } : {};
    return this.node('Reshape', [x, this.constI64(shape)], [out ?? this.tmp(label)], attrs);
  }
}
