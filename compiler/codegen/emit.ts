// emitKernel: a KernelSpec -> readable WGSL, CUDA or C source with its launch geometry.
// The build folder's kernels/ is written from these by compiler/codegen/library.ts kernelFiles.
import type { KernelSpec } from '../kernels/spec.js';
import { kernelName } from '../kernels/spec.js';
import { kernelBindings, type Binding } from '../kernels/bindings.js';
import type { Target, TargetName } from './target.js';
import { WGSL } from './wgsl/target.js';
import { CUDA } from './cuda/target.js';
import { C, NO_BARRIER, rawEntry } from './c/target.js';
import { PRELUDE } from './c/prelude.js';
import { cGemmProgram } from './c/gemm.js';
import { cSumsqProgram } from './c/reduce.js';
import { cAttentionBackwardProgram, cAttentionProgram } from './c/attention.js';
import { cVqNearestProgram } from './c/vq.js';
import { cDwConv3dBackwardProgram, cDwConv3dProgram } from './c/dwconv.js';
import { helperSource, type KernelProgram } from './kernels/program.js';
import { gemmProgram, linearProgram, loraLinearProgram, loraShrinkProgram, loraExpandProgram, loraBackwardInputProgram } from './kernels/gemm.js';
import { attentionProgram, attentionBackwardProgram } from './kernels/attention.js';
import { pointwiseProgram } from './kernels/pointwise.js';
import { backwardProgram } from './kernels/backward.js';
import { glueProgram } from './kernels/glue.js';
import { rewriteHalf } from './half.js';

export const TARGETS: Record<TargetName, Target> = { wgsl: WGSL, cuda: CUDA, c: C };

export interface Launch {
  entry: string;
  workgroup: [number, number, number];
  /** Workgroups (WebGPU dispatch) = CUDA grid. */
  grid: [number, number, number];
}

export interface EmittedKernel {
  name: string;
  target: TargetName;
  source: string;
  /** Entry points, dispatched in this order with the same buffers. */
  launches: Launch[];
  bindings: Binding[];
}

/** C bodies for the kinds whose GPU bodies need workgroup memory (and attention and
 *  attention_backward, whose thread-per-row GPU bodies run scalar exps and dot products per key
 *  (the backward recomputing every probability twice), vq_nearest, whose
 *  thread-per-row body recomputes every code's norm per row, and dwconv3d and its backward, whose
 *  thread-per-output bodies read one channel at a stride); every other kind is rendered from
 *  its shared body through the C table. */
function cpuProgram(spec: KernelSpec): KernelProgram | null {
  switch (spec.kind) {
    case 'gemm': case 'linear': case 'lora_linear': case 'lora_shrink': case 'lora_expand': case 'lora_backward_input':
      return cGemmProgram(spec, kernelName(spec));
    case 'sumsq': return cSumsqProgram(spec);
    // Only at long keys and wide heads: there the shared body's per-key scalar exps dominate
    // (CT-CLIP's spatial 576 keys x dh 32: ~1.7 s -> ~0.7 s per launch; its text tower, 512 x 64).
    // The two bodies sum in different orders, so the choice is part of the cpu backend's bits:
    // ct_clip_tiny (dh 16) keeps the shared body and with it the committed pretraining that
    // test/run/pretrain.test.ts reproduces bit for bit. Both are deterministic per shape and
    // independent of the thread count.
    case 'attention': return spec.dh >= 32 && spec.nk >= 64 ? cAttentionProgram(spec) : null;
    case 'attention_backward': return cAttentionBackwardProgram(spec);
    case 'vq_nearest': return cVqNearestProgram(spec);
    case 'dwconv3d': return cDwConv3dProgram(spec);
    case 'dwconv3d_backward': return cDwConv3dBackwardProgram(spec);
    default: return null;
  }
}

