// `medctc verify DIR`: re-hash everything DIR/medctc.lock names (cli/review/verify.ts) and list
// what drifted. Exit 0 all match, 1 something drifted, 2 no lock or an invalid one (a diagnostic).
import type { CommandModule } from 'yargs';
import { drifted, lockFolders, verifyFolder, type Verified } from '../review/verify.js';
import { columns, guarded } from '../review/output.js';

interface VerifyArgs { dir: string; specDir?: string; all: boolean; json: boolean }

const short = (h: string | null) => (h === null ? 'absent' : h.length > 16 && /^[0-9a-f]+/.test(h) ? `${h.slice(0, 12)}…${h.slice(h.indexOf(' ') > 0 ? h.indexOf(' ') : h.length)}` : h);

export function verifyText(v: Verified, all: boolean): string {
  const bad = drifted(v);
  const shown = all ? v.entries : bad;
  const out = [`${v.lock}${v.experiment ? ` (experiment \`${v.experiment}\`)` : ''}: sources resolved from ${v.specDir || '.'}`];
  out.push(...columns(shown.map((e) => [e.status === 'ok' ? 'ok' : e.status, e.section, e.file,
    e.status === 'ok' ? '' : e.status === 'changed' ? `sha256 ${short(e.actual)}, locked ${short(e.expected)}` : e.status === 'missing' ? `locked ${short(e.expected)}` : `absent when locked, now ${short(e.actual)}`]), '  '));
  for (const u of v.unchecked) out.push(`  note: lock field \`${u}\` is not checked by this medctc`);
  out.push(bad.length ? `${bad.length} of ${v.entries.length} files drifted` : `all ${v.entries.length} files match the lock`);
  return out.join('\n') + '\n';
}

export const verifyCommand: CommandModule<object, VerifyArgs> = {
  command: 'verify <dir>',
  describe: 'Re-hash every file a build or run folder\'s medctc.lock names and list what drifted',
  builder: (y) => y
    .positional('dir', { type: 'string', demandOption: true, describe: 'build or run folder (a sweep\'s folder verifies every variant)' })
    .option('spec-dir', { type: 'string', describe: 'folder the lock\'s sources, weights and data root are relative to (default: the lock\'s specDir, else run.json\'s spec, else .)' })
    .option('all', { type: 'boolean', default: false, describe: 'list every file, not only the drifted ones' })
    .option('json', { type: 'boolean', default: false, describe: 'print every entry as JSON' }) as never,
  handler: async (a) => {
    await guarded(a.json, () => {
      const results = lockFolders(a.dir).map((d) => verifyFolder(d, { specDir: a.specDir }));
      const ok = results.every((v) => drifted(v).length === 0);
      if (a.json) {
        process.stdout.write(JSON.stringify({ ok: true, match: ok, folders: results.map((v) => ({ ...v, drifted: drifted(v).length })) }, null, 2) + '\n');
      } else {
        process.stdout.write(results.map((v) => verifyText(v, a.all)).join('\n'));
      }
      process.exitCode = ok ? 0 : 1;
    });
  },
};
