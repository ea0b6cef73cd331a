// resizeTrilinear against an independent implementation: onnxruntime's Resize (mode linear,
// half_pixel coordinates = torch F.interpolate(mode='trilinear', align_corners=False)).
import { describe, expect, it } from 'vitest';
import onnxProto from 'onnx-proto';
import * as ort from 'onnxruntime-node';
import { resizeTrilinear, type Shape3 } from '../../runtime/data/preprocess.js';
import { Rng } from '../../runtime/data/synth/rng.js';

const { onnx } = onnxProto;

function resizeModel(): Uint8Array {
  const T = onnx.TensorProto.DataType;
  const str = (s: string) => new TextEncoder().encode(s);
  const dims = (n: number) => ({ dim: Array.from({ length: n }, (_, i) => ({ dimParam: `d${i}` })) });
  return onnx.ModelProto.encode(onnx.ModelProto.create({
    irVersion: 8,
    opsetImport: [{ domain: '', version: 13 }],
    graph: {
      name: 'trilinear',
      node: [{
        opType: 'Resize', input: ['x', '', '', 'sizes'], output: ['y'],
        attribute: [
          { name: 'mode', type: onnx.AttributeProto.AttributeType.STRING, s: str('linear') },
          { name: 'coordinate_transformation_mode', type: onnx.AttributeProto.AttributeType.STRING, s: str('half_pixel') },
        ],
      }],
      input: [
        { name: 'x', type: { tensorType: { elemType: T.FLOAT, shape: dims(5) } } },
        { name: 'sizes', type: { tensorType: { elemType: T.INT64, shape: { dim: [{ dimValue: 5 }] } } } },
      ],
      output: [{ name: 'y', type: { tensorType: { elemType: T.FLOAT, shape: dims(5) } } }],
    },
  })).finish();
}

describe('trilinear resize vs onnxruntime Resize', () => {
  it('random shapes, up and down on each axis', async () => {
    const session = await ort.InferenceSession.create(resizeModel());
    const rng = new Rng(99, 'resize-oracle');
    for (let c = 0; c < 40; c++) {
      const inShape = [rng.int(1, 7), rng.int(1, 7), rng.int(1, 7)] as Shape3;
      const outShape = [rng.int(1, 9), rng.int(1, 9), rng.int(1, 9)] as Shape3;
      const n = inShape[0] * inShape[1] * inShape[2];
      const src = Float32Array.from({ length: n }, () => Math.round(rng.uniform(-1000, 1000)));
      const ours = resizeTrilinear(src, inShape, outShape);
      const r = await session.run({
        x: new ort.Tensor('float32', src, [1, 1, ...inShape]),
        sizes: new ort.Tensor('int64', BigInt64Array.from([1, 1, ...outShape].map(BigInt)), [5]),
      });
      const theirs = r.y!.data as Float32Array;
      expect(theirs.length, `${inShape} -> ${outShape}`).toBe(ours.length);
      for (let i = 0; i < ours.length; i++) {
        expect(Math.abs(ours[i]! - theirs[i]!), `${inShape} -> ${outShape} at ${i}`).toBeLessThan(2e-3);
      }
    }
  });
});
