// The compiled CLI, as the review tests run it (`npm test` compiles first; NO_COLOR for stable text).
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';

export const CLI = resolve('dist/cli/medctc.js');

export function medctc(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  return medctcIn(process.cwd(), ...args);
}

export function medctcIn(cwd: string, ...args: string[]): { status: number | null; stdout: string; stderr: string } {
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: build first with \`npx tsc -p tsconfig.json\``);
  return spawnSync(process.execPath, [CLI, ...args], { cwd, encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' } });
}