export function kernelProgram(T: Target, spec: KernelSpec): KernelProgram {
  const cpu = T.name === 'c' ? cpuProgram(spec) : null;
  if (cpu) return cpu;
  switch (spec.kind) {
    case 'gemm': return gemmProgram(T, spec);
    case 'linear': return linearProgram(T, spec);
    case 'lora_linear': return loraLinearProgram(T, spec);
    case 'lora_shrink': return loraShrinkProgram(T, spec);
    case 'lora_expand': return loraExpandProgram(T, spec);
    case 'lora_backward_input': return loraBackwardInputProgram(T, spec);
    case 'attention': return attentionProgram(T, spec);
    case 'attention_backward': return attentionBackwardProgram(T, spec);
    default: {
      const p = pointwiseProgram(T, spec) ?? backwardProgram(T, spec) ?? glueProgram(T, spec);
      if (!p) throw new Error(`codegen: no generator for kernel kind ${spec.kind}`);
      return p;
    }
  }
}

export function emitKernel(spec: KernelSpec, target: TargetName): EmittedKernel {
  const T = TARGETS[target];
  const bindings = kernelBindings(spec);
  const name = kernelName(spec);
  const raw = kernelProgram(T, spec);
  // 16-bit bindings: every access in the stages becomes the target's load / store.
  const program = raw.halfAware || !spec.half ? raw
    : { ...raw, stages: raw.stages.map((st) => ({ ...st, body: rewriteHalf(st.body, bindings, T, `${name} (${target}) stage ${st.entry}`) })) };
  const lines: string[] = [
    `// medctc kernel ${name} (${target === 'wgsl' ? 'WGSL' : target === 'cuda' ? 'CUDA' : 'C'}), generated: do not edit.`,
    ...program.summary.map((s) => `//   ${s}`),
    `// bindings: ${bindings.map((b) => `${b.name}[${b.size}] ${b.dtype}${b.access === 'read' ? '' : ' (out)'}`).join(', ')}`,
    ...(spec.half ? [`// ${spec.half.dtype} storage of ${spec.half.bindings.join(', ')}: loads widen to f32, stores round to nearest even; arithmetic is f32`] : []),
    '',
    // After the header (each file's first line names its kernel), before any declaration (WGSL's `enable`).
    ...T.halfDecls(bindings),
  ];
  if (target === 'c') lines.push(PRELUDE);
  for (const h of program.helpers) lines.push(...helperSource(T, h), '');
  if (target === 'c') {
    lines.push(...(program.decls ?? []));
    for (const st of program.stages) {
      const sym = `${name}__${st.entry}`;
      if (!st.raw && (st.shared.length || st.body.some((l) => l.includes(NO_BARRIER)))) {
        throw new Error(`codegen: ${name} stage ${st.entry} synchronises a workgroup; the C target needs a CPU body for ${spec.kind}`);
      }
      lines.push(...(st.raw ? rawEntry(sym, bindings, st.body) : T.entry(sym, bindings, st.workgroup, [], st.body, st.grid)), '');
    }
  } else if (target === 'wgsl') {
    const shared = new Map<string, number>();
    for (const st of program.stages) for (const [n, size] of st.shared) shared.set(n, Math.max(shared.get(n) ?? 0, size));
    program.stages.forEach((st, i) => {
      const decl = i === 0 ? [...shared].map(([n, size]) => T.shared(n, size)) : [];
      const body = T.entry(st.entry, bindings, st.workgroup, decl, st.body);
      // Bindings are module-scope in WGSL: declare them once, before the first entry.
      lines.push(...(i === 0 ? body : body.filter((l) => !l.startsWith('@group('))), '');
    });
  } else {
    for (const st of program.stages) lines.push(...T.entry(st.entry, bindings, st.workgroup, st.shared.map(([n, size]) => T.shared(n, size)), st.body), '');
  }
  return {
    name, target, source: lines.join('\n'), bindings,
    // A C entry's symbol carries the kernel name, so one shared object can hold a whole batch.
    launches: program.stages.map((s) => ({ entry: target === 'c' ? `${name}__${s.entry}` : s.entry, workgroup: s.workgroup, grid: s.grid })),
  };
}
