// Public surface of the kernel specifications: what each kernel computes and the buffers it binds.
export * from './spec.js';
export { kernelBindings, type Binding } from './bindings.js';
export { loraBackwardSteps, loraUnfusedForwardSteps, loraUnfusedBackwardSteps, baseForwardSteps, baseBackwardSteps, type KernelStep } from './lora.js';
