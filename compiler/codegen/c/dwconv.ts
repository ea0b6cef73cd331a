// CPU bodies of the depthwise 3×3×3 convolution (CTViT's PEG: channels last, causal time pad
// (2, 0), h/w pad 1) and its backward. The shared bodies give every output its own thread; the
// weight gradient's threads each walk every position at a stride of c floats, 1,792 of them serially
// at ct_clip_tiny's size. Here 16 channels share a vector: the taps (or, for the weight gradient,
// the positions) are visited in the shared body's order and every lane accumulates its own output
// with the same multiply-adds, so each result has the shared body's bits. The weights are
// transposed once into scratch (tap-major) so a tap's 16 channels are contiguous. Work is split
// statically over positions (forward, input gradient) or (tap, channel block) pairs (weight
// gradient): a result does not depend on the thread count. Activations may be 16-bit: they are
// read and written element by element (the 16-bit rewrite), the weights are always f32.
import type { DwConv3dBackwardSpec, DwConv3dSpec, HalfStorage } from '../../kernels/spec.js';
import type { KernelProgram } from '../kernels/program.js';

type Dims = { batch: number; t: number; h: number; w: number; c: number };

/** 16 channels from c0 of `buf` at element `at` into the f32 vector `dst` (zero past c): one
 *  vector load where the channels fill whole vectors of an f32 buffer. */
const gather = (dst: string, buf: string, at: string, c: number, half: readonly string[]): string =>
  c % 16 === 0 && !half.includes(buf) ? `${dst} = v16_load(${buf} + ${at});` : `{ float g_[16] __attribute__((aligned(64))); for (int l = 0; l < 16; l++) g_[l] = ${c % 16 === 0 ? `${buf}[${at} + l]` : `c0 + l < ${c} ? ${buf}[${at} + l] : 0.0f`}; ${dst} = v16_load(g_); }`;
/** The lanes of `v` to `buf` from element `at` (channels below c only). */
const scatter = (buf: string, at: string, v: string, c: number, half: readonly string[]): string =>
  c % 16 === 0 && !half.includes(buf) ? `v16_store(${buf} + ${at}, ${v});` : `{ float s_[16] __attribute__((aligned(64))); v16_store(s_, ${v}); for (int l = 0; l < ${c % 16 === 0 ? '16' : `16 && c0 + l < ${c}`}; l++) ${buf}[${at} + l] = s_[l]; }`;

function transposedWeights(c: number, CP: number): string[] {
  return [
    `float *restrict wt = (float *)medctc_alloc(sizeof(float) * ${27 * CP});`,
    `memset(wt, 0, sizeof(float) * ${27 * CP});`,
    `for (int ch = 0; ch < ${c}; ch++) for (int tap = 0; tap < 27; tap++) wt[tap * ${CP} + ch] = weight[ch * 27 + tap];`,
  ];
}

const position = (d: Dims): string[] => [
  `  const int wi = (int)(pos % ${d.w}), hi = (int)((pos / ${d.w}) % ${d.h}), ti = (int)((pos / ${d.w * d.h}) % ${d.t}), bi = (int)(pos / ${d.w * d.h * d.t});`,
];
const at = (d: Dims, b: string, tt: string, hh: string, ww: string): string => `(((long)(${b} * ${d.t} + ${tt}) * ${d.h} + ${hh}) * ${d.w} + ${ww}) * ${d.c} + c0`;

/** Per position, 16 channels at a time: the 27 taps in order over `src` (forward: the input at
 *  t-2+dt, h-1+dh, w-1+dw), each a multiply-add with the tap-major weights, into `out`. */
