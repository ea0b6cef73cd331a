// `medctc check` and `medctc fmt` as a user runs them: the compiled CLI (npm test runs tsc first;
// run `npx tsc -p tsconfig.json` before running this file on its own).
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync, copyFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const CLI = 'dist/cli/medctc.js';

function medctc(...args: string[]) {
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run \`npx tsc -p tsconfig.json\` first`);
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', env: { ...process.env, NO_COLOR: '1', MEDCTC_BACKTRACE: '' } });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

const noStack = (s: string) => expect(s).not.toMatch(/\n\s+at .+:\d+:\d+\)?\n|internal compiler error/);

describe('medctc check', () => {
  it('exits 0 with one summary line per experiment', () => {
    const r = medctc('check', 'examples/quickstart.medct', 'examples/ablation-rank.medct');
    expect(r.code).toBe(0);
    expect(r.stdout.trim().split('\n')).toEqual([
      'ok examples/quickstart.medct: experiment `quickstart`',
      'ok examples/ablation-rank.medct: experiment `medct-vlm-rank`, 4 variants: @rank=8 @rank=16 @rank=24 @rank=64',
    ]);
  });

  it('exits 2 with rendered diagnostics and no stack trace on a bad spec', () => {
    const r = medctc('check', 'test/check/cases/E2001-unknown-field.medct');
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('error[E2001]: unknown field `rnak` in `lora`');
    expect(r.stderr).toContain('--> test/check/cases/E2001-unknown-field.medct:5:5');
    expect(r.stderr).not.toContain('\u001b['); // NO_COLOR
    noStack(r.stderr);
  });

  it('exits 2 for a missing file and for binary garbage', () => {
    const dir = mkdtempSync(join(tmpdir(), 'medct-'));
    writeFileSync(join(dir, 'junk.medct'), Buffer.from([0, 255, 34, 123, 10, 91, 0, 7]));
    for (const f of [join(dir, 'nope.medct'), join(dir, 'junk.medct')]) {
      const r = medctc('check', f);
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(/error\[E\d{4}\]/);
      noStack(r.stderr);
    }
  });

  it('--json prints parseable diagnostics with line and column', () => {
    const r = medctc('check', '--json', 'test/check/cases/E2007-missing-unit.medct');
    expect(r.code).toBe(2);
    const out = JSON.parse(r.stdout) as { ok: boolean; files: { diagnostics: { code: string; primary: { line: number; col: number }; fix: unknown }[] }[] };
    expect(out.ok).toBe(false);
    const d = out.files[0]!.diagnostics[0]!;
    expect(d.code).toBe('E2007');
    expect([d.primary.line, d.primary.col]).toEqual([6, 30]);
    expect(d.fix).toMatchObject({ edits: [{ replacement: ' steps' }] });
  });
});

describe('medctc fmt', () => {
  const messy = 'experiment "x" {   # keep me\n model ct_clip_tiny\n\n\n  data synthetic {root "r";  volumes 8}\n}\n';
  const tidy = 'experiment "x" { # keep me\n  model ct_clip_tiny\n\n  data synthetic { root "r"; volumes 8 }\n}\n';

  it('prints the canonical layout for one file', () => {
    const dir = mkdtempSync(join(tmpdir(), 'medct-'));
    writeFileSync(join(dir, 'a.medct'), messy);
    const r = medctc('fmt', join(dir, 'a.medct'));
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(tidy);
  });

  it('--check exits 1 listing files that would change, 0 once --write fixed them', () => {
    const dir = mkdtempSync(join(tmpdir(), 'medct-'));
    const a = join(dir, 'a.medct'), b = join(dir, 'b.medct');
    writeFileSync(a, messy);
    copyFileSync('examples/quickstart.medct', b);
    const c1 = medctc('fmt', '--check', a, b);
    expect(c1.code).toBe(1);
    expect(c1.stdout).toBe(`would reformat ${a}\n`);
    expect(medctc('fmt', '--write', a, b).code).toBe(0);
    expect(readFileSync(a, 'utf8')).toBe(tidy);
    expect(medctc('fmt', '--check', a, b).code).toBe(0);
  });

  it('refuses to format a file with syntax errors (exit 2)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'medct-'));
    writeFileSync(join(dir, 'bad.medct'), 'experiment "x" {\n  seed [1, 2\n');
    const before = readFileSync(join(dir, 'bad.medct'), 'utf8');
    const r = medctc('fmt', '--write', join(dir, 'bad.medct'));
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('error[E1002]');
    expect(readFileSync(join(dir, 'bad.medct'), 'utf8')).toBe(before);
    noStack(r.stderr);
  });
});
