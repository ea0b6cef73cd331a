// Parameter and cost accounting: what `medctc build` prints and writes as report.md / JSON.
// Totals count parameters (PyTorch's model.parameters()) including LoRA tensors; buffers (VQ
// codebook, CTViT LayerNorm betas) are listed apart, as PyTorch does.
import type { Graph, Tensor } from '../graph/types.js';
import type { Plan } from '../plan/types.js';
import type { ResolvedExperiment } from '../ir/experiment.js';

const numel = (t: Tensor): number => t.shape.reduce((a, b) => a * b, 1);

export interface GroupCount { group: string; total: number; trainable: number }

export interface BuildReport {
  experiment: string;
  architecture: string;
  parameters: {
    total: number;
    trainable: number;
    trainableFraction: number;
    base: number;
    lora: number;
    buffers: number;
    groups: GroupCount[];
    adapters: number;
    /** One row per LoRA target: what it adapted and what that costs. */
    loraTargets: { target: number; encoder: string; pattern: string; rank: number; alpha: number; scaling: number; modules: number; parameters: number }[];
  };
  memory: {
    /** Storage of frozen weights and activations (train.precision; fp32 without a train block). */
    precision: 'fp32' | 'bf16' | 'fp16';
    /** Bytes of every parameter and buffer as the plans store them (what loading the weights
     *  takes): 2 a value for 16-bit weights (compiler/plan/storage.ts), else 4. */
    weightsBytes: number;
    /** The same weights all in fp32 (equal to weightsBytes under precision fp32). */
    weightsFp32Bytes: number;
    gradientBytes: number;
    /** AdamW: two fp32 moments per trainable parameter that receives a gradient. */
    optimizerBytes: number;
    activations: {
      eval: { peakBytes: number; naiveBytes: number; lowerBoundBytes: number };
      train: { peakBytes: number; naiveBytes: number; lowerBoundBytes: number } | null;
    };
    /** `train.accumulate` > 1: the train plan (its activations above) is the micro-batch's; the
     *  micro-batches' gradients are summed in host memory (one f32 per gradient element). */
    accumulation?: { microBatches: number; microBatch: number; stepBatch: number; hostGradientBytes: number };
  };
  flops: {
    /** Eval forward FLOPs per volume: the kernels that depend on the volume (PlanKernel.invariant false). */
    evalPerSample: number;
    /** Eval forward FLOPs of the invariant kernels (text tower over the prompt batch, weight-only
     *  image parts): once per evaluation, again only when weights or prompts change. */
    evalInvariant: number;
    /** Forward + backward + optimizer FLOPs of one train step, divided by the batch size. */
    trainPerSample: number | null;
  };
  /** eval: every kernel of the eval plan (prepare + forward); evalInvariant: how many of them are invariant. */
  kernels: { eval: number; evalInvariant: number; train: number | null };
  /** Volumes and texts per plan step: what the per-volume FLOPs are divided by and amortised over. */
  batch: { eval: { images: number; texts: number }; train: { images: number; texts: number } | null };
}

/** Which report row a tensor belongs to. */
export function paramGroup(t: Tensor): string {
  if (t.lora) return 'LoRA adapters';
  if (t.name.startsWith('text_transformer.')) return 'text encoder (BERT)';
  if (t.name.startsWith('visual_transformer.')) return 'image encoder (CTViT)';
  return 'CLIP heads';
}

/** Every parameter and buffer at the storage the eval plan gives it (unread ones at 4 bytes). */
function weightBytes(graph: Graph, evalPlan: Plan): number {
  const stored = new Map(evalPlan.model.weights.map((w) => [w.name, w.buffer === null ? 'f32' : evalPlan.buffers[w.buffer]!.dtype]));
  return graph.tensors.filter((t) => t.role === 'param' || t.role === 'buffer')
    .reduce((a, t) => a + numel(t) * (stored.get(t.name) === 'bf16' || stored.get(t.name) === 'f16' ? 2 : 4), 0);
}

const sumKind = (p: Plan, kind: string): number => p.buffers.filter((b) => b.kind === kind).reduce((a, b) => a + b.bytes, 0);

