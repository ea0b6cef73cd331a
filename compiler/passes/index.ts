// Public surface of the graph passes: each a pure function over the graph.
export { injectLora, selectLoraModules, layerIndex, loraScaling, ENCODER_ROOT, type PassResult } from './lora.js';
export { globRegex, regexPattern, expandBraces, nearestPaths, PatternError } from './patterns.js';
export { spanFor, type Sources } from './provenance.js';
export { fuse, type Fusion, type KernelGroup } from './fuse.js';
export { needsGradient, differentiableInputs } from './autodiff.js';
export { attachLoss } from './loss.js';
