// Rendering diagnostics rustc-style: `error[E2103]: message`, ` --> file:line:col`, the source
// line with carets under the span, secondary labels, then `= help:`.
import type { Diagnostic } from './types.js';

/** `sources` maps file path -> full text, so spans can be shown with their source line. */
export function renderDiagnostics(diags: Diagnostic[], sources: Map<string, string>): string {
  return diags.map((d) => renderOne(d, sources)).join('\n');
}

function renderOne(d: Diagnostic, sources: Map<string, string>): string {
  const out = [`${d.severity}[${d.code}]: ${d.message}`];
  if (d.primary) {
    const text = sources.get(d.primary.file);
    if (text !== undefined) {
      const before = text.slice(0, d.primary.start);
      const line = before.split('\n').length;
      const col = d.primary.start - before.lastIndexOf('\n');
      out.push(`  --> ${d.primary.file}:${line}:${col}`);
    } else {
      out.push(`  --> ${d.primary.file}${d.primary.line ? `:${d.primary.line}` : ''}`);
    }
  }
  if (d.help) out.push(`  = help: ${d.help}`);
  return out.join('\n');
}
