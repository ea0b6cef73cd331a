// Every subcommand of `medctc`, in the order `--help` lists them.
import type { CommandModule } from 'yargs';
import { synthCommand } from './synth.js';
import { buildCommand } from './build.js';

export const commands: CommandModule<object, any>[] = [
  synthCommand,
  buildCommand,
];