function tapsPerPosition(d: Dims, half: readonly string[], o: { src: string; out: string; bias: boolean; transposed: boolean }): string[] {
  const { t, h, w, c } = d;
  const CP = Math.ceil(c / 16) * 16, P = d.batch * t * h * w;
  // The input gradient runs the taps backwards: dy at t+2-dt, h+1-dh, w+1-dw.
  const [tv, hv, wv] = o.transposed ? ['to', 'ho', 'wo'] : ['tt', 'hh', 'ww'];
  const [pad, tap] = o.transposed ? ['+', '-'] : ['-', '+'];
  const tValid = o.transposed ? `to < ${t}` : 'tt >= 0';
  return [
    ...transposedWeights(c, CP),
    `#pragma omp parallel for num_threads(medctc_threads) schedule(static) if (${P * c} >= 65536)`,
    `for (long pos = 0; pos < ${P}L; pos++) {`,
    ...position(d),
    `  for (int c0 = 0; c0 < ${CP}; c0 += 16) {`,
    '    v16 acc = v16_splat(0.0f);',
    ...(o.bias ? [`    for (int l = 0; l < 16; l++) if (c0 + l < ${c}) acc[l] = bias[c0 + l];`] : []),
    `    for (int dt = 0; dt < 3; dt++) { const int ${tv} = ti ${pad} 2 ${tap} dt;`,
    `      for (int dh = 0; dh < 3; dh++) { const int ${hv} = hi ${pad} 1 ${tap} dh; for (int dw = 0; dw < 3; dw++) { const int ${wv} = wi ${pad} 1 ${tap} dw;`,
    `        if (${tValid} && ${hv} >= 0 && ${hv} < ${h} && ${wv} >= 0 && ${wv} < ${w}) { v16 xv; ${gather('xv', o.src, at(d, 'bi', tv, hv, wv), c, half)} acc += xv * v16_load(wt + (dt * 9 + dh * 3 + dw) * ${CP} + c0); }`,
    '      } }',
    '    }',
    `    ${scatter(o.out, `pos * ${c} + c0`, 'acc', c, half)}`,
    '  }',
    '}',
    'free(wt);',
  ];
}

export function cDwConv3dProgram(s: DwConv3dSpec & { half?: HalfStorage }): KernelProgram {
  const { batch, t, h, w, c } = s;
  const half = s.half?.bindings ?? [];
  const body = tapsPerPosition(s, half, { src: 'x', out: 'y', bias: s.bias, transposed: false });
  return {
    summary: [`depthwise conv3d k=3 on [${batch},${t},${h},${w},${c}] (channels last), causal time pad (2,0), h/w pad 1`,
      'CPU: weights tap-major in scratch; per position 16 channels per vector, taps in order'],
    helpers: [],
    stages: [{ entry: 'dwconv3d', workgroup: [1, 1, 1], grid: [1, 1, 1], shared: [], body, raw: true }],
  };
}

export function cDwConv3dBackwardProgram(s: DwConv3dBackwardSpec & { half?: HalfStorage }): KernelProgram {
  const { batch, t, h, w, c } = s;
  const half = s.half?.bindings ?? [];
  const CP = Math.ceil(c / 16) * 16, P = batch * t * h * w, CB = CP / 16;
  const input = tapsPerPosition(s, half, { src: 'dy', out: 'dx', bias: false, transposed: true });
  // Unit (tap, channel block); tap 27 is dbias. Positions in the shared body's order.
  const weightGrad = [
    `#pragma omp parallel for num_threads(medctc_threads) schedule(static) if (${P * c * 28} >= 65536)`,
    `for (int u = 0; u < ${28 * CB}; u++) {`,
    `  const int tap = u / ${CB}, c0 = (u % ${CB}) * 16, dt = tap / 9, dh = (tap / 3) % 3, dw = tap % 3;`,
    '  v16 acc = v16_splat(0.0f);',
    `  for (int bi = 0; bi < ${batch}; bi++) for (int to = 0; to < ${t}; to++) for (int ho = 0; ho < ${h}; ho++) for (int wo = 0; wo < ${w}; wo++) {`,
    `    v16 g; ${gather('g', 'dy', at(s, 'bi', 'to', 'ho', 'wo'), c, half)}`,
    '    const int tt = to - 2 + dt, hh = ho - 1 + dh, ww = wo - 1 + dw;',
    `    if (tap == 27) acc += g; else if (tt >= 0 && hh >= 0 && hh < ${h} && ww >= 0 && ww < ${w}) { v16 xv; ${gather('xv', 'x', at(s, 'bi', 'tt', 'hh', 'ww'), c, half)} acc += g * xv; }`,
    '  }',
    '  float s_[16] __attribute__((aligned(64))); v16_store(s_, acc);',
    `  for (int l = 0; l < 16 && c0 + l < ${c}; l++) { if (tap == 27) dbias[c0 + l] = s_[l]; else dweight[(c0 + l) * 27 + tap] = s_[l]; }`,
    '}',
  ];
  return {
    summary: [`depthwise conv3d backward on [${batch},${t},${h},${w},${c}]: dx per input element, dweight/dbias per (channel, tap)`,
      'CPU: 16 channels per vector; dx taps in order from tap-major weights, dweight/dbias per (tap, channel block) over the positions in order'],
    helpers: [],
    stages: [
      { entry: 'dwconv3d_backward_input', workgroup: [1, 1, 1], grid: [1, 1, 1], shared: [], body: input, raw: true },
      { entry: 'dwconv3d_backward_weight', workgroup: [1, 1, 1], grid: [1, 1, 1], shared: [], body: weightGrad, raw: true },
    ],
  };
}
