// Turning anything thrown into what the user sees: a DiagnosticError is a user error (exit 2),
// rendered like any diagnostic; everything else is a bug in medctc (exit 3, "please report").
// With `--json` both also go to stdout in the form `check --json` uses.
import { DiagnosticError, type Diagnostic } from '../base/diagnostics/types.js';
import { diagnosticsToJson, renderDiagnostics } from '../base/diagnostics/render.js';

export const INTERNAL_ERROR_MESSAGE = 'internal compiler error: medctc hit a bug it could not recover from; please report it with the spec that triggered it';

export function reportFailure(err: unknown, opts: { json?: boolean } = {}): number {
  if (err instanceof DiagnosticError) {
    if (opts.json) process.stdout.write(JSON.stringify({ ok: false, diagnostics: diagnosticsToJson(err.diagnostics, new Map()) }, null, 2) + '\n');
    else process.stderr.write(renderDiagnostics(err.diagnostics, new Map()) + '\n');
    return 2;
  }
  const detail = err instanceof Error ? (err.stack ?? err.message) : String(err);
  if (opts.json) process.stdout.write(JSON.stringify({ ok: false, internalError: INTERNAL_ERROR_MESSAGE, diagnostics: [] }, null, 2) + '\n');
  process.stderr.write(
    'error: internal compiler error: medctc hit a bug it could not recover from.\n' +
      '  = note: this is not a problem with your files; please report it with the spec that triggered it.\n' +
      (process.env.MEDCTC_BACKTRACE ? detail + '\n' : '  = note: set MEDCTC_BACKTRACE=1 for the internal trace\n'),
  );
  return 3;
}

/** A user error the command found itself: rendered (or, with `--json`, written to stdout as `check
 *  --json` does) and exit 2. One place, so every command refuses the same way. */
export function refuse(diags: Diagnostic[], sources: ReadonlyMap<string, string>, opts: { json?: boolean } = {}): void {
  if (opts.json) process.stdout.write(JSON.stringify({ ok: false, diagnostics: diagnosticsToJson(diags, sources) }, null, 2) + '\n');
  else process.stderr.write(renderDiagnostics(diags, sources) + '\n');
  process.exitCode = 2;
}
