#!/usr/bin/env node
// The medctc command line: a thin shell over the stages. Each subcommand lives in
// cli/commands/<name>.ts and exports a yargs CommandModule; this file only wires them up and
// turns failures into exit codes: 0 ok, 1 `fmt --check` found changes, 2 user error, 3 internal.
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { commands } from './commands/index.js';
import { reportFailure } from './failure.js';

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
      process.stderr.write(`error[E0001]: ${msg}\n  = help: run \`medctc --help\`\n`);
      process.exit(2);
    });
  for (const c of commands) cli = cli.command(c);
  await cli.parseAsync();
}

main().catch((err: unknown) => {
  process.exitCode = reportFailure(err, { json: process.argv.slice(2).includes('--json') });
});
