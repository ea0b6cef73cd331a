// `medctc evaluate FILE|BUILD_DIR [--adapter DIR]`: zero-shot evaluation of the experiment's model
// on its eval split, with a trained PEFT adapter merged when given (as `medctc run` writes it).
import { resolve } from 'node:path';
import type { CommandModule } from 'yargs';
import { readAdapter } from '../../runtime/adapter/index.js';
import { adapterTensorsFor } from '../../runtime/run/index.js';
import { pipelineOptions, runPipeline, type PipelineArgs } from './run.js';

interface EvaluateArgs extends PipelineArgs { adapter?: string }

export const evaluateCommand: CommandModule<object, EvaluateArgs> = {
  command: 'evaluate <file>',
  describe: 'Evaluate an experiment zero-shot on its eval split, optionally with a trained adapter',
  builder: (y) => pipelineOptions(y, { train: false })
    .option('adapter', { type: 'string', describe: 'PEFT adapter folder (adapter_config.json + adapter_model.safetensors)' }) as never,
  handler: (a) => runPipeline(a, {
    train: false,
    // Beside the run's own results, not over them.
    defaultSub: 'evaluate',
    adapterFor: (model) => (a.adapter
      ? { tensors: adapterTensorsFor(model, readAdapter(resolve(a.adapter)), a.adapter), from: a.adapter }
      : undefined),
  }),
};
