// One graph op -> ONNX nodes, following spec/compiler.md §1 "Ops" literally. Each translation
// writes its final node to `out` (the op's output tensor name); helpers live in the op's scope.
import type { Graph, Op, OpAttrs, OpKind } from '../../graph/types.js';
import type { Emitter } from './emitter.js';

export class OnnxExportError extends Error {
  override name = 'OnnxExportError';
}

/** F.normalize's denominator floor and the VQ cosine's (runtime/device/cpu/reference.ts). */
const VQ_EPS = 1e-12;
/** The additive key-mask constant of the spec: -FLT_MAX (HF BERT's torch.finfo(float32).min). */
const MASK_FILL = -3.4028234663852886e38;

interface Ctx {
  em: Emitter;
  graph: Graph;
  /** ONNX names of the op's inputs, in graph order. */
  ins: string[];
  out: string;
}

type Translate<K extends OpKind> = (c: Ctx, attrs: OpAttrs[K], op: Op) => void;

const shapeOf = (c: Ctx, op: Op, i: number): number[] => c.graph.tensors[op.inputs[i]!]!.shape;

/** gelu(x) = x·½(1 + erf(x/√2)) (exact; ONNX Gelu only exists from opset 20). */
function gelu(c: Ctx, x: string, out: string, label: string): void {
  const em = c.em;
  const e = em.op('Erf', [em.op('Div', [x, em.constF32([Math.SQRT2])], `${label}_scaled`)], `${label}_erf`);
  const onePlus = em.op('Add', [e, em.constF32([1])], `${label}_1p`);
  em.node('Mul', [em.op('Mul', [x, onePlus], `${label}_x1p`), em.constF32([0.5])], [out]);
}

/** x / max(‖x‖₂, eps) over the last axis. */
function l2norm(c: Ctx, x: string, eps: number, out: string, label: string): string {
  const em = c.em;
  const n = em.reduce('ReduceL2', x, [-1], true, `${label}_norm`);
  const d = em.op('Max', [n, em.constF32([eps])], `${label}_denom`);
  return em.node('Div', [x, d], [out]);
}

const elementwise = (onnxOp: string): Translate<OpKind> => (c) => { c.em.node(onnxOp, c.ins, [c.out]); };

