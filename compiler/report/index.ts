// Public surface of the parameter and cost report.
export { buildReport, paramGroup, type BuildReport, type GroupCount } from './params.js';
export { renderReport, bytes, percent } from './render.js';
