// Issue 14, machine output: progress bars (runtime/data/progress.ts, runtime/run/progress.ts) respect
// NO_COLOR and non-TTY output. Piped stderr (a log file, CI) gets plain lines, no escape sequence at
// all; on a terminal (a pseudo-terminal from util-linux `script`) the bar redraws, colour only
// without NO_COLOR. Through the compiled CLI (`npx tsc -p tsconfig.json` first).
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { CLI } from '../review/cli.js';
import { smallSpec, tempDir } from '../run/helpers.js';

const ESC = '\u001b';
const SGR = /\u001b\[[0-9;]*m/; // colour / style
const env = (extra: Record<string, string>) => {
  const e: Record<string, string | undefined> = { ...process.env, ...extra };
  for (const k of ['NO_COLOR', 'FORCE_COLOR', 'CI']) if (!(k in extra)) delete e[k];
  return e;
};

describe('progress output', () => {
  const dir = tempDir('progress-output');
  const spec = smallSpec(dir, { volumes: 10, epochs: 1, batch: 2, pathologies: 2 });

  it('piped stderr (not a TTY), colour allowed: no escape sequence from synth or run', () => {
    const synth = spawnSync(process.execPath, [CLI, 'synth', '--out', 'synth', '--volumes', '5'], { cwd: dir, encoding: 'utf8', env: env({}) });
    expect(synth.status, synth.stderr).toBe(0);
    const run = spawnSync(process.execPath, [CLI, 'run', spec, '--out', 'piped', '--backend', 'cpu', '--limit', '4'], { cwd: dir, encoding: 'utf8', env: env({}) });
    expect(run.status, run.stderr).toBe(0);
    expect(run.stderr).toMatch(/step 1\/\d+/); // plain progress lines are there
    for (const s of [synth.stdout, synth.stderr, run.stdout, run.stderr]) expect(s).not.toContain(ESC);
  }, 60_000);

  const hasScript = spawnSync('script', ['--version'], { encoding: 'utf8' }).status === 0;
  if (!hasScript) console.warn('progress-output: util-linux `script` is missing: the terminal cases are SKIPPED');
  it.skipIf(!hasScript)('on a terminal: a redrawn bar; colour without NO_COLOR, none with it', () => {
    const onTty = (folder: string, extra: Record<string, string>) => {
      const cmd = [process.execPath, CLI, 'run', spec, '--out', folder, '--backend', 'cpu', '--limit', '4'].map((a) => `'${a}'`).join(' ');
      const r = spawnSync('script', ['-qec', cmd, '/dev/null'], { cwd: dir, encoding: 'utf8', env: env(extra) });
      expect(r.status, r.stdout).toBe(0);
      return r.stdout; // the terminal's whole output, stdout and stderr together
    };
    const colour = onTty('tty-colour', {});
    expect(colour).toContain(`${ESC}[1G`); // cli-progress redraws the line
    expect(colour).toMatch(SGR); // the dimmed notes
    const plain = onTty('tty-plain', { NO_COLOR: '1' });
    expect(plain).toContain(`${ESC}[1G`);
    expect(plain).not.toMatch(SGR);
  }, 60_000);
});