export const TRANSLATIONS: { [K in OpKind]?: Translate<K> } = {
  linear: (c) => {
    const em = c.em;
    const [x, w, b] = c.ins as [string, string, string | undefined];
    const wt = em.op('Transpose', [w], 'weight_t', { perm: { ints: [1, 0] } });
    if (b === undefined) { em.node('MatMul', [x, wt], [c.out]); return; }
    em.node('Add', [em.op('MatMul', [x, wt], 'xw'), b], [c.out]);
  },
  matmul: (c, a) => {
    const em = c.em;
    const [x, y] = c.ins as [string, string];
    em.node('MatMul', [x, a.transB ? em.op('Transpose', [y], 'b_t', { perm: { ints: [1, 0] } }) : y], [c.out]);
  },
  add: elementwise('Add'),
  mul: elementwise('Mul'),
  exp: elementwise('Exp'),
  scale: (c, a) => { c.em.node('Mul', [c.ins[0]!, c.em.constF32([a.factor])], [c.out]); },
  gelu: (c) => gelu(c, c.ins[0]!, c.out, 'gelu'),
  leaky_relu: (c, a) => { c.em.node('LeakyRelu', [c.ins[0]!], [c.out], { alpha: { f: a.slope } }); },
  geglu: (c, _a, op) => {
    // CT-CLIP's GEGLU: (x, gate) = chunk(2, dim=-1); x · gelu(gate).
    const em = c.em;
    const shape = shapeOf(c, op, 0);
    const n = shape.at(-1)! / 2, axis = shape.length - 1;
    const x = em.slice(c.ins[0]!, axis, 0, n, 'x');
    const gate = em.slice(c.ins[0]!, axis, n, 2 * n, 'gate');
    const g = em.tmp('gelu_gate');
    gelu(c, gate, g, 'gelu');
    em.node('Mul', [x, g], [c.out]);
  },
  layer_norm: (c, a) => {
    const em = c.em;
    const [x, gamma, beta] = c.ins as [string, string, string];
    if (em.opset >= 17) {
      em.node('LayerNormalization', [x, gamma, beta], [c.out], { axis: { i: -1 }, epsilon: { f: a.eps } });
      return;
    }
    const mu = em.reduce('ReduceMean', x, [-1], true, 'mean');
    const xc = em.op('Sub', [x, mu], 'centred');
    const v = em.reduce('ReduceMean', em.op('Mul', [xc, xc], 'sq'), [-1], true, 'var');
    const sd = em.op('Sqrt', [em.op('Add', [v, em.constF32([a.eps])], 'var_eps')], 'std');
    em.node('Add', [em.op('Mul', [em.op('Div', [xc, sd], 'normed'), gamma], 'scaled'), beta], [c.out]);
  },
  l2norm: (c, a) => { l2norm(c, c.ins[0]!, a.eps, c.out, 'l2'); },
  attention: (c, a, op) => {
    // Graph layout [B, N, H, Dh]; ONNX MatMul batches over leading axes, so work in [B, H, N, Dh].
    const em = c.em;
    const [q, k, v] = c.ins as [string, string, string];
    let i = 3;
    const bias = a.hasBias ? c.ins[i++]! : null;
    const mask = a.hasMask ? c.ins[i++]! : null;
    const [b, , , ] = shapeOf(c, op, 0) as [number, number, number, number];
    const nk = shapeOf(c, op, 1)[1]!;
    const qh = em.op('Transpose', [q], 'q_bhnd', { perm: { ints: [0, 2, 1, 3] } });
    const kt = em.op('Transpose', [k], 'k_bhdn', { perm: { ints: [0, 2, 3, 1] } });
    const vh = em.op('Transpose', [v], 'v_bhnd', { perm: { ints: [0, 2, 1, 3] } });
    let s = em.op('Mul', [em.op('MatMul', [qh, kt], 'qk'), em.constF32([a.scale])], 'scores');
    if (bias) s = em.op('Add', [s, bias], 'biased'); // [H, Nq, Nk] broadcasts over B
    if (mask) {
      const keep = em.op('Sub', [em.constF32([1]), mask], 'masked_out');
      const add = em.op('Mul', [keep, em.constF32([MASK_FILL])], 'mask_add');
      s = em.op('Add', [s, em.reshape(add, [b, 1, 1, nk], 'mask_b11k')], 'with_mask');
    }
    const p = em.op('Softmax', [s], 'probs', { axis: { i: -1 } });
    const o = em.op('MatMul', [p, vh], 'out_bhnd');
    em.node('Transpose', [o], [c.out], { perm: { ints: [0, 2, 1, 3] } });
  },
  reshape: (c, a) => { c.em.reshape(c.ins[0]!, a.shape, '', c.out); },
  permute: (c, a) => { c.em.node('Transpose', [c.ins[0]!], [c.out], { perm: { ints: a.perm } }); },
  slice: (c, a) => {
    const em = c.em;
    em.node('Slice', [c.ins[0]!, em.constI64([a.start]), em.constI64([a.end]), em.constI64([a.axis])], [c.out]);
  },
  mean: (c, a) => { c.em.reduce('ReduceMean', c.ins[0]!, [a.axis], false, '', c.out); },
  dwconv3d: (c, a, op) => {
    // Channels-last [B, T, H, W, C] -> NCDHW for Conv, and back.
    const em = c.em;
    const [x, w, bias] = c.ins as [string, string, string];
    const ch = shapeOf(c, op, 0).at(-1)!;
    const [t0, t1, h0, h1, w0, w1] = a.pad;
    if (a.pad.some((p) => p < 0)) throw new OnnxExportError(`dwconv3d in module \`${op.module}\`: negative padding [${a.pad.join(', ')}] has no ONNX Conv equivalent`);
    const xn = em.op('Transpose', [x], 'ncdhw', { perm: { ints: [0, 4, 1, 2, 3] } });
    const y = em.op('Conv', [xn, w, bias], 'conv', {
      group: { i: ch }, kernel_shape: { ints: [...a.kernel] }, pads: { ints: [t0, h0, w0, t1, h1, w1] },
      strides: { ints: [1, 1, 1] }, dilations: { ints: [1, 1, 1] },
    });
    em.node('Transpose', [y], [c.out], { perm: { ints: [0, 2, 3, 4, 1] } });
  },
  // ids stay int32: ONNX Gather accepts int32 indices.
  embedding: (c) => { c.em.node('Gather', [c.ins[1]!, c.ins[0]!], [c.out], { axis: { i: 0 } }); },
  rel_pos_grid: (c, a) => {
    // No data inputs: the grid is a function of (h, w) alone, so it is emitted as a Constant
    // computed here from the spec's definition (grid[i] = (i div w, i mod w); sign(d)·ln(|d|+1)).
    const n = a.h * a.w;
    const vals = new Float32Array(n * n * 2);
    const f = (d: number) => Math.sign(d) * Math.log(Math.abs(d) + 1);
    for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) {
      vals[(i * n + j) * 2] = f(Math.floor(i / a.w) - Math.floor(j / a.w));
      vals[(i * n + j) * 2 + 1] = f((i % a.w) - (j % a.w));
    }
    c.em.node('Identity', [c.em.constF32(vals, [n, n, 2])], [c.out]);
  },
  vq_nearest: (c, _a, op) => {
    // k* = argmax_k cos(x, c_k): both sides normalised by max(‖·‖, 1e-12) as the reference does;
    // ArgMax keeps the first maximum (select_last_index = 0), the spec's tie rule.
    const em = c.em;
    const xs = shapeOf(c, op, 0), cbs = shapeOf(c, op, 1);
    const d = xs.at(-1)!, k = cbs.at(-2)!;
    if (cbs.slice(0, -2).some((s) => s !== 1)) {
      throw new OnnxExportError(`vq_nearest in module \`${op.module}\`: codebook [${cbs.join(', ')}] holds several codebooks; only one is supported`);
    }
    const rows = xs.slice(0, -1).reduce((p, q) => p * q, 1);
    const x2 = em.reshape(c.ins[0]!, [rows, d], 'rows');
    const cb = em.reshape(c.ins[1]!, [k, d], 'codebook');
    const xu = l2norm(c, x2, VQ_EPS, em.tmp('x_unit'), 'x');
    const cu = l2norm(c, cb, VQ_EPS, em.tmp('codebook_unit'), 'cb');
    const cos = em.op('MatMul', [xu, em.op('Transpose', [cu], 'codebook_unit_t', { perm: { ints: [1, 0] } })], 'cos');
    const idx = em.op('ArgMax', [cos], 'index', { axis: { i: 1 }, keepdims: { i: 0 }, select_last_index: { i: 0 } });
    const y = em.op('Gather', [cb, idx], 'nearest', { axis: { i: 0 } });
    em.reshape(y, xs, '', c.out);
  },
  dropout: (c) => { c.em.node('Identity', [c.ins[0]!], [c.out]); }, // eval behaviour
  pair_mse_loss: (c, _a, op) => pairLoss(c, op, 'mse'),
  pair_ce_loss: (c, _a, op) => pairLoss(c, op, 'ce'),
  clip_loss: (c, _a, op) => {
    // ½(CE(L, diag) + CE(Lᵀ, diag)): log-softmax over rows and over columns, diagonal picked
    // by an identity mask; ReduceMean over all B² entries, times B, is the mean of the diagonal.
    const em = c.em;
    const b = shapeOf(c, op, 0)[0]!;
    const eye = new Float32Array(b * b);
    for (let i = 0; i < b; i++) eye[i * b + i] = 1;
    const rows = em.op('LogSoftmax', [c.ins[0]!], 'log_softmax_rows', { axis: { i: 1 } });
    const cols = em.op('LogSoftmax', [c.ins[0]!], 'log_softmax_cols', { axis: { i: 0 } });
    const diag = em.op('Mul', [em.op('Add', [rows, cols], 'both'), em.constF32(eye, [b, b])], 'diag');
    em.node('Mul', [em.reduce('ReduceMean', diag, [0, 1], false, 'mean'), em.constF32([-0.5 * b])], [c.out]);
  },
};

