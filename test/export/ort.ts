// onnxruntime-node as a test oracle: run an ONNX model (bytes from compiler/export/onnx) on
// named feeds and return every graph output as a Float32Array. Graph optimisations are off by
// default so ORT executes exactly the exported nodes (no fused Gelu/LayerNorm/Attention kernels).
//
//   const bytes = exportOnnx(graph, weights);                   // compiler/export/onnx
//   const out = await runOnnx(bytes, { volume, input_ids, attention_mask });
//   out.logits, out.image_latent, out.text_latent                  // Float32Array each
//
// A feed is a typed array (its dims are read from the model's declared input shape) or
// { data, dims }. Int32Array feeds go to INT32 inputs (token ids); Float32Array to FLOAT ones.
import ort from 'onnxruntime-node';
import { onnx } from '../../compiler/export/onnx/proto.js';

export type Feed = Float32Array | Int32Array | { data: Float32Array | Int32Array; dims: number[] };

export interface RunOnnxOptions {
  optimize?: boolean;
  threads?: number;
}

export interface OnnxRun {
  outputs: Record<string, Float32Array>;
  dims: Record<string, number[]>;
}

function declaredInputs(bytes: Uint8Array): Map<string, { dims: number[]; elemType: number }> {
  const m = onnx.ModelProto.decode(bytes);
  return new Map((m.graph?.input ?? []).map((vi) => {
    if (!vi.name) throw new Error('runOnnx: the model declares an input without a name');
    return [vi.name, {
      dims: (vi.type?.tensorType?.shape?.dim ?? []).map((d) => Number(d.dimValue)),
      elemType: vi.type?.tensorType?.elemType ?? 0,
    }];
  }));
}

/** Runs the model; outputs (and their dims) by graph output name. Non-f32 outputs are converted. */
export async function runOnnxWithDims(bytes: Uint8Array, feeds: Record<string, Feed>, opts: RunOnnxOptions = {}): Promise<OnnxRun> {
  const declared = declaredInputs(bytes);
  const session = await ort.InferenceSession.create(bytes, {
    graphOptimizationLevel: opts.optimize ? 'all' : 'disabled',
    intraOpNumThreads: opts.threads ?? 2,
    executionMode: 'sequential',
  });
  try {
    const ortFeeds: Record<string, ort.Tensor> = {};
    for (const name of session.inputNames) {
      const f = feeds[name];
      if (f === undefined) throw new Error(`runOnnx: no feed for model input \`${name}\``);
      const data = f instanceof Float32Array || f instanceof Int32Array ? f : f.data;
      const dims = f instanceof Float32Array || f instanceof Int32Array ? declared.get(name)!.dims : f.dims;
      ortFeeds[name] = new ort.Tensor(data instanceof Int32Array ? 'int32' : 'float32', data, dims);
    }
    const res = await session.run(ortFeeds);
    const outputs: Record<string, Float32Array> = {}, dims: Record<string, number[]> = {};
    for (const name of session.outputNames) {
      const t = res[name]!;
      outputs[name] = t.data instanceof Float32Array ? t.data : Float32Array.from(t.data as ArrayLike<number>);
      dims[name] = [...t.dims];
    }
    return { outputs, dims };
  } finally {
    await session.release();
  }
}

/** Runs the model; every graph output as a Float32Array, by name. */
export async function runOnnx(bytes: Uint8Array, feeds: Record<string, Feed>, opts: RunOnnxOptions = {}): Promise<Record<string, Float32Array>> {
  return (await runOnnxWithDims(bytes, feeds, opts)).outputs;
}
