import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { inflateSync } from 'node:zlib';
import { tempDir } from './helpers.js';

// Runs the compiled CLI (`npm test` runs tsc first; alone: npx tsc -p tsconfig.json).
const CLI = resolve('dist/cli/medctc.js');

function medctc(...args: string[]) {
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: build first with \`npx tsc -p tsconfig.json\``);
  return spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8' });
}

describe('medctc synth', () => {
  it('writes a dataset and a preview PNG, exit 0', () => {
    const out = join(tempDir('cli'), 'data');
    const png = join(tempDir('cli'), 'p.png');
    const r = medctc('synth', '--out', out, '--volumes', '5', '--seed', '3', '--site', 'target', '--shape', '16,20,20', '--preview', png, '--json');
    expect(r.status, r.stderr).toBe(0);
    const summary = JSON.parse(r.stdout) as { ok: boolean; volumes: number; train: number; valid: number; site: string };
    expect(summary).toMatchObject({ ok: true, volumes: 5, train: 4, valid: 1, site: 'target' });
    expect(existsSync(join(out, 'valid/valid_1/valid_1_a/valid_1_a_1.nii.gz'))).toBe(true);
    // A well-formed PNG: signature, IHDR first, IDAT inflates to height * (1 + 3 * width) bytes.
    const bytes = readFileSync(png);
    expect(Array.from(bytes.subarray(0, 8))).toEqual([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
    expect(bytes.toString('latin1', 12, 16)).toBe('IHDR');
    const w = bytes.readUInt32BE(16), h = bytes.readUInt32BE(20);
    const idatLen = bytes.readUInt32BE(33);
    expect(bytes.toString('latin1', 37, 41)).toBe('IDAT');
    expect(inflateSync(bytes.subarray(41, 41 + idatLen)).length).toBe(h * (1 + 3 * w));
  });

  it('bad arguments: exit 2 with a diagnostic', () => {
    const out = join(tempDir('cli'), 'data');
    const shape = medctc('synth', '--out', out, '--shape', '16,20');
    expect(shape.status).toBe(2);
    expect(shape.stderr).toContain('error[E5040]');
    const site = medctc('synth', '--out', out, '--site', 'mars');
    expect(site.status).toBe(2);
    expect(site.stderr).toContain('error[E5041]');
    expect(site.stderr).toContain('source, target');
    const missing = medctc('synth', '--volumes', '3');
    expect(missing.status).toBe(2);
    expect(missing.stderr).toContain('out');
  });
});
