// Many suites run the built CLI (dist/cli/medctc.js) as users do. `npm test` compiles first;
// a bare `npx vitest run` after an edit would test the previous build and could pass on code that
// no longer exists. So: refuse to start while any source is newer than its compiled file.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';

/** The folders tsc compiles into dist/: tsconfig.json's `include` entries (`<folder>/**\/*.ts`). */
function sourceRoots(root: string): string[] {
  const include = (JSON.parse(readFileSync(join(root, 'tsconfig.json'), 'utf8')) as { include: string[] }).include;
  return include.map((g) => g.split('/')[0]!);
}

function* tsFiles(dir: string): Generator<string> {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) yield* tsFiles(p);
    else if (e.name.endsWith('.ts') && !e.name.endsWith('.d.ts')) yield p;
  }
}

/** Sources under `root` whose compiled file in dist/ is missing or older. */
export function staleBuild(root = '.'): string[] {
  const stale: string[] = [];
  for (const top of sourceRoots(root)) {
    if (!existsSync(join(root, top))) continue;
    for (const src of tsFiles(join(root, top))) {
      const out = join(root, 'dist', relative(root, src).replace(/\.ts$/, '.js'));
      if (!existsSync(out) || statSync(out).mtimeMs < statSync(src).mtimeMs) stale.push(src);
    }
  }
  return stale;
}

export default function setup(): void {
  const stale = staleBuild();
  if (stale.length) {
    throw new Error(`dist/ is older than ${stale.length} source file(s) (${stale.slice(0, 3).join(', ')}${stale.length > 3 ? ', ...' : ''}): the CLI suites would test the previous build. Run \`npm run build\` first (\`npm test\` does).`);
  }
}
