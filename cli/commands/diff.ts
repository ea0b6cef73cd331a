// `medctc diff A B`: a semantic diff of two resolved experiments (cli/review/diff.ts). A and B are
// FILE, FILE#NAME (one experiment of a file with several, or one sweep variant), FILE@REV or
// REV:FILE (the file and its imports as git has them at REV), see cli/review/load.ts.
// Exit 0 equal, 1 different, 2 a user error (diagnostics).
import type { CommandModule } from 'yargs';
import { loadRef, single } from '../review/load.js';
import { compileReport, diffExperiments, diffMarkdown, diffText, figures, type DiffResult } from '../review/diff.js';
import { failWith, guarded } from '../review/output.js';

interface DiffArgs { a: string; b: string; format: 'text' | 'markdown'; json: boolean }

export const diffCommand: CommandModule<object, DiffArgs> = {
  command: 'diff <a> <b>',
  describe: 'Compare two experiments value by value, with provenance and the effect on parameters, memory and FLOPs',
  builder: (y) => y
    .positional('a', { type: 'string', demandOption: true, describe: 'FILE, FILE#NAME, FILE@REV or REV:FILE' })
    .positional('b', { type: 'string', demandOption: true, describe: 'the same forms' })
    .option('format', { type: 'string', choices: ['text', 'markdown'], default: 'text', describe: 'text, or markdown for a pull-request comment' })
    .option('json', { type: 'boolean', default: false, describe: 'print the changes and the effect as JSON' }) as never,
  handler: async (a) => {
    let sources: ReadonlyMap<string, string> = new Map();
    await guarded(a.json, () => {
      const la = loadRef(a.a);
      if (la.experiments.length === 0) { failWith(la.diagnostics, la.sources, a.json); return; }
      const lb = loadRef(a.b);
      if (lb.experiments.length === 0) { failWith(lb.diagnostics, lb.sources, a.json); return; }
      const ea = single(la), eb = single(lb);
      // A compile error (a LoRA target matching nothing, say) is shown against the side's source text.
      sources = la.sources;
      const ra = compileReport(ea, la.sources);
      sources = lb.sources;
      const rb = compileReport(eb, lb.sources);
      const d: DiffResult = { a: { ref: a.a, name: ea.name }, b: { ref: a.b, name: eb.name }, changes: diffExperiments(ea, eb), effect: figures(ra, rb) };
      const equal = d.changes.length === 0;
      if (a.json) process.stdout.write(JSON.stringify({ ok: true, equal, ...d }, null, 2) + '\n');
      else process.stdout.write(a.format === 'markdown' ? diffMarkdown(d) : diffText(d));
      process.exitCode = equal ? 0 : 1;
    }, () => sources);
  },
};
