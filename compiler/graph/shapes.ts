// Shape inference for every op: the single definition the builder uses to create output
// tensors and `verify` uses to re-check them. Throws GraphError on inconsistent inputs.
import type { DType, OpAttrs, OpKind } from './types.js';

export class GraphError extends Error {
  override name = 'GraphError';
}

const numel = (s: number[]): number => s.reduce((a, b) => a * b, 1);
const same = (a: number[], b: number[]): boolean => a.length === b.length && a.every((x, i) => x === b[i]);
const fmt = (s: number[]): string => `[${s.join(', ')}]`;

function broadcast(a: number[], b: number[], kind: string): number[] {
  const n = Math.max(a.length, b.length);
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const x = a[a.length - n + i] ?? 1, y = b[b.length - n + i] ?? 1;
    if (x !== y && x !== 1 && y !== 1) throw new GraphError(`${kind}: shapes ${fmt(a)} and ${fmt(b)} do not broadcast`);
    out.push(Math.max(x, y));
  }
  return out;
}

function need(cond: boolean, msg: string): void {
  if (!cond) throw new GraphError(msg);
}

/** Output shape and dtype of `kind` applied to inputs of the given shapes. */
export function inferOutput<K extends OpKind>(kind: K, ins: { shape: number[]; dtype: DType }[], attrs: OpAttrs[K]): { shape: number[]; dtype: DType } {
  const s = ins.map((t) => t.shape);
  const f32 = (shape: number[]) => ({ shape, dtype: 'f32' as DType });
  const a = attrs as OpAttrs[OpKind] as Record<string, unknown>;
  switch (kind) {
    case 'linear': {
      const [x, w, b] = s;
      need(ins.length === 2 || ins.length === 3, 'linear takes x, W and optional b');
      need(w!.length === 2 && x!.at(-1) === w![1], `linear: x ${fmt(x!)} does not fit W ${fmt(w!)}`);
      if (b) need(same(b, [w![0]!]), `linear: bias ${fmt(b)} does not fit W ${fmt(w!)}`);
      return f32([...x!.slice(0, -1), w![0]!]);
    }
    case 'matmul': {
      const [x, y] = s as [number[], number[]];
      const transB = (a as OpAttrs['matmul']).transB;
      need(x.length === 2 && y.length === 2, 'matmul takes two matrices');
      const k = transB ? y[1] : y[0], n = transB ? y[0]! : y[1]!;
      need(x[1] === k, `matmul: ${fmt(x)} x ${fmt(y)}${transB ? 'T' : ''} inner sizes differ`);
      return f32([x[0]!, n]);
    }
    case 'add': case 'mul':
      need(ins.length === 2, `${kind} takes two inputs`);
      return f32(broadcast(s[0]!, s[1]!, kind));
    case 'scale': case 'exp': case 'gelu': case 'leaky_relu': case 'dropout':
      need(ins.length === 1, `${kind} takes one input`);
      return f32(s[0]!);
    case 'geglu':
      need(s[0]!.at(-1)! % 2 === 0, 'geglu: last axis must be even');
      return f32([...s[0]!.slice(0, -1), s[0]!.at(-1)! / 2]);
    case 'layer_norm': {
      const n = s[0]!.at(-1)!;
      need(ins.length === 3 && same(s[1]!, [n]) && same(s[2]!, [n]), `layer_norm: gamma/beta must be [${n}]`);
      return f32(s[0]!);
    }
    case 'l2norm':
      return f32(s[0]!);
    case 'attention': {
      const at = a as unknown as OpAttrs['attention'];
      const [q, k, v] = s as [number[], number[], number[]];
      need(q.length === 4 && same(k, v) && q[0] === k[0] && q[2] === k[2] && q[3] === k[3], `attention: q ${fmt(q)}, k ${fmt(k)}, v ${fmt(v)} must be [B, N, H, Dh] alike`);
      let i = 3;
      if (at.hasBias) { need(same(s[i]!, [q[2]!, q[1]!, k[1]!]), `attention: bias ${fmt(s[i]!)} must be [H, Nq, Nk]`); i++; }
      if (at.hasMask) { need(same(s[i]!, [k[0]!, k[1]!]), `attention: key mask ${fmt(s[i]!)} must be [B, Nk]`); i++; }
      need(ins.length === i, 'attention: input count disagrees with hasBias/hasMask');
      return f32(q);
    }
    case 'reshape': {
      const shape = (a as OpAttrs['reshape']).shape;
      need(numel(shape) === numel(s[0]!), `reshape: ${fmt(s[0]!)} cannot become ${fmt(shape)}`);
      return { shape: [...shape], dtype: ins[0]!.dtype };
    }
    case 'permute': {
      const perm = (a as OpAttrs['permute']).perm;
      need(perm.length === s[0]!.length && [...perm].sort((p, q) => p - q).every((p, i) => p === i), `permute: ${fmt(perm)} is not a permutation of rank ${s[0]!.length}`);
      return { shape: perm.map((p) => s[0]![p]!), dtype: ins[0]!.dtype };
    }
    case 'slice': {
      const { axis, start, end } = a as OpAttrs['slice'];
      const x = s[0]!;
      need(axis >= 0 && axis < x.length && start >= 0 && end <= x[axis]! && start < end, `slice: [${start}, ${end}) on axis ${axis} of ${fmt(x)}`);
      return { shape: x.map((d, i) => (i === axis ? end - start : d)), dtype: ins[0]!.dtype };
    }
    case 'mean': {
      const axis = (a as OpAttrs['mean']).axis;
      need(axis >= 0 && axis < s[0]!.length, `mean: axis ${axis} of ${fmt(s[0]!)}`);
      return f32(s[0]!.filter((_, i) => i !== axis));
    }
    case 'dwconv3d': {
      const { kernel, pad } = a as OpAttrs['dwconv3d'];
      const [x, w, b] = s as [number[], number[], number[]];
      const c = x.at(-1)!;
      need(x.length === 5 && same(w, [c, 1, ...kernel]) && same(b, [c]), `dwconv3d: x ${fmt(x)}, w ${fmt(w)}, b ${fmt(b)}`);
      const out = [x[0]!, x[1]! + pad[0] + pad[1] - kernel[0] + 1, x[2]! + pad[2] + pad[3] - kernel[1] + 1, x[3]! + pad[4] + pad[5] - kernel[2] + 1, c];
      return f32(out);
    }
    case 'embedding':
      need(ins[0]!.dtype === 'i32' && s[1]!.length === 2, 'embedding takes i32 ids and a [rows, dim] table');
      return f32([...s[0]!, s[1]![1]!]);
    case 'rel_pos_grid': {
      const { h, w } = a as OpAttrs['rel_pos_grid'];
      need(ins.length === 0, 'rel_pos_grid takes no inputs');
      return f32([h * w, h * w, 2]);
    }
    case 'vq_nearest': {
      const [x, cb] = s as [number[], number[]];
      need(cb.at(-1) === x.at(-1) && cb.length >= 2, `vq_nearest: codebook ${fmt(cb)} does not fit ${fmt(x)}`);
      return f32(x);
    }
    case 'pair_mse_loss': case 'pair_ce_loss': {
      const [logits, target] = s as [number[], number[]];
      need(logits.length === 2 && same(target, [logits[0]!, logits[1]! / 2]), `${kind}: logits ${fmt(logits)} and targets ${fmt(target)} (want [B, 2P] and [B, P])`);
      return f32([]);
    }
    case 'clip_loss':
      need(s[0]!.length === 2 && s[0]![0] === s[0]![1], `clip_loss: logits ${fmt(s[0]!)} must be square`);
      return f32([]);
  }
  throw new GraphError(`unknown op kind ${String(kind)}`);
}
