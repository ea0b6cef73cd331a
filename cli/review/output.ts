// What the reviewer's commands share: a user error is printed as diagnostics (stderr; under
// `--json` one JSON document on stdout as well, as `check --json` does) and exits 2.
import { diagnosticsToJson, renderDiagnostics } from '../../base/diagnostics/render.js';
import { DiagnosticError, type Diagnostic } from '../../base/diagnostics/types.js';

export function failWith(diags: Diagnostic[], sources: ReadonlyMap<string, string>, json: boolean): void {
  // With --json the diagnostics are the stdout document only, as reportFailure does: stderr stays JSON lines.
  if (json) process.stdout.write(JSON.stringify({ ok: false, diagnostics: diagnosticsToJson(diags, sources) }, null, 2) + '\n');
  else process.stderr.write(renderDiagnostics(diags, sources) + '\n');
  process.exitCode = 2;
}

/** Runs `fn`; a DiagnosticError it throws becomes exit 2 with the diagnostics shown (anything else is a bug: exit 3 upstream). */
export async function guarded(json: boolean, fn: () => void | Promise<void>, sources: () => ReadonlyMap<string, string> = () => new Map()): Promise<void> {
  try {
    await fn();
  } catch (e) {
    if (e instanceof DiagnosticError) { failWith(e.diagnostics, sources(), json); return; }
    throw e;
  }
}

/** Left-aligned columns, two spaces apart; the last column is not padded. */
export function columns(rows: string[][], indent = ''): string[] {
  const widths: number[] = [];
  for (const r of rows) r.forEach((c, i) => { if (i < r.length - 1) widths[i] = Math.max(widths[i] ?? 0, c.length); });
  return rows.map((r) => indent + r.map((c, i) => (i < r.length - 1 ? c.padEnd(widths[i]!) : c)).join('  ').trimEnd());
}
