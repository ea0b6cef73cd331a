// The reviewer's commands (issue 13): explain, diff, verify, metrics, report. Registered by cli/medctc.ts
// after the commands of ./index.ts.
import type { CommandModule } from 'yargs';
import { explainCommand } from './explain.js';
import { metricsCommand } from './metrics.js';
import { verifyCommand } from './verify.js';
import { diffCommand } from './diff.js';
import { reportCommand } from './report.js';

export const reviewCommands: CommandModule<object, any>[] = [explainCommand, diffCommand, verifyCommand, metricsCommand, reportCommand];
