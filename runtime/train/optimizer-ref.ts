// Reference AdamW and gradient clipping on Float32Arrays: the living definition the device
// optimizers (WGSL/CUDA kernels) are tested against. PyTorch semantics (torch.optim.AdamW with
// amsgrad=False, maximize=False; torch.nn.utils.clip_grad_norm_), each tensor op rounded to float32
// (Math.fround) in the order PyTorch's single-tensor implementation performs it, so results agree
// with a PyTorch float32 run to the last bit or two rather than drifting over many steps.
import { DiagnosticError, fileDiagnostic } from '../../base/diagnostics/types.js';

export interface AdamWConfig {
  lr: number;
  beta1: number;
  beta2: number;
  eps: number;
  weightDecay: number;
}

export interface AdamWState {
  /** Steps taken so far (PyTorch's `state['step']`). */
  step: number;
  /** First moment (`exp_avg`). */
  m: Float32Array;
  /** Second moment (`exp_avg_sq`). */
  v: Float32Array;
}

export function newAdamWState(size: number): AdamWState {
  return { step: 0, m: new Float32Array(size), v: new Float32Array(size) };
}

const f = Math.fround;

/**
 * One AdamW update of `param` in place, PyTorch order:
 *   t += 1;  p *= 1 - lr*wd  (decoupled decay, before the moment update);
 *   m = lerp(m, g, 1 - b1);  v = v*b2 + (1 - b2)*g*g;
 *   p -= (lr / (1 - b1^t)) * m / (sqrt(v) / sqrt(1 - b2^t) + eps).
 * `lr` may differ from cfg.lr (the scheduled rate for this step).
 */
export function adamwStep(param: Float32Array, grad: Float32Array, state: AdamWState, cfg: AdamWConfig, lr = cfg.lr): void {
  if (grad.length !== param.length || state.m.length !== param.length) throw new Error(`adamwStep: sizes ${param.length}/${grad.length}/${state.m.length}`);
  state.step += 1;
  const t = state.step;
  const decay = f(1 - lr * cfg.weightDecay);
  const bc1 = 1 - cfg.beta1 ** t;
  const bc2Sqrt = Math.sqrt(1 - cfg.beta2 ** t);
  const stepSize = lr / bc1;
  const w1 = f(1 - cfg.beta1), b2 = f(cfg.beta2), w2 = f(1 - cfg.beta2), eps = f(cfg.eps);
  const { m, v } = state;
  for (let i = 0; i < param.length; i++) {
    const g = grad[i]!;
    const p = f(param[i]! * decay);
    // torch.lerp(start, end, w): start + w*(end - start) for w < 0.5, else end - (end - start)*(1 - w).
    const mi = w1 < 0.5 ? f(m[i]! + f(w1 * f(g - m[i]!))) : f(g - f(f(g - m[i]!) * f(1 - w1)));
    const vi = f(f(v[i]! * b2) + f(w2 * f(g * g)));
    const denom = f(f(f(Math.sqrt(vi)) / bc2Sqrt) + eps);
    m[i] = mi;
    v[i] = vi;
    param[i] = f(p - f(stepSize * f(mi / denom)));
  }
}

export interface NamedParam {
  name: string;
  value: Float32Array;
  grad: Float32Array;
  /** Overrides the config's weight decay for this tensor (e.g. 0 for biases and norms). */
  weightDecay?: number;
}

/** AdamW over named tensors, with per-tensor state created on first use. */
export class AdamW {
  readonly state = new Map<string, AdamWState>();
  constructor(readonly config: AdamWConfig) {}

  step(params: readonly NamedParam[], lr = this.config.lr): void {
    for (const p of params) {
      let s = this.state.get(p.name);
      if (!s) this.state.set(p.name, (s = newAdamWState(p.value.length)));
      const cfg = p.weightDecay === undefined ? this.config : { ...this.config, weightDecay: p.weightDecay };
      adamwStep(p.value, p.grad, s, cfg, lr);
    }
  }
}

/**
 * torch.nn.utils.clip_grad_norm_(grads, maxNorm) with norm_type 2: total = ||all grads||_2;
 * every gradient is scaled in place by min(1, maxNorm / (total + 1e-6)). Returns the total norm
 * before clipping. A non-finite total leaves the gradients unscaled and, when `errorIfNonfinite`,
 * throws E5561 (PyTorch would scale by NaN and poison every weight). The norm is accumulated in
 * float64, which only ever makes it more accurate than PyTorch's float32 sum.
 */
export function clipGradNorm(grads: readonly Float32Array[], maxNorm: number, opts: { errorIfNonfinite?: boolean; source?: string } = {}): number {
  let sq = 0;
  for (const g of grads) for (let i = 0; i < g.length; i++) sq += g[i]! * g[i]!;
  const total = Math.sqrt(sq);
  if (!Number.isFinite(total)) {
    if (opts.errorIfNonfinite) {
      throw new DiagnosticError(fileDiagnostic('E5561', `the total gradient norm is ${total}; training diverged or the loss overflowed`, opts.source ?? '<training>',
        { help: 'lower the learning rate, use fp32 or bf16 instead of fp16, or set train.grad_clip' }));
    }
    return total;
  }
  const coef = Math.min(1, maxNorm / (total + 1e-6));
  if (coef < 1) {
    const c = f(coef);
    for (const g of grads) for (let i = 0; i < g.length; i++) g[i] = f(g[i]! * c);
  }
  return total;
}
