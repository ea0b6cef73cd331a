// Specs of any size (issue 14): no per-line recursion, a documented size limit instead of an
// out-of-memory abort, linear `extends` chains, NUL and bidirectional controls refused and never
// printed raw, imports kept inside the project root, and no diagnostic that prints a whole file.
import { mkdtempSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { vfs } from './vfs.js';
import { checkFiles } from '../../compiler/check/index.js';
import { MAX_PROGRAM_CHARS, MAX_SPEC_CHARS } from '../../compiler/check/program.js';
import { MAX_SYNTAX_DIAGNOSTICS } from '../../grammar/parse.js';
import { MAX_SHOWN_LINE, renderDiagnostics } from '../../base/diagnostics/render.js';


const check = (files: Record<string, string>, entry = 'main.medct', importRoot?: string) => {
  const fs = vfs(files);
  const r = checkFiles(entry, { readFile: fs.readFile, ...(importRoot ? { importRoot } : {}) });
  return { ...r, reads: fs.reads, errors: r.diagnostics.filter((d) => d.severity === 'error'), text: renderDiagnostics(r.diagnostics, r.sources, { color: false }) };
};

const MINIMAL = 'experiment "m" {\n  model ct_clip_tiny\n  data synthetic { root "r" }\n}\n';
const tmp = mkdtempSync(join(tmpdir(), 'medctc-limits-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('size', () => {
  it('checks a valid spec preceded by 150,000 blank lines (once a stack overflow reported as "cannot read")', () => {
    const spec = '\n'.repeat(150_000) + readFileSync('examples/quickstart.medct', 'utf8');
    const r = check({ 'examples/blank.medct': spec, 'examples/quickstart.medct': '' }, 'examples/blank.medct');
    expect(r.errors).toEqual([]);
    expect(r.experiments.map((e) => e.name)).toEqual(['quickstart']);
    expect(r.experiments[0]!.lora!.targets.map((t) => t.rank)).toEqual([8, 8]);
  });

  it('refuses a spec over the limit with E1007 instead of running out of memory', () => {
    const line = 'let c = [1, 2, 3, 4, 5, 6, 7, 8]\n';
    const r = check({ 'main.medct': line.repeat(Math.ceil((MAX_SPEC_CHARS + 1) / line.length)) + MINIMAL });
    expect(r.errors.map((d) => d.code)).toEqual(['E1007']);
    expect(r.errors[0]!.message).toContain(`${MAX_SPEC_CHARS / 1024} KiB`);
  });

  it('refuses a 50 MB file on disk by its size, before reading it', () => {
    const big = join(tmp, 'big.medct');
    writeFileSync(big, '');
    truncateSync(big, 50_000_000); // sparse: the test writes nothing
    const t0 = performance.now();
    const r = checkFiles(big);
    expect(r.diagnostics.map((d) => d.code)).toEqual(['E1007']);
    expect(r.diagnostics[0]!.message).toMatch(/48828 KiB/);
    expect(performance.now() - t0).toBeLessThan(2000);
  });

  it('counts imports towards the limit of the whole spec', () => {
    const part = '# ' + 'x'.repeat(MAX_SPEC_CHARS - 10) + '\n';
    const n = Math.ceil(MAX_PROGRAM_CHARS / part.length) + 1;
    const files: Record<string, string> = { 'main.medct': Array.from({ length: n }, (_, i) => `import "p${i}.medct"\n`).join('') + MINIMAL };
    for (let i = 0; i < n; i++) files[`p${i}.medct`] = part;
    const r = check(files);
    expect(r.errors.map((d) => d.code)).toEqual(['E1007']);
    expect(r.errors[0]!.primary!.file).toBe('main.medct'); // at the import that crossed it
  });

  it('loads an import chain of 3,000 files (no recursion per import)', () => {
    const files: Record<string, string> = { 'main.medct': 'import "f0.medct"\n' + MINIMAL.replace('model ct_clip_tiny', 'model ct_clip_tiny\n  seed s') };
    for (let i = 0; i < 3000; i++) files[`f${i}.medct`] = i < 2999 ? `import "f${i + 1}.medct"\nlet u${i} = ${i}\n` : 'let s = 42\n';
    files['f0.medct'] += 'let s = u0\n'; // only direct imports are in scope
    const r = check(files);
    expect(r.reads.length).toBe(3001);
    expect(r.errors.map((d) => d.code)).toEqual([]);
    expect(r.experiments[0]!.seed).toBe(0);
  });
});

describe('extends chains', () => {
  const chain = (n: number, closeCycle: boolean) => {
    let lib = 'experiment "e0"' + (closeCycle ? ` extends "e${n - 1}"` : '') + ' {\n  model ct_clip_tiny\n  data synthetic { root "r"; volumes 40 }\n}\n';
    for (let i = 1; i < n; i++) lib += `experiment "e${i}" extends "e${i - 1}" { seed ${i} }\n`;
    return lib;
  };

  it('resolves a chain of 4,000 `extends` in linear time', () => {
    const n = 4000;
    const t0 = performance.now();
    const r = check({ 'lib.medct': chain(n, false), 'main.medct': `import "lib.medct"\nexperiment "child" extends "e${n - 1}" { }\n` });
    const ms = performance.now() - t0;
    expect(r.errors).toEqual([]);
    expect(r.experiments[0]!.data.source).toMatchObject({ root: 'r', volumes: 40 }); // from the root of the chain
    expect(r.experiments[0]!.seed).toBe(n - 1); // from the last link
    expect(ms).toBeLessThan(5000);
  });

  it('checks 2,000 chained experiments of one file, each once (not once per descendant)', () => {
    const n = 2000;
    const t0 = performance.now();
    const r = check({ 'main.medct': chain(n, false) });
    expect(r.errors).toEqual([]);
    expect(r.experiments.length).toBe(n);
    expect(r.experiments.map((e) => e.seed)).toEqual(Array.from({ length: n }, (_, i) => (i === 0 ? 0 : i)));
    expect(performance.now() - t0).toBeLessThan(20000);
  });

  it('still reports a cycle of 3,000 once, as E2023', () => {
    const r = check({ 'main.medct': chain(3000, true) });
    expect(r.errors.map((d) => d.code)).toEqual(['E2023']);
    expect(r.errors[0]!.message).toMatch(/^`extends` cycle: e0 -> e2999 -> e2998 -> /);
  });
});

describe('characters', () => {
  const cases: [string, string][] = [
    ['NUL', '\u0000'], ['RLO', '\u202e'], ['LRE', '\u202a'], ['LRI', '\u2066'], ['PDI', '\u2069'],
  ];
  for (const [name, ch] of cases) {
    it(`refuses ${name} in a comment, a string and between tokens, and never prints it raw`, () => {
      const spec = `# admin ${ch} only\nexperiment "m${ch}" {\n  model ct_clip_tiny ${ch}\n  data synthetic { root "r" }\n}\n`;
      const r = check({ 'main.medct': spec });
      expect(r.errors.map((d) => d.code)).toEqual(['E1006', 'E1006', 'E1006']);
      expect(r.errors.map((d) => d.primary!.start)).toEqual([...spec.matchAll(new RegExp(ch, 'g'))].map((m) => m.index));
      expect(r.text).not.toContain(ch);
      expect(r.text).toContain(`U+${ch.charCodeAt(0).toString(16).toUpperCase().padStart(4, '0')}`);
      expect(r.text).toContain('# admin \ufffd only'); // one column, so the caret below still points at it
    });
  }

  it('escapes terminal controls that reach a message (an ESC in an unknown value)', () => {
    const r = check({ 'main.medct': 'experiment "m" {\n  model ct_clip_tiny\n  data synthetic { root "r" }\n  backend "\u001b[2J"\n}\n' });
    expect(r.errors.length).toBeGreaterThan(0);
    expect(r.text).not.toContain('\u001b');
  });
});

describe('imports', () => {
  it('refuses an import that leaves the entry file\'s folder, without reading it', () => {
    const r = check({ 'specs/main.medct': 'import "../../../../etc/passwd"\n' + MINIMAL }, 'specs/main.medct');
    expect(r.errors.map((d) => d.code)).toEqual(['E2026']);
    expect(r.reads).toEqual(['specs/main.medct']);
    expect(r.text).toContain('outside the project root `specs`');
  });

  it('allows it when the root is widened explicitly', () => {
    const files = { 'specs/main.medct': 'import "../common/base.medct"\nexperiment "c" extends "base" { }\n', 'common/base.medct': MINIMAL.replace('"m"', '"base"') };
    expect(check(files, 'specs/main.medct').errors.map((d) => d.code)).toEqual(['E2026', 'E2022']);
    const wide = check(files, 'specs/main.medct', '.');
    expect(wide.errors).toEqual([]);
    expect(wide.reads).toEqual(['specs/main.medct', 'common/base.medct']);
  });

  it('shows at most the first errors of a file that is not a spec, never the whole file', () => {
    const passwd = Array.from({ length: 500 }, (_, i) => `user${i}:x:${i}:${i}:User ${i}:/home/user${i}:/bin/sh`).join('\n') + '\n';
    const r = check({ 'main.medct': 'import "etc/passwd"\n' + MINIMAL, 'etc/passwd': passwd });
    expect(r.errors.length).toBe(MAX_SYNTAX_DIAGNOSTICS + 1);
    expect(r.errors[MAX_SYNTAX_DIAGNOSTICS]!.message).toMatch(/^\d+ more syntax errors in `etc\/passwd` are not shown$/);
    const shown = r.text.split('\n').filter((l) => /user\d+:x:/.test(l));
    expect(shown.length).toBeLessThanOrEqual(MAX_SYNTAX_DIAGNOSTICS + 1);
  });

  it('prints a window of a very long line, with the caret still under the offending character', () => {
    const spec = Array.from({ length: 5000 }, (_, i) => `let a${String(i).padStart(4, '0')} = 1;`).join('') + ' @ \n' + MINIMAL;
    const r = check({ 'main.medct': spec });
    expect(r.errors.map((d) => d.code)).toEqual(['E1001']);
    const lines = r.text.split('\n');
    const src = lines.find((l) => l.startsWith('1 |'))!, caret = lines[lines.indexOf(src) + 1]!;
    expect(src.length).toBeLessThan(MAX_SHOWN_LINE + 10);
    expect(src[caret.indexOf('^')]).toBe('@');
    expect(lines.find((l) => l.includes('-->'))).toBe(` --> main.medct:1:${5000 * 14 + 2}`);
  });
});
