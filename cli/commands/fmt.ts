// `medctc fmt FILE...`: the canonical layout. Prints the formatted text of one file to stdout;
// `--write` rewrites files in place; `--check` lists files that would change and exits 1.
// A file with syntax errors is never formatted (exit 2), so formatting cannot lose text.
// `--json` prints one JSON document and nothing else: the formatted text is its `formatted` field.
import type { CommandModule } from 'yargs';
import { writeFileAtomic } from '../../base/atomic.js';
import { formatMedct, parseMedct } from '../../grammar/index.js';
import { readSpecFile, specReadDiagnostic } from '../../compiler/check/index.js';
import { diag } from '../../base/diagnostics/catalog.js';
import { diagnosticsToJson, renderDiagnostics } from '../../base/diagnostics/render.js';
import type { Diagnostic } from '../../base/diagnostics/types.js';

interface FmtArgs { files: string[]; check: boolean; write: boolean; json: boolean }

export const fmtCommand: CommandModule<object, FmtArgs> = {
  command: 'fmt <files..>',
  describe: 'Format .medct specs (stdout, --write in place, or --check)',
  builder: (y) => y
    .positional('files', { type: 'string', array: true, demandOption: true, describe: '.medct files' })
    .option('check', { type: 'boolean', default: false, describe: 'exit 1 and list the files whose layout would change' })
    .option('write', { type: 'boolean', default: false, describe: 'rewrite the files in place' })
    .option('json', { type: 'boolean', default: false, describe: 'print diagnostics as JSON' }) as never,
  handler: (args) => {
    const diags: Diagnostic[] = [];
    const sources = new Map<string, string>();
    const usage = (message: string, help: string): void => {
      const d = diag('E0001', message, null, { help });
      if (args.json) process.stdout.write(JSON.stringify({ ok: false, changed: [], diagnostics: diagnosticsToJson([d], sources) }, null, 2) + '\n');
      else process.stderr.write(renderDiagnostics([d], sources) + '\n');
      process.exitCode = 2;
    };
    if (args.check && args.write) return usage('`--check` and `--write` cannot be combined', '`--check` only reports; `--write` rewrites');
    if (!args.check && !args.write && args.files.length > 1) return usage('printing to stdout takes one file', 'use `--write` to format several files in place, or `--check`');
    let formatted: string | null = null;
    const changed: string[] = [];
    for (const file of args.files) {
      let text: string;
      try {
        text = readSpecFile(file);
      } catch (e) {
        diags.push(specReadDiagnostic(file, e, null));
        continue;
      }
      sources.set(file, text);
      const parsed = parseMedct(text, file);
      if (parsed.diagnostics.length) { diags.push(...parsed.diagnostics); continue; }
      const out = formatMedct(parsed.ast, text);
      if (args.check) { if (out !== text) changed.push(file); continue; }
      if (args.write) {
        if (out !== text) {
          writeFileAtomic(file, out);
          changed.push(file);
        }
        continue;
      }
      if (args.json) formatted = out;
      else process.stdout.write(out);
    }
    if (args.json) {
      const doc = { ok: diags.length === 0, changed, ...(!args.check && !args.write ? { formatted } : {}), diagnostics: diagnosticsToJson(diags, sources) };
      process.stdout.write(JSON.stringify(doc, null, 2) + '\n');
    }
    else {
      if (diags.length) process.stderr.write(renderDiagnostics(diags, sources) + '\n');
      if (args.check) for (const f of changed) process.stdout.write(`would reformat ${f}\n`);
      if (args.write) for (const f of changed) process.stdout.write(`formatted ${f}\n`);
    }
    process.exitCode = diags.length ? 2 : args.check && changed.length ? 1 : 0;
  },
};
