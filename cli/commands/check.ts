// `medctc check FILE...`: parse, check and resolve specs; print diagnostics, or one summary line
// per experiment. Exit 0 when every file checks (warnings allowed), 2 when any has an error.
import type { CommandModule } from 'yargs';
import { checkFiles } from '../../compiler/check/index.js';
import { diagnosticsToJson, renderDiagnostics } from '../../base/diagnostics/render.js';
import { setArgs, withSet } from '../overrides.js';

interface CheckArgs { files: string[]; json: boolean; set?: string | string[] }

export const checkCommand: CommandModule<object, CheckArgs> = {
  command: 'check <files..>',
  describe: 'Check .medct specs and show the experiments they resolve to',
  builder: (y) => withSet(y)
    .positional('files', { type: 'string', array: true, demandOption: true, describe: '.medct files' })
    .option('json', { type: 'boolean', default: false, describe: 'print diagnostics and results as JSON' }) as never,
  handler: (args) => {
    let failed = false;
    const report: unknown[] = [];
    for (const file of args.files) {
      const r = checkFiles(file, { overrides: setArgs(args.set) });
      const errors = r.diagnostics.some((d) => d.severity === 'error');
      failed ||= errors;
      if (args.json) {
        report.push({
          file, ok: !errors,
          experiments: r.experiments.map((e) => ({ name: e.name, base: e.variant?.base ?? e.name, bindings: e.variant?.bindings ?? {} })),
          diagnostics: diagnosticsToJson(r.diagnostics, r.sources),
        });
        continue;
      }
      if (r.diagnostics.length) process.stderr.write(renderDiagnostics(r.diagnostics, r.sources) + '\n\n');
      if (errors) {
        const n = r.diagnostics.filter((d) => d.severity === 'error').length;
        process.stderr.write(`error: ${file}: ${n} error${n === 1 ? '' : 's'}\n`);
        continue;
      }
      const byBase = new Map<string, string[]>();
      for (const e of r.experiments) {
        const base = e.variant?.base ?? e.name;
        byBase.set(base, [...(byBase.get(base) ?? []), e.name]);
      }
      for (const [base, names] of byBase) {
        process.stdout.write(`ok ${file}: experiment \`${base}\`${names.length > 1 ? `, ${names.length} variants: ${names.map((n) => n.slice(base.length)).join(' ')}` : ''}\n`);
      }
    }
    if (args.json) process.stdout.write(JSON.stringify({ ok: !failed, files: report }, null, 2) + '\n');
    process.exitCode = failed ? 2 : 0;
  },
};
