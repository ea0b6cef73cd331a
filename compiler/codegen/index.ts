// Public surface of code generation: KernelSpec -> WGSL / CUDA source with launch geometry.
export { emitKernel, kernelProgram, TARGETS, type EmittedKernel, type Launch } from './emit.js';
export { tileFactor } from './kernels/gemm.js';
export { dropoutThreshold } from './kernels/program.js';
export type { Target, TargetName } from './target.js';
