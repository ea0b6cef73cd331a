// `medctc explain FILE [PATH...]`: every value of the resolved experiment(s) with where it came
// from (file:line:col, default, inherited from which experiment, sweep variant). PATH narrows the
// listing (`lora.rank`, `train.optimizer`); FILE may name one experiment (`FILE#NAME`) or a git
// revision (`FILE@REV`), as in cli/review/load.ts. Exit 0, or 2 with diagnostics.
import type { CommandModule } from 'yargs';
import { renderDiagnostics } from '../../base/diagnostics/render.js';
import { loadRef } from '../review/load.js';
import { narrow, rows, valueText, type Row } from '../review/explain.js';
import { columns, failWith, guarded } from '../review/output.js';
import { setArgs, withSet } from '../overrides.js';

interface ExplainArgs { file: string; paths: string[]; json: boolean; set?: string | string[] }

const MAX_VALUE_COLUMN = 48;

export function explainText(name: string, file: string, rs: Row[]): string {
  const values = rs.map((r) => valueText(r.value));
  const width = Math.max(0, ...values.filter((v) => v.length <= MAX_VALUE_COLUMN).map((v) => v.length));
  const table = rs.map((r, i) => [r.path, `${values[i]!.padEnd(width)}  ${r.origin}`]);
  return [`experiment \`${name}\` (${file})`, ...columns(table, '  ')].join('\n') + '\n';
}

export const explainCommand: CommandModule<object, ExplainArgs> = {
  command: 'explain <file> [paths..]',
  describe: 'Show every value of a resolved experiment and where it came from',
  builder: (y) => withSet(y)
    .positional('file', { type: 'string', demandOption: true, describe: '.medct spec or resolved .json; FILE#NAME for one experiment, FILE@REV for a git revision' })
    .positional('paths', { type: 'string', array: true, default: [], describe: 'show only these values (`lora.rank`, `train.optimizer`)' })
    .option('json', { type: 'boolean', default: false, describe: 'print the values and their provenance as JSON' }) as never,
  handler: async (a) => {
    let sources: ReadonlyMap<string, string> = new Map();
    await guarded(a.json, () => {
      const l = loadRef(a.file, setArgs(a.set));
      sources = l.sources;
      if (l.experiments.length === 0) { failWith(l.diagnostics, l.sources, a.json); return; }
      const warnings = l.diagnostics.filter((d) => d.severity !== 'error');
      if (warnings.length && !a.json) process.stderr.write(renderDiagnostics(warnings, l.sources) + '\n');
      const out = l.experiments.map((e) => ({ exp: e, rows: narrow(rows(e), a.paths ?? []) }));
      if (a.json) {
        process.stdout.write(JSON.stringify({
          ok: true, file: l.ref.file, revision: l.ref.rev,
          experiments: out.map(({ exp, rows: rs }) => ({
            name: exp.name, variant: exp.variant, sources: exp.sources,
            values: rs.map((r) => ({ path: r.path, pointer: r.pointer, value: r.value, provenance: r.provenance, origin: r.origin })),
          })),
        }, null, 2) + '\n');
        return;
      }
      const shown = l.ref.rev ? `${l.ref.file} at ${l.ref.rev}` : l.ref.file;
      process.stdout.write(out.map(({ exp, rows: rs }) => explainText(exp.name, shown, rs)).join('\n'));
    }, () => sources);
  },
};
