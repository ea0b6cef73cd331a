// The one catalog of diagnostic codes, assembled from the per-phase tables in ./codes.
// Ranges: 0xxx command line, 1xxx syntax, 2xxx checking, 3xxx graph/LoRA, 4xxx codegen, 5xxx runtime/data.
// Loading this module fails loudly if two phases claim the same code or a code sits outside its range.
import type { Diagnostic, LabelledSpan, Fix, Severity } from './types.js';
import { USAGE_CODES } from './codes/usage.js';
import { SYNTAX_CODES } from './codes/syntax.js';
import { CHECK_CODES } from './codes/check.js';
import { GRAPH_CODES } from './codes/graph.js';
import { CODEGEN_CODES } from './codes/codegen.js';
import { DATA_CODES } from './codes/data.js';
import { RUNTIME_CODES } from './codes/runtime.js';

const TABLES: [string, Record<string, string>][] = [
  ['0', USAGE_CODES], ['1', SYNTAX_CODES], ['2', CHECK_CODES], ['3', GRAPH_CODES], ['4', CODEGEN_CODES], ['5', DATA_CODES],
  ['5', RUNTIME_CODES],
];

export type DiagnosticCode =
  | keyof typeof USAGE_CODES | keyof typeof SYNTAX_CODES | keyof typeof CHECK_CODES | keyof typeof GRAPH_CODES
  | keyof typeof CODEGEN_CODES | keyof typeof DATA_CODES | keyof typeof RUNTIME_CODES;

export const CATALOG: ReadonlyMap<string, string> = (() => {
  const all = new Map<string, string>();
  for (const [digit, table] of TABLES) {
    for (const [code, title] of Object.entries(table)) {
      if (!/^[EW]\d{4}$/.test(code) || code[1] !== digit) throw new Error(`diagnostic catalog: ${code} is outside the ${digit}xxx range`);
      if (all.has(code)) throw new Error(`diagnostic catalog: duplicate code ${code}`);
      all.set(code, title);
    }
  }
  return all;
})();

/** Builds a diagnostic for a catalogued code. Severity follows the code's letter (E error, W warning). */
export function diag(
  code: DiagnosticCode,
  message: string,
  primary: LabelledSpan | null,
  extra: { secondary?: LabelledSpan[]; help?: string; fix?: Fix; severity?: Severity } = {},
): Diagnostic {
  return {
    code,
    severity: extra.severity ?? ((code as string).startsWith('W') ? 'warning' : 'error'),
    message,
    primary,
    secondary: extra.secondary ?? [],
    help: extra.help ?? null,
    fix: extra.fix ?? null,
  };
}
