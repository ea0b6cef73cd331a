// `medctc report DIR`: (re)writes a run folder's report (report.html, results.md, charts/*.png,
// cli/report) from its saved files; a sweep folder (one run folder per variant) gets each
// variant's report and the summary sweep.md / sweep.json. Exit 0, or 2 (E0014 not a run or sweep
// folder, E0015 a file that cannot be read, E5010-E5015 a bad scores CSV).
import { join, relative } from 'node:path';
import type { CommandModule } from 'yargs';
import { isRunFolder, sweepFolders, writeRunReport, writeSweepSummary } from '../report/index.js';
import { guarded } from '../review/output.js';

interface ReportArgs { dir: string; json: boolean }

const shown = (p: string): string => relative(process.cwd(), p) || '.';

export const reportCommand: CommandModule<object, ReportArgs> = {
  command: 'report <dir>',
  describe: 'Write a run folder\'s report.html (and results.md with PNG charts) from its files; a sweep folder also gets sweep.md / sweep.json',
  builder: (y) => y
    .positional('dir', { type: 'string', demandOption: true, describe: 'a run folder, or a sweep folder holding one run folder per variant' })
    .option('json', { type: 'boolean', default: false, describe: 'print what was written as JSON' }) as never,
  handler: async (a) => {
    await guarded(a.json, () => {
      const written: string[] = [];
      let sweep: string[] | null = null;
      if (isRunFolder(a.dir)) written.push(...writeRunReport(a.dir));
      else {
        const folders = sweepFolders(a.dir);
        for (const f of folders) written.push(...writeRunReport(join(a.dir, f)));
        sweep = writeSweepSummary(a.dir, folders, 'values').files;
        written.push(...sweep);
      }
      if (a.json) process.stdout.write(JSON.stringify({ ok: true, files: written.map(shown), sweep: sweep ? sweep.map(shown) : null }, null, 2) + '\n');
      else process.stdout.write(written.map((f) => `wrote ${shown(f)}`).join('\n') + '\n');
    });
  },
};
