// Every file in cases/ must produce the diagnostic its name declares (`E2003-...medct` -> E2003),
// rendered exactly as in its `.golden` file (UPDATE_GOLDEN=1 writes the goldens; a missing one fails).
// Every E1xxx/E2xxx/W2xxx code in the catalog must have a case.
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { checkFiles } from '../../compiler/check/index.js';
import { renderDiagnostics } from '../../base/diagnostics/render.js';
import { SYNTAX_CODES } from '../../base/diagnostics/codes/syntax.js';
import { CHECK_CODES } from '../../base/diagnostics/codes/check.js';

const dir = 'test/check/cases';
const cases = readdirSync(dir).filter((f) => f.endsWith('.medct')).sort();

describe('diagnostic cases', () => {
  for (const file of cases) {
    const code = file.slice(0, 5);
    it(`${file} reports ${code}`, () => {
      const path = join(dir, file);
      const r = checkFiles(path);
      expect(r.diagnostics.map((d) => d.code)).toContain(code);
      if (code.startsWith('E')) expect(r.experiments).toEqual([]);
      const rendered = renderDiagnostics(r.diagnostics, r.sources, { color: false }) + '\n';
      const golden = path.replace(/\.medct$/, '.golden');
      if (process.env.UPDATE_GOLDEN === '1') writeFileSync(golden, rendered);
      // A missing golden is a failure, not a fresh snapshot: a golden written from the output it checks proves nothing.
      if (!existsSync(golden)) expect.fail(`${golden} is missing: review the output and run with UPDATE_GOLDEN=1 to write it`);
      expect(rendered).toBe(readFileSync(golden, 'utf8'));
    });
  }

  it('covers every syntax and check code', () => {
    const covered = new Set(cases.map((f) => f.slice(0, 5)));
    // E1007 needs a spec over 256 KiB, which is not committed: test/check/limits.test.ts builds one.
    const elsewhere = new Set(['E1007']);
    const missing = [...Object.keys(SYNTAX_CODES), ...Object.keys(CHECK_CODES)].filter((c) => !covered.has(c) && !elsewhere.has(c));
    expect(missing).toEqual([]);
  });
});
