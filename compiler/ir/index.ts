// The resolved experiment IR and its schema validator.
export * from './experiment.js';
export { validateExperiment, experimentSchemaPath } from './validate.js';
