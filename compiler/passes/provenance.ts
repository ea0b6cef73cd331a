// Spans for diagnostics about IR values: the IR's provenance map gives file:line:col for a JSON
// Pointer; with the source text at hand the span covers the value's token (a quoted string whole).
import type { Span } from '../../base/diagnostics/types.js';
import type { ResolvedExperiment } from '../ir/experiment.js';

export type Sources = ReadonlyMap<string, string>;

function offsetOf(text: string, line: number, col: number): number {
  let off = 0;
  for (let l = 1; l < line; l++) {
    const nl = text.indexOf('\n', off);
    if (nl < 0) return text.length;
    off = nl + 1;
  }
  return Math.min(text.length, off + col - 1);
}

/** Span of the value at `pointer` (first of `pointers` that has a source position), or null. */
export function spanFor(exp: ResolvedExperiment, sources: Sources | undefined, ...pointers: string[]): Span | null {
  for (const p of pointers) {
    const prov = exp.provenance[p];
    if (!prov || prov.kind === 'default') continue;
    const text = sources?.get(prov.file);
    if (text === undefined) return { file: prov.file, start: 0, end: 0, line: prov.line };
    const start = offsetOf(text, prov.line, prov.col);
    let end = start;
    const q = text[start];
    if (q === '"' || q === "'" || q === '`') {
      end = text.indexOf(q, start + 1);
      end = end < 0 ? start + 1 : end + 1;
    } else {
      while (end < text.length && /[^\s,;)}\]]/.test(text[end]!)) end++;
    }
    return { file: prov.file, start, end: Math.max(end, start + 1) };
  }
  return null;
}

/** The command-line overrides (`--set ARG`) that set values of `exp`, in command-line order, from
 *  its provenance; a sweep written on the command line is listed as the variant's binding. */
export function overridesOf(exp: ResolvedExperiment): string[] {
  const found = new Map<string, number>();
  for (const p of Object.values(exp.provenance)) {
    if (p.kind === 'override' && !found.has(p.arg)) found.set(p.arg, p.line);
  }
  for (const [k, v] of Object.entries(exp.variant?.bindings ?? {})) {
    const p = exp.provenance[`/variant/bindings/${k.replace(/~/g, '~0').replace(/\//g, '~1')}`];
    if (p && p.kind === 'sweep' && p.file === '<command line>') found.set(`${k}=${JSON.stringify(v)} (sweep)`, p.line);
  }
  return [...found].sort((a, b) => a[1] - b[1]).map(([arg]) => arg);
}
