// `medctc train FILE`: `medctc run` without the evaluation: build, train, write the adapter.
import type { CommandModule } from 'yargs';
import { pipelineOptions, runPipeline, type PipelineArgs } from './run.js';

export const trainCommand: CommandModule<object, PipelineArgs> = {
  command: 'train <file>',
  describe: 'Build and train an experiment; write the adapter (with train_base: model.safetensors) and the training log (no evaluation)',
  builder: (y) => pipelineOptions(y, { train: true }) as never,
  handler: (a) => runPipeline({ ...a, baseline: false }, { evaluate: false }),
};
