// Diagnostics: the one shape every user-facing error takes, from the parser to the data loaders.
// Positions are byte offsets into the source text; line and column are computed when rendering.
// Codes by phase: 0xxx command line, 1xxx syntax, 2xxx checking, 3xxx graph/LoRA, 4xxx codegen, 5xxx runtime/data.

export type Severity = 'error' | 'warning' | 'note';

export interface Span {
  /** Path as shown to the user (relative to the working directory when possible). */
  file: string;
  /** Offsets into the file's text, [start, end). For non-source files (CSV, NIfTI) use 0/0 and `line`. */
  start: number;
  end: number;
  /** For files that are not held as source text (a CSV row, say): 1-based line, optional. */
  line?: number;
}

export interface LabelledSpan extends Span {
  label?: string;
}

export interface Fix {
  /** What applying it does, e.g. "replace with `to_kv`". */
  description: string;
  edits: { span: Span; replacement: string }[];
}

export interface Diagnostic {
  code: string;          // e.g. "E2103"
  severity: Severity;
  message: string;
  primary: LabelledSpan | null;
  secondary: LabelledSpan[];
  help: string | null;
  fix: Fix | null;
}

/** Thrown by stages (data loading, weight I/O) that cannot return diagnostics as values;
 *  the CLI renders it like any diagnostic and exits 2. Anything else thrown is an internal error (exit 3). */
export class DiagnosticError extends Error {
  readonly diagnostics: Diagnostic[];
  constructor(diagnostics: Diagnostic | Diagnostic[]) {
    const list = Array.isArray(diagnostics) ? diagnostics : [diagnostics];
    super(list.map((d) => `${d.code}: ${d.message}`).join('\n'));
    this.name = 'DiagnosticError';
    this.diagnostics = list;
  }
}

/** Convenience for errors about a whole file or a row of it (no source text held). */
export function fileDiagnostic(code: string, message: string, file: string, opts: { line?: number; help?: string; label?: string } = {}): Diagnostic {
  return {
    code,
    severity: 'error',
    message,
    primary: { file, start: 0, end: 0, line: opts.line, label: opts.label },
    secondary: [],
    help: opts.help ?? null,
    fix: null,
  };
}
