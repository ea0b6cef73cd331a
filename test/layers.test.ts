// The source folders are layers, readable off the tree: base/ (diagnostics, atomic writes, hashing)
// under grammar/ under compiler/ under runtime/ under cli/. A folder imports only from the layers
// below it (and itself), never from test/, bench/ or dist/. Every relative import (static,
// `export ... from`, `import type`, dynamic `import()`) of every .ts file is checked, so a
// violation fails here naming the file, the line and the specifier.
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

const ROOT = resolve(new URL('../', import.meta.url).pathname);

const LAYERS = ['base', 'grammar', 'compiler', 'runtime', 'cli'] as const;
type Layer = (typeof LAYERS)[number];

/** What each layer may import (besides itself and packages). */
const MAY_IMPORT: Record<Layer, readonly string[]> = {
  base: [],
  grammar: ['base'],
  compiler: ['base', 'grammar'],
  runtime: ['base', 'grammar', 'compiler'],
  cli: ['base', 'grammar', 'compiler', 'runtime'],
};

export interface Violation { file: string; line: number; specifier: string; target: string }

/** The layer rule violations of one source file, given its path relative to the repository root. */
export function violations(file: string, text: string): Violation[] {
  const from = file.split('/')[0] as Layer;
  const allowed = new Set<string>([from, ...MAY_IMPORT[from]]);
  const out: Violation[] = [];
  for (const imp of ts.preProcessFile(text, true, true).importedFiles) {
    const spec = imp.fileName;
    if (!spec.startsWith('.')) continue; // node: builtins and packages
    const target = relative(ROOT, resolve(ROOT, dirname(file), spec)).split('\\').join('/');
    const top = target.split('/')[0]!;
    if (!allowed.has(top)) {
      const line = text.slice(0, imp.pos).split('\n').length;
      out.push({ file, line, specifier: spec, target });
    }
  }
  return out;
}

function sources(dir: string): string[] {
  return readdirSync(join(ROOT, dir)).sort().flatMap((f) => {
    const rel = `${dir}/${f}`;
    if (statSync(join(ROOT, rel)).isDirectory()) return sources(rel);
    return f.endsWith('.ts') ? [rel] : [];
  });
}

const show = (v: Violation) => `${v.file}:${v.line} imports '${v.specifier}' (${v.target})`;

describe('layers', () => {
  for (const layer of LAYERS) {
    it(`${layer}/ imports only from ${MAY_IMPORT[layer].length ? MAY_IMPORT[layer].join(', ') : 'itself'}${MAY_IMPORT[layer].length ? ' (and itself)' : ''}`, () => {
      const files = sources(layer);
      expect(files.length).toBeGreaterThan(0);
      const bad = files.flatMap((f) => violations(f, readFileSync(join(ROOT, f), 'utf8')));
      expect(bad.map(show)).toEqual([]);
    });
  }

  it('the check names each offending import, whatever the import form', () => {
    const text = [
      "import { diag } from '../base/diagnostics/catalog.js';",
      "import { compileExperiment } from '../compiler/build.js';",
      "import type { Plan } from '../compiler/plan/types.js';",
      "export { SITES } from '../runtime/data/synth/sites.js';",
      '// a comment mentioning import "../cli/medctc.js" is not an import',
      "const lazy = () => import('../cli/medctc.js');",
      "import '../test/setup.js';",
    ].join('\n');
    expect(violations('grammar/x.ts', text).map(show)).toEqual([
      "grammar/x.ts:2 imports '../compiler/build.js' (compiler/build.js)",
      "grammar/x.ts:3 imports '../compiler/plan/types.js' (compiler/plan/types.js)",
      "grammar/x.ts:4 imports '../runtime/data/synth/sites.js' (runtime/data/synth/sites.js)",
      "grammar/x.ts:6 imports '../cli/medctc.js' (cli/medctc.js)",
      "grammar/x.ts:7 imports '../test/setup.js' (test/setup.js)",
    ]);
    expect(violations('compiler/check/resolve.ts', "import { SITES } from '../../runtime/data/synth/sites.js';").map(show))
      .toEqual(["compiler/check/resolve.ts:1 imports '../../runtime/data/synth/sites.js' (runtime/data/synth/sites.js)"]);
    expect(violations('base/atomic.ts', "import { DiagnosticError } from './diagnostics/types.js';")).toEqual([]);
    expect(violations('runtime/run/run.ts', "import { x } from '../../cli/failure.js';")).toHaveLength(1);
  });
});
