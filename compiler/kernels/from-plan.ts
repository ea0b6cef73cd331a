// Maps the plan's per-kernel parameters (compiler/plan/specs.ts) to KernelSpecs the code
// generators and the CPU reference run. A plan kernel the backends cannot run yet comes back as
// `unsupported` with the reason, so the executor can report it instead of guessing.
import type { KernelSpec, Activation } from './spec.js';

type PlanSpec = { kind: string; [param: string]: unknown };
export type FromPlan = { specs: KernelSpec[] } | { unsupported: string };

const num = (s: PlanSpec, k: string): number => {
  const v = s[k];
  if (typeof v !== 'number') throw new Error(`plan kernel ${s.kind}: parameter ${k} is ${JSON.stringify(v)}, not a number`);
  return v;
};

/** Epilogue op list -> activation then residual (the order the GEMM epilogue applies them). */
function epilogue(s: PlanSpec): { activation: Activation; residual: boolean } | string {
  const ops = (s.epilogue as string[] | undefined) ?? [];
  let activation: Activation = 'none', residual = false;
  for (const [i, op] of ops.entries()) {
    if (op === 'gelu' && i === 0) activation = 'gelu';
    else if (op === 'add' && !residual) residual = true;
    else return `epilogue [${ops.join(', ')}] (only gelu then add are fused)`;
  }
  return { activation, residual };
}

export function fromPlanSpec(s: PlanSpec): FromPlan {
  switch (s.kind) {
    case 'linear': case 'lora_linear': case 'matmul': {
      const e = epilogue(s);
      if (typeof e === 'string') return { unsupported: `${s.kind}: ${e}` };
      const m = num(s, 'm'), k = num(s, 'k'), n = num(s, 'n');
      if (s.kind === 'matmul') return { specs: [{ kind: 'gemm', m, k, n, transA: false, transB: s.transB === true, alpha: 1, bias: false, maskB: 0, ...e }] };
      const bias = s.bias === true;
      if (s.kind === 'linear') return { specs: [{ kind: 'linear', m, k, n, bias, ...e }] };
      return { specs: [{ kind: 'lora_linear', m, k, n, r: num(s, 'r'), scaling: num(s, 'scaling'), dropout: num(s, 'dropout'), stream: num(s, 'dropout') > 0 ? num(s, 'stream') : 0, bias, ...e }] };
    }
    case 'attention':
      if (s.qkNorm === true) return { unsupported: 'attention with fused q/k l2norm: run l2norm_scale on q and k first' };
      return { specs: [{ kind: 'attention', batch: num(s, 'batch'), heads: num(s, 'heads'), nq: num(s, 'nq'), nk: num(s, 'nk'), dh: num(s, 'dh'), scale: num(s, 'scale'), bias: s.bias === true, mask: s.mask === true }] };
    case 'layer_norm':
      return { specs: [{ kind: 'layer_norm', rows: num(s, 'rows'), n: num(s, 'n'), eps: num(s, 'eps'), bias: s.bias !== false }] };
    case 'l2norm_scale':
      return { specs: [{ kind: 'l2norm_scale', rows: num(s, 'rows'), n: num(s, 'n'), eps: num(s, 'eps') }] };
    case 'geglu':
      return { specs: [{ kind: 'geglu', rows: num(s, 'rows'), n: num(s, 'n') }] };
    case 'mean_pool':
      return { specs: [{ kind: 'mean_pool', outer: num(s, 'outer'), axisLen: num(s, 'axisLen'), inner: num(s, 'inner') }] };
    case 'embedding':
      if (((s.epilogue as string[] | undefined) ?? []).length) return { unsupported: `embedding with epilogue [${(s.epilogue as string[]).join(', ')}]` };
      return { specs: [{ kind: 'embedding', tokens: num(s, 'tokens'), dim: num(s, 'dim'), vocab: num(s, 'vocab') }] };
    case 'dwconv3d': {
      const pad = s.pad as number[] | undefined;
      if (pad && pad.join() !== '2,0,1,1,1,1') return { unsupported: `dwconv3d padding [${pad.join(', ')}] (only CT-CLIP's causal (2,0,1,1,1,1))` };
      if (((s.epilogue as string[] | undefined) ?? []).length) return { unsupported: 'dwconv3d with an epilogue' };
      return { specs: [{ kind: 'dwconv3d', batch: num(s, 'batch'), t: num(s, 't'), h: num(s, 'h'), w: num(s, 'w'), c: num(s, 'c'), bias: true }] };
    }
    case 'vq_nearest':
      return { specs: [{ kind: 'vq_nearest', rows: num(s, 'rows'), dim: num(s, 'dim'), codebook: num(s, 'codebook') }] };
    case 'pair_mse_loss': case 'pair_ce_loss':
      // The plan's batch already counts pairs (B·P rows of (present, absent); compiler/plan/specs.ts).
      return { specs: [{ kind: s.kind, batch: num(s, 'batch') }] };
    case 'clip_loss':
      return { specs: [{ kind: 'clip_loss', batch: num(s, 'batch') }] };
    default:
      return { unsupported: `no kernel for plan kind ${s.kind} yet` };
  }
}
