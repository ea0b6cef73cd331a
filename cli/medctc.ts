#!/usr/bin/env node
// The medctc command line: a thin shell over the stages. Each subcommand lives in
// cli/commands/<name>.ts and exports a yargs CommandModule; this file only wires them up and
// turns failures into exit codes: 0 ok, 1 `fmt --check` found changes, 2 user error, 3 internal.
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { commands } from './commands/index.js';
import { weightsCommands } from './commands/weights.js';
import { reviewCommands } from './commands/review.js';
import { reportFailure } from './failure.js';
import { diag } from '../base/diagnostics/catalog.js';
import { diagnosticsToJson, renderDiagnostics } from '../base/diagnostics/render.js';

const json = process.argv.slice(2).includes('--json');

async function main(): Promise<void> {
  // For the CLI tests only: the one way to reach exit 3 on purpose, proving it prints no stack trace.
  if (process.env.MEDCTC_TEST_INTERNAL_ERROR === '1') throw new Error('MEDCTC_TEST_INTERNAL_ERROR: deliberate internal error');
  let cli = yargs(hideBin(process.argv))
    .scriptName('medctc')
    .strict()
    .demandCommand(1, 'Name a command: medctc <command> --help')
    .recommendCommands()
    .help()
    .version()
    .fail((msg, err) => {
      if (err) throw err;
      const d = diag('E0001', msg, null, { help: 'run `medctc --help`' });
      if (json) process.stdout.write(JSON.stringify({ ok: false, diagnostics: diagnosticsToJson([d], new Map()) }, null, 2) + '\n');
      else process.stderr.write(renderDiagnostics([d], new Map()) + '\n');
      process.exit(2);
    });
  for (const c of commands) cli = cli.command(c);
  for (const c of weightsCommands) cli = cli.command(c);
  for (const c of reviewCommands) cli = cli.command(c);
  await cli.parseAsync();
}

main().catch((err: unknown) => {
  process.exitCode = reportFailure(err, { json });
});
