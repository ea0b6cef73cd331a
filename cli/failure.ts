// Turning anything thrown into what the user sees: a DiagnosticError is a user error (exit 2),
// rendered like any diagnostic; everything else is a bug in medctc (exit 3, "please report").
import { DiagnosticError } from '../compiler/diagnostics/types.js';
import { renderDiagnostics } from '../compiler/diagnostics/render.js';

export function reportFailure(err: unknown, opts: { json?: boolean } = {}): number {
  if (err instanceof DiagnosticError) {
    if (opts.json) process.stdout.write(JSON.stringify({ ok: false, diagnostics: err.diagnostics }, null, 2) + '\n');
    else process.stderr.write(renderDiagnostics(err.diagnostics, new Map()) + '\n');
    return 2;
  }
  const detail = err instanceof Error ? (err.stack ?? err.message) : String(err);
  process.stderr.write(
    'error: internal compiler error: medctc hit a bug it could not recover from.\n' +
      '  = note: this is not a problem with your files; please report it with the spec that triggered it.\n' +
      (process.env.MEDCTC_BACKTRACE ? detail + '\n' : '  = note: set MEDCTC_BACKTRACE=1 for the internal trace\n'),
  );
  return 3;
}
