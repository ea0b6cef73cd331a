import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { RUNTIME_CODES } from '../../base/diagnostics/codes/runtime.js';
import { DATA_CODES } from '../../base/diagnostics/codes/data.js';

const root = new URL('../../', import.meta.url).pathname;
const OWN = ['runtime/io/safetensors.ts', 'base/atomic.ts', 'runtime/io/json-strict.ts', 'runtime/io/pt.ts', 'runtime/io/zip.ts', 'runtime/io/torch-pickle.ts', 'runtime/io/npy.ts', 'runtime/io/state-dict.ts', 'runtime/exec/library.ts', 'runtime/adapter', 'runtime/eval', 'runtime/train/schedule.ts', 'runtime/train/optimizer-ref.ts', 'runtime/util', 'runtime/run'];

function files(p: string): string[] {
  const abs = join(root, p);
  return statSync(abs).isDirectory() ? readdirSync(abs).flatMap((f) => files(join(p, f))) : [p];
}

describe('runtime diagnostic codes', () => {
  it('sit in E55xx-E59xx and do not collide with the data table', () => {
    for (const code of Object.keys(RUNTIME_CODES)) {
      expect(code).toMatch(/^E5[5-9]\d\d$/);
      expect(DATA_CODES).not.toHaveProperty(code);
    }
  });
  it('every code the runtime modules raise is catalogued, and every catalogued code is raised somewhere', () => {
    const used = new Set<string>();
    for (const f of OWN.flatMap(files)) for (const m of readFileSync(join(root, f), 'utf8').matchAll(/'(E5\d{3})'/g)) used.add(m[1]!);
    for (const code of used) expect(RUNTIME_CODES, code).toHaveProperty(code);
    expect([...used].sort()).toEqual(Object.keys(RUNTIME_CODES).sort());
  });
});
