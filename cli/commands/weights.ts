// The weights-file commands (`convert`, `inspect`), registered together in cli/medctc.ts.
import type { CommandModule } from 'yargs';
import { convertCommand } from './convert.js';
import { inspectCommand } from './inspect.js';

export const weightsCommands: CommandModule<object, any>[] = [convertCommand, inspectCommand];
