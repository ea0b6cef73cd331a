// Compiles the example specs in-process for the executor tests.
import { compileExperiment } from '../../compiler/build.js';
import { checkFiles } from '../../compiler/check/index.js';

export function compileExample(file: string) {
  const { experiments, diagnostics } = checkFiles(file);
  const errors = diagnostics.filter((d) => d.severity === 'error');
  if (errors.length) throw new Error(`${file}: ${errors.map((d) => d.message).join('; ')}`);
  return compileExperiment(experiments[0]!);
}
