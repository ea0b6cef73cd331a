// Public surface of the graph IR.
export * from './types.js';
export { GraphBuilder } from './builder.js';
export { inferOutput, GraphError } from './shapes.js';
export { verify } from './verify.js';
