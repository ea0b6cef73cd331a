// test/global-setup.ts refuses to run the suites against a dist/ older than the sources.
import { describe, expect, it } from 'vitest';
import { mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { staleBuild } from '../global-setup.js';

describe('stale build check', () => {
  it('names sources with no compiled file or an older one, and nothing when dist is current', () => {
    const root = mkdtempSync(join(tmpdir(), 'medctc-stale-'));
    try {
      const file = (p: string, t: number) => { mkdirSync(join(root, p, '..'), { recursive: true }); writeFileSync(join(root, p), ''); utimesSync(join(root, p), t, t); };
      writeFileSync(join(root, 'tsconfig.json'), JSON.stringify({ include: ['compiler/**/*.ts', 'runtime/**/*.ts', 'cli/**/*.ts'] }));
      file('compiler/a.ts', 1000); file('dist/compiler/a.js', 2000); // current
      file('runtime/x/b.ts', 3000); file('dist/runtime/x/b.js', 2000); // edited after the build
      file('cli/c.ts', 1000); // never built
      file('cli/d.d.ts', 5000); // declarations compile to nothing
      expect(staleBuild(root).sort()).toEqual([join(root, 'cli/c.ts'), join(root, 'runtime/x/b.ts')]);
      utimesSync(join(root, 'dist/runtime/x/b.js'), 4000, 4000); file('dist/cli/c.js', 4000);
      expect(staleBuild(root)).toEqual([]);
    } finally { rmSync(root, { recursive: true, force: true }); }
  });
});
