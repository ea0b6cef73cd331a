// Per-kernel parameters (the KernelSpec a backend's kernel is generated from) and FLOP counts.
import type { KernelGroup } from '../passes/fuse.js';
import type { Graph, Op } from '../graph/types.js';
import type { CopyPlanSpec, ElementwiseChainSpec, ForwardPlanSpec } from './types.js';

const numel = (s: number[]): number => s.reduce((a, b) => a * b, 1);
const ELEMENTWISE_FLOPS: Record<string, number> = { add: 1, mul: 1, scale: 1, exp: 4, gelu: 8, leaky_relu: 1, dropout: 2 };

export function groupSpec(graph: Graph, g: KernelGroup, merged: boolean): { spec: ForwardPlanSpec; flops: number } {
  const ops = g.ops.map((i) => graph.ops[i]!);
  const first = ops.find((o) => o.kind !== 'reshape')!;
  const shape = (t: number) => graph.tensors[t]!.shape;
  const outN = numel(shape(ops.at(-1)!.outputs[0]!));
  const epiFlops = g.epilogue.reduce((a, e) => a + (ELEMENTWISE_FLOPS[e] ?? 1) * outN, 0);
  switch (g.kind) {
    case 'linear': case 'lora_linear': {
      const base = ops.find((o) => o.kind === 'linear')!;
      const [n, k] = shape(base.inputs[1]!) as [number, number];
      const m = numel(shape(base.inputs[0]!)) / k;
      const bias = base.inputs.length === 3;
      const flops = 2 * m * k * n + (bias ? m * n : 0) + epiFlops;
      const activation = g.epilogue.includes('gelu') ? 'gelu' : 'none';
      const residual = g.epilogue.includes('add');
      if (g.kind === 'linear' || merged) {
        // Merged (eval): the kernel's weight input is the lora_merge output; the spec is a plain linear.
        return { spec: { kind: 'linear', m, k, n, bias, activation, residual }, flops };
      }
      const ad = graph.lora!.adapters.find((a) => a.module === base.module)!;
      const drop = ops.find((o) => o.kind === 'dropout');
      const r = ad.rank;
      return {
        // The dropout op's stream keys this adapter's mask (one per adapter, like PEFT's per-module dropout).
        spec: { kind: 'lora_linear', m, k, n, r, scaling: ad.scaling, dropout: drop?.kind === 'dropout' ? drop.attrs.p : 0, stream: drop?.kind === 'dropout' ? drop.attrs.stream : 0, bias, activation, residual },
        flops: flops + 2 * m * k * r + 2 * m * r * n + 2 * m * n,
      };
    }
    case 'attention': {
      const att = ops.find((o): o is Extract<Op, { kind: 'attention' }> => o.kind === 'attention')!;
      const [b, nq, h, dh] = shape(att.inputs[0]!) as [number, number, number, number];
      const nk = shape(att.inputs[1]!)[1]!;
      return {
        spec: { kind: 'attention', batch: b, heads: h, nq, nk, dh, scale: att.attrs.scale, bias: att.attrs.hasBias, mask: att.attrs.hasMask },
        flops: 4 * b * h * nq * nk * dh + 5 * b * h * nq * nk,
      };
    }
    case 'gemm': {
      const mm = first as Extract<Op, { kind: 'matmul' }>;
      const [m, k] = shape(mm.inputs[0]!) as [number, number];
      const n = shape(mm.outputs[0]!)[1]!;
      return { spec: { kind: 'gemm', m, k, n, transA: false, transB: mm.attrs.transB, alpha: 1, bias: false, activation: 'none', residual: false, maskB: 0 }, flops: 2 * m * k * n };
    }
    case 'layer_norm': {
      const x = shape(first.inputs[0]!);
      const eps = first.kind === 'layer_norm' ? first.attrs.eps : 0;
      return { spec: { kind: 'layer_norm', rows: numel(x) / x.at(-1)!, n: x.at(-1)!, eps, bias: true }, flops: 8 * numel(x) };
    }
    case 'l2norm': case 'l2norm_scale': {
      const x = shape(first.inputs[0]!);
      const eps = first.kind === 'l2norm' ? first.attrs.eps : 0;
      return { spec: { kind: g.kind, rows: numel(x) / x.at(-1)!, n: x.at(-1)!, eps }, flops: (g.kind === 'l2norm' ? 3 : 4) * numel(x) };
    }
    case 'geglu': {
      const x = shape(first.inputs[0]!);
      return { spec: { kind: 'geglu', rows: numel(x) / x.at(-1)!, n: x.at(-1)! / 2 }, flops: 10 * numel(x) / 2 };
    }
    case 'elementwise': {
      // Single same-shape add / gelu have their own KernelSpecs; other chains stay generic.
      const sameShape = first.inputs.every((i) => numel(shape(i)) === outN);
      if (g.epilogue.join() === 'add' && sameShape) return { spec: { kind: 'add', numel: outN }, flops: epiFlops };
      if (g.epilogue.join() === 'gelu') return { spec: { kind: 'gelu', numel: outN }, flops: epiFlops };
      // The ops' scalar attributes travel with the chain (a kernel, forward or backward, needs them).
      const spec: ElementwiseChainSpec = { kind: 'elementwise', numel: outN, ops: [...g.epilogue], slope: 0, factor: 1 };
      for (const o of ops) {
        if (o.kind === 'leaky_relu') spec.slope = o.attrs.slope;
        if (o.kind === 'scale') spec.factor = o.attrs.factor;
      }
      return { spec, flops: epiFlops };
    }
    case 'mean_pool': {
      const x = shape(first.inputs[0]!);
      const axis = first.kind === 'mean' ? first.attrs.axis : 0;
      return { spec: { kind: 'mean_pool', outer: numel(x.slice(0, axis)), axisLen: x[axis]!, inner: numel(x.slice(axis + 1)) }, flops: numel(x) };
    }
    case 'dwconv3d': {
      const x = shape(first.inputs[0]!) as [number, number, number, number, number];
      // DwConv3dSpec fixes PEG's padding (causal 2/0 in t, 1/1 in h and w), the only one CT-CLIP uses.
      const pad = first.kind === 'dwconv3d' ? first.attrs.pad.join() : '';
      if (pad !== '2,0,1,1,1,1') throw new Error(`plan: dwconv3d padding ${pad} has no kernel`);
      return { spec: { kind: 'dwconv3d', batch: x[0], t: x[1], h: x[2], w: x[3], c: x[4], bias: true }, flops: 2 * 27 * numel(x) };
    }
    case 'embedding': {
      const [rows, dim] = shape(first.inputs[1]!) as [number, number];
      return { spec: { kind: 'embedding', tokens: numel(shape(first.inputs[0]!)), dim, vocab: rows }, flops: 0 };
    }
    case 'copy': {
      const x = shape(first.inputs[0]!);
      let spec: CopyPlanSpec;
      if (first.kind === 'permute') spec = { kind: 'copy', op: 'permute', inShape: x, perm: [...first.attrs.perm] };
      else if (first.kind === 'slice') spec = { kind: 'copy', op: 'slice', inShape: x, axis: first.attrs.axis, start: first.attrs.start, end: first.attrs.end };
      else throw new Error(`plan: copy group of ${first.kind}`);
      return { spec, flops: 0 };
    }
    case 'vq_nearest': {
      const x = shape(first.inputs[0]!);
      const cb = shape(first.inputs[1]!);
      const rows = numel(x) / x.at(-1)!;
      return { spec: { kind: 'vq_nearest', rows, dim: x.at(-1)!, codebook: cb.at(-2)! }, flops: 2 * rows * cb.at(-2)! * x.at(-1)! + 3 * numel(x) };
    }
    case 'rel_pos_grid': {
      const a = first.kind === 'rel_pos_grid' ? first.attrs : { h: 0, w: 0 };
      return { spec: { kind: 'rel_pos_grid', h: a.h, w: a.w }, flops: 4 * outN };
    }
    case 'pair_mse_loss': case 'pair_ce_loss': case 'clip_loss': {
      // Pair losses read logits [B, 2P] as [B·P, 2] rows (present, absent) with targets [B·P].
      const [b, t] = shape(first.inputs[0]!) as [number, number];
      return { spec: { kind: g.kind, batch: g.kind === 'clip_loss' ? b : b * (t / 2) }, flops: 10 * b * t };
    }
  }
  throw new Error(`plan: no spec for kernel kind ${g.kind}`);
}
