// Shared helpers for test/data: temp folders, a small synthetic dataset, and diagnostic asserts.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'vitest';
import { DiagnosticError } from '../../compiler/diagnostics/types.js';

export function tempDir(tag: string): string {
  return mkdtempSync(join(tmpdir(), `medctc-${tag}-`));
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
