// Shared helpers for test/runtime: temp folders and diagnostic assertions.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'vitest';
import { DiagnosticError } from '../../base/diagnostics/types.js';
import { RUNTIME_CODES } from '../../base/diagnostics/codes/runtime.js';

export function tempDir(tag: string): string {
  return mkdtempSync(join(tmpdir(), `medctc-rt-${tag}-`));
}

/** Asserts `fn` throws a DiagnosticError with `code` (a catalogued runtime code) whose message and file mention `mentions`. */
export function expectDiagnostic(fn: () => unknown, code: keyof typeof RUNTIME_CODES, mentions: string[] = []): void {
  let err: unknown = null;
  try {
    fn();
  } catch (e) {
    err = e;
  }
  expect(err, `expected ${code}`).toBeInstanceOf(DiagnosticError);
  const d = (err as DiagnosticError).diagnostics[0]!;
  expect(d.code, d.message).toBe(code);
  for (const m of mentions) expect(`${d.message} @ ${d.primary?.file}`).toContain(m);
}

/** Concatenates byte arrays. */
export function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) { out.set(p, o); o += p.length; }
  return out;
}

export function u64le(n: number): Uint8Array {
  const b = new Uint8Array(8);
  new DataView(b.buffer).setBigUint64(0, BigInt(n), true);
  return b;
}

export function f32le(...xs: number[]): Uint8Array {
  return new Uint8Array(Float32Array.from(xs).buffer);
}
