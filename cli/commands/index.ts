// Every subcommand of `medctc`, in the order `--help` lists them.
import type { CommandModule } from 'yargs';
import { synthCommand } from './synth.js';

export const commands: CommandModule<object, any>[] = [
  synthCommand,
];
