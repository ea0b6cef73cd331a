// Where a run-time diagnostic about a spec value points: the value's token in the spec (from the
// IR's provenance and the source text the CLI read), so a mistake found only when the run starts
// (a vocabulary of the wrong size, a warmup longer than training) is shown at the field that
// causes it, not at line 1:1. Without the source text (a build folder run on its own) the span
// keeps the provenance's line; a value left at its default points at the spec file as a whole.
import type { LabelledSpan } from '../../base/diagnostics/types.js';
import type { ResolvedExperiment } from '../../compiler/ir/experiment.js';
import { spanFor, type Sources } from '../../compiler/passes/provenance.js';

/** The span of the first of `pointers` (JSON Pointers into the IR) that the spec wrote, else the spec file. */
export type SpecAt = (pointers: readonly string[], label?: string) => LabelledSpan;

export function specAt(exp: ResolvedExperiment, sources: Sources | undefined, source: string): SpecAt {
  return (pointers, label) => {
    const s = spanFor(exp, sources, ...pointers) ?? { file: source, start: 0, end: 0 };
    return label === undefined ? s : { ...s, label };
  };
}

/** A locator that knows no positions: every span is the file `source` (tests, callers without an IR). */
export const fileAt = (source: string): SpecAt => (_pointers, label) => (label === undefined ? { file: source, start: 0, end: 0 } : { file: source, start: 0, end: 0, label });

/** `source` as the run options give it: a file name or a locator. */
export const toSpecAt = (source: string | SpecAt): SpecAt => (typeof source === 'string' ? fileAt(source) : source);
