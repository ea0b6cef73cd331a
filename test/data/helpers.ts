// Shared helpers for test/data: temp folders, a small synthetic dataset, and diagnostic asserts.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect } from 'vitest';
import { DiagnosticError } from '../../base/diagnostics/types.js';

const made: string[] = [];
// Registered on the importing test file's root suite: its temp folders go when it finishes.
afterAll(() => { for (const d of made.splice(0)) rmSync(d, { recursive: true, force: true }); });

export function tempDir(tag: string): string {
  const d = mkdtempSync(join(tmpdir(), `medctc-${tag}-`));
  made.push(d);
  return d;
}

/** Runs fn and asserts it throws a DiagnosticError with this code whose message (or span) names `mentions`. */
export async function expectDiagnostic(fn: () => unknown, code: string, mentions: string[], line?: number): Promise<void> {
  let err: unknown = null;
  try {
    await fn();
  } catch (e) {
    err = e;
  }
  expect(err, `expected ${code}`).toBeInstanceOf(DiagnosticError);
  const d = (err as DiagnosticError).diagnostics[0]!;
  expect(d.code).toBe(code);
  for (const m of mentions) expect(`${d.message} @ ${d.primary?.file}`).toContain(m);
  if (line !== undefined) expect(d.primary?.line).toBe(line);
}
