// Every subcommand of `medctc`, in the order `--help` lists them.
import type { CommandModule } from 'yargs';
import { checkCommand } from './check.js';
import { fmtCommand } from './fmt.js';
import { synthCommand } from './synth.js';
import { buildCommand } from './build.js';
import { runCommand } from './run.js';
import { trainCommand } from './train.js';
import { evaluateCommand } from './evaluate.js';
import { exportCommand } from './export.js';

export const commands: CommandModule<object, any>[] = [
  checkCommand,
  fmtCommand,
  synthCommand,
  buildCommand,
  runCommand,
  trainCommand,
  evaluateCommand,
  exportCommand,
];