/** Pair losses over logits [B, 2P] as P (present, absent) pairs against targets t [B, P]:
 *  MSE of softmax(pair) vs (t, 1-t), or the cross-entropy -Σ (t, 1-t)·log softmax(pair). */
function pairLoss(c: Ctx, op: Op, kind: 'mse' | 'ce'): void {
  const em = c.em;
  const [b, p] = shapeOf(c, op, 1) as [number, number];
  const pairs = em.reshape(c.ins[0]!, [b, p, 2], 'pairs');
  const t = em.reshape(c.ins[1]!, [b, p, 1], 't');
  const target = em.op('Concat', [t, em.op('Sub', [em.constF32([1]), t], 'one_minus_t')], 'target', { axis: { i: 2 } });
  if (kind === 'mse') {
    const d = em.op('Sub', [em.op('Softmax', [pairs], 'probs', { axis: { i: 2 } }), target], 'diff');
    em.reduce('ReduceMean', em.op('Mul', [d, d], 'sq'), [0, 1, 2], false, '', c.out);
    return;
  }
  // Mean over (b, p, entry) of target·log s is half the per-pair sum: scale by -2.
  const ll = em.op('Mul', [target, em.op('LogSoftmax', [pairs], 'log_probs', { axis: { i: 2 } })], 'weighted');
  em.node('Mul', [em.reduce('ReduceMean', ll, [0, 1, 2], false, 'mean'), em.constF32([-2])], [c.out]);
}
