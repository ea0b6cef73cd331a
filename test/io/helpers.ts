// Shared by test/io: the committed PyTorch fixtures, temp folders (removed after each file), and a
// check that a call fails with one diagnostic code whose message and help mention given text.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect } from 'vitest';
import { DiagnosticError } from '../../base/diagnostics/types.js';

export const FIX = new URL('./fixtures/', import.meta.url).pathname;
/** What the malicious fixtures' os.system call would create. */
export const PWNED = '/tmp/medctc-pwned';

const made: string[] = [];
afterAll(() => { for (const d of made.splice(0)) rmSync(d, { recursive: true, force: true }); });

export function tempDir(tag: string): string {
  const d = mkdtempSync(join(tmpdir(), `medctc-${tag}-`));
  made.push(d);
  return d;
}

export function expectDiag(fn: () => unknown, code: string, parts: string[] = []): DiagnosticError {
  try {
    fn();
  } catch (e) {
    if (!(e instanceof DiagnosticError)) throw e;
    expect(e.diagnostics[0]!.code, e.message).toBe(code);
    for (const p of parts) expect(e.message + '\n' + (e.diagnostics[0]!.help ?? '')).toContain(p);
    return e;
  }
  throw new Error(`expected ${code}, nothing was thrown`);
}

/** ((7 i + 13 j) mod 97 - 48) / 512: the values make_pt.py gives element i of tiny-model tensor j. */
export function tinyPattern(j: number, n: number): Float32Array {
  return Float32Array.from({ length: n }, (_, i) => ((((7 * i + 13 * j) % 97) + 97) % 97 - 48) / 512);
}
