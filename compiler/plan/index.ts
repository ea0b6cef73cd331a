// Public surface of the execution plan.
export * from './types.js';
export { lowerPlan, ALIGNMENT, PER_VOLUME_FEED, type LowerOptions } from './lower.js';
export { placeBuffers, liveLowerBound, overlaps, alignUp, type Interval } from './memory.js';
export { validatePlan, overlapErrors, invariantErrors } from './validate.js';
