// The weights-file commands (`convert`, `inspect`) and `embed`, registered together in cli/medctc.ts.
import type { CommandModule } from 'yargs';
import { convertCommand } from './convert.js';
import { inspectCommand } from './inspect.js';
import { embedCommand } from './embed.js';

export const weightsCommands: CommandModule<object, any>[] = [convertCommand, inspectCommand, embedCommand];
