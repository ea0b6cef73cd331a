// Public surface of the compiler: build an experiment into plans, reports and a build folder.
export { compileExperiment, writeBuild, buildAll, artifactFiles, canonicalJson, evalTextBatch, variantFolder, COMPILER_VERSION, type Compiled } from './build.js';
export * as graph from './graph/index.js';
export * as plan from './plan/index.js';
export * as passes from './passes/index.js';
export { buildModel, PRESETS, type BuildShape } from './models/index.js';
export { buildReport, renderReport, type BuildReport } from './report/index.js';
