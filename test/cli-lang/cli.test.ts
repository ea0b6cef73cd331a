// `medctc check` and `medctc fmt` as a user runs them: the compiled CLI (npm test runs tsc first;
// run `npx tsc -p tsconfig.json` before running this file on its own).
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync, copyFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const CLI = 'dist/cli/medctc.js';

function medctc(...args: string[]) {
  return medctcEnv({}, ...args);
}

function medctcEnv(env: Record<string, string>, ...args: string[]) {
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run \`npx tsc -p tsconfig.json\` first`);
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', env: { ...process.env, NO_COLOR: '1', MEDCTC_BACKTRACE: '', ...env } });
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

  it('--json prints exactly one JSON document: the formatted text is a field, usage errors are JSON too', () => {
    const dir = mkdtempSync(join(tmpdir(), 'medct-'));
    writeFileSync(join(dir, 'a.medct'), messy);
    const r = medctc('fmt', '--json', join(dir, 'a.medct'));
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({ ok: true, changed: [], formatted: tidy, diagnostics: [] });
    const c = medctc('fmt', '--json', '--check', join(dir, 'a.medct'));
    expect(c.code).toBe(1);
    expect(JSON.parse(c.stdout)).toEqual({ ok: true, changed: [join(dir, 'a.medct')], diagnostics: [] });
    const u = medctc('fmt', '--json', '--check', '--write', join(dir, 'a.medct'));
    expect(u.code).toBe(2);
    expect(JSON.parse(u.stdout)).toMatchObject({ ok: false, diagnostics: [{ code: 'E0001' }] });
    expect(u.stderr).toBe('');
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

type JsonDiag = { code: string; message: string; primary: { file: string; start: number; line: number; col: number } | null; fix: unknown };

describe('medctc build --json', () => {
  it('prints diagnostics in the same form as check --json (line and column per span)', () => {
    const out = join(mkdtempSync(join(tmpdir(), 'medct-')), 'b');
    const file = 'test/check/cases/E2007-missing-unit.medct';
    const b = medctc('build', '--json', '--out', out, file);
    expect(b.code).toBe(2);
    const built = JSON.parse(b.stdout) as { ok: boolean; diagnostics: JsonDiag[] };
    const checked = JSON.parse(medctc('check', '--json', file).stdout) as { files: { diagnostics: JsonDiag[] }[] };
    expect(built.ok).toBe(false);
    expect(built.diagnostics).toEqual(checked.files[0]!.diagnostics);
    // Line 6, column 30 of the file, counted here independently of the renderer.
    const text = readFileSync(file, 'utf8');
    const d = built.diagnostics[0]!;
    const before = text.slice(0, d.primary!.start).split('\n');
    expect([d.primary!.line, d.primary!.col]).toEqual([before.length, before[before.length - 1]!.length + 1]);
    expect(existsSync(out)).toBe(false);
  });

  it('prints warnings with line and column too', () => {
    const dir = mkdtempSync(join(tmpdir(), 'medct-'));
    const file = join(dir, 'q.medct');
    writeFileSync(file, 'let unused = 3\n' + readFileSync('examples/quickstart.medct', 'utf8'));
    const r = medctc('build', '--json', '--out', join(dir, 'out'), file);
    expect(r.code).toBe(0);
    const body = JSON.parse(r.stdout) as { ok: boolean; warnings: JsonDiag[] };
    expect(body.ok).toBe(true);
    expect(body.warnings.map((w) => [w.code, w.primary?.line, w.primary?.col])).toEqual([['W2060', 1, 5]]);
  });
});

describe('exit 3: internal errors', () => {
  it('says "please report", prints no stack frames, and exits 3', () => {
    const r = medctcEnv({ MEDCTC_TEST_INTERNAL_ERROR: '1' }, 'check', 'examples/quickstart.medct');
    expect(r.code).toBe(3);
    expect(r.stderr).toContain('internal compiler error');
    expect(r.stderr).toContain('please report');
    expect(r.stderr).not.toContain('    at ');
    expect(r.stderr).not.toContain('MEDCTC_TEST_INTERNAL_ERROR: deliberate'); // the message is part of the trace, shown only on request
  });

  it('shows the trace only with MEDCTC_BACKTRACE=1', () => {
    const r = medctcEnv({ MEDCTC_TEST_INTERNAL_ERROR: '1', MEDCTC_BACKTRACE: '1' }, 'check', 'examples/quickstart.medct');
    expect(r.code).toBe(3);
    expect(r.stderr).toContain('    at ');
  });

  it('with --json also prints a JSON failure on stdout', () => {
    const r = medctcEnv({ MEDCTC_TEST_INTERNAL_ERROR: '1' }, 'build', '--json', 'examples/quickstart.medct');
    expect(r.code).toBe(3);
    const out = JSON.parse(r.stdout) as { ok: boolean; internalError: string };
    expect(out.ok).toBe(false);
    expect(out.internalError).toContain('please report');
    expect(r.stderr).not.toContain('    at ');
  });
});

describe('reportFailure', () => {
  it('prints a DiagnosticError as check --json does when --json was given', async () => {
    const { reportFailure } = await import('../../cli/failure.js');
    const { DiagnosticError, fileDiagnostic } = await import('../../base/diagnostics/types.js');
    const { diagnosticsToJson } = await import('../../base/diagnostics/render.js');
    const d = fileDiagnostic('E5560', 'warmup of 9 steps is longer than the 4 training steps', 'x.medct', { line: 3 });
    const writes: string[] = [];
    const orig = process.stdout.write.bind(process.stdout);
    (process.stdout as { write: unknown }).write = (s: string) => { writes.push(s); return true; };
    let code: number;
    try { code = reportFailure(new DiagnosticError(d), { json: true }); } finally { (process.stdout as { write: unknown }).write = orig; }
    expect(code).toBe(2);
    expect(JSON.parse(writes.join(''))).toEqual({ ok: false, diagnostics: diagnosticsToJson([d], new Map()) });
    expect(JSON.parse(writes.join('')).diagnostics[0].primary.line).toBe(3);
  });
});

describe('diagnostic codes', () => {
  it('a usage error uses a catalogued code', async () => {
    const { CATALOG } = await import('../../base/diagnostics/catalog.js');
    const r = medctc('chekc', 'x.medct');
    expect(r.code).toBe(2);
    const codes = [...r.stderr.matchAll(/error\[([EW]\d{4})\]/g)].map((m) => m[1]!);
    expect(codes).toEqual(['E0001']);
    expect(CATALOG.has('E0001')).toBe(true);
  });

  it('a usage error under --json is a JSON diagnostic too', () => {
    const r = medctc('check', '--json');
    expect(r.code).toBe(2);
    const out = JSON.parse(r.stdout) as { ok: boolean; diagnostics: JsonDiag[] };
    expect(out.ok).toBe(false);
    expect(out.diagnostics.map((d) => d.code)).toEqual(['E0001']);
    expect(r.stderr).toBe(''); // the JSON is the whole report: stderr carries only JSON lines
  });

  it('every code written in the sources (outside comments) is catalogued', async () => {
    const { CATALOG } = await import('../../base/diagnostics/catalog.js');
    const { readdirSync, statSync } = await import('node:fs');
    const files: string[] = [];
    const walk = (d: string) => { for (const f of readdirSync(d)) { const p = join(d, f); if (statSync(p).isDirectory()) walk(p); else if (p.endsWith('.ts')) files.push(p); } };
    for (const d of ['cli', 'compiler', 'runtime', 'grammar']) walk(d);
    const missing: string[] = [];
    let seen = 0;
    for (const f of files) {
      const code = readFileSync(f, 'utf8').replace(/\/\*[\s\S]*?\*\//g, '').replace(/(^|\s)\/\/.*$/gm, '');
      for (const m of code.matchAll(/\b([EW]\d{4})\b/g)) { seen++; if (!CATALOG.has(m[1]!)) missing.push(`${f}: ${m[1]}`); }
    }
    expect(seen).toBeGreaterThan(100);
    expect(missing).toEqual([]);
  });
});
