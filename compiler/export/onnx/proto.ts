// Thin constructors over the onnx-proto (protobufjs 6) message types, so the op translations
// read as ONNX graphs rather than protobuf plumbing. Every tensor payload goes into raw_data
// (little-endian, what the ONNX spec mandates), which keeps encoding deterministic.
import onnxProto from 'onnx-proto';
import type { onnx as O } from 'onnx-proto';

export const onnx = onnxProto.onnx;
export type { O };

/** TensorProto.DataType values used here. */
export const DT = { FLOAT: 1, INT32: 6, INT64: 7 } as const;
export type ElemType = (typeof DT)[keyof typeof DT];

const AT = onnx.AttributeProto.AttributeType;

export type AttrValue =
  | { f: number }
  | { i: number }
  | { floats: number[] }
  | { ints: number[] }
  | { t: O.ITensorProto };

export function attr(name: string, v: AttrValue): O.IAttributeProto {
  if ('f' in v) return { name, type: AT.FLOAT, f: v.f };
  if ('i' in v) return { name, type: AT.INT, i: v.i };
  if ('floats' in v) return { name, type: AT.FLOATS, floats: v.floats };
  if ('ints' in v) return { name, type: AT.INTS, ints: v.ints };
  return { name, type: AT.TENSOR, t: v.t };
}

function bytesOf(view: Float32Array | Int32Array | BigInt64Array): Uint8Array {
  // Copy: the caller's array may be a view into a larger buffer, and the model must not alias it.
  return new Uint8Array(view.buffer.slice(view.byteOffset, view.byteOffset + view.byteLength));
}

export function floatTensor(name: string, dims: readonly number[], data: Float32Array): O.ITensorProto {
  return { name, dims: [...dims], dataType: DT.FLOAT, rawData: bytesOf(data) };
}

export function int64Tensor(name: string, dims: readonly number[], data: readonly number[]): O.ITensorProto {
  return { name, dims: [...dims], dataType: DT.INT64, rawData: bytesOf(BigInt64Array.from(data, (x) => BigInt(x))) };
}

export function valueInfo(name: string, elemType: ElemType, dims: readonly number[]): O.IValueInfoProto {
  return { name, type: { tensorType: { elemType, shape: { dim: dims.map((d) => ({ dimValue: d })) } } } };
}