const GROUP_ORDER = ['text encoder (BERT)', 'image encoder (CTViT)', 'CLIP heads', 'LoRA adapters'];

export function buildReport(graph: Graph, evalPlan: Plan, trainPlan: Plan | null, exp: ResolvedExperiment): BuildReport {
  const experiment = exp.name;
  const params = graph.tensors.filter((t) => t.role === 'param');
  const buffers = graph.tensors.filter((t) => t.role === 'buffer');
  const total = params.reduce((a, t) => a + numel(t), 0);
  const trainable = params.filter((t) => t.trainable).reduce((a, t) => a + numel(t), 0);
  const lora = params.filter((t) => t.lora).reduce((a, t) => a + numel(t), 0);
  const groups = new Map<string, GroupCount>(GROUP_ORDER.map((g) => [g, { group: g, total: 0, trainable: 0 }]));
  for (const t of params) {
    const g = groups.get(paramGroup(t))!;
    g.total += numel(t);
    if (t.trainable) g.trainable += numel(t);
  }
  const bufferCount = buffers.reduce((a, t) => a + numel(t), 0);
  const mem = (p: Plan) => ({ peakBytes: p.memory.workPeakBytes, naiveBytes: p.memory.workNaiveBytes, lowerBoundBytes: p.memory.workLowerBoundBytes });
  const fwdFlops = (p: Plan, invariant: boolean) => p.kernels.filter((k) => k.phase === 'forward' && k.invariant === invariant).reduce((a, k) => a + k.flops, 0);
  return {
    experiment,
    architecture: graph.architecture,
    parameters: {
      total, trainable, trainableFraction: total ? trainable / total : 0, base: total - lora, lora, buffers: bufferCount,
      groups: [...groups.values()].filter((g) => g.total > 0), adapters: graph.lora?.adapters.length ?? 0,
      loraTargets: (exp.lora?.targets ?? []).map((t, i) => {
        const ads = graph.lora?.adapters.filter((a) => a.target === i) ?? [];
        return {
          target: i, encoder: t.encoder, pattern: t.pattern, rank: t.rank, alpha: t.alpha, scaling: ads[0]?.scaling ?? 0,
          modules: ads.length, parameters: ads.reduce((a, x) => a + x.rank * (x.inFeatures + x.outFeatures), 0),
        };
      }),
    },
    memory: {
      precision: exp.train?.precision ?? 'fp32',
      weightsBytes: weightBytes(graph, evalPlan),
      weightsFp32Bytes: (total + bufferCount) * 4,
      // From the train plan when there is one: params no op reads (decoder heads, `_extra`) get no
      // gradient and no AdamW state, as in PyTorch (grad stays None).
      gradientBytes: trainPlan ? sumKind(trainPlan, 'param_grad') : trainable * 4,
      optimizerBytes: trainPlan ? sumKind(trainPlan, 'optimizer') : 2 * trainable * 4,
      activations: { eval: mem(evalPlan), train: trainPlan ? mem(trainPlan) : null },
      ...(trainPlan && (exp.train?.accumulate ?? 1) > 1 ? {
        accumulation: {
          microBatches: exp.train!.accumulate!, microBatch: exp.train!.batchSize, stepBatch: exp.train!.accumulate! * exp.train!.batchSize,
          hostGradientBytes: sumKind(trainPlan, 'param_grad'),
        },
      } : {}),
    },
    flops: {
      evalPerSample: fwdFlops(evalPlan, false) / Math.max(1, evalPlan.batch.images),
      evalInvariant: fwdFlops(evalPlan, true),
      trainPerSample: trainPlan ? trainPlan.kernels.reduce((a, k) => a + k.flops, 0) / Math.max(1, trainPlan.batch.images) : null,
    },
    kernels: { eval: evalPlan.kernels.length, evalInvariant: evalPlan.kernels.filter((k) => k.invariant).length, train: trainPlan?.kernels.length ?? null },
    batch: { eval: { ...evalPlan.batch }, train: trainPlan ? { ...trainPlan.batch } : null },
  };
}
