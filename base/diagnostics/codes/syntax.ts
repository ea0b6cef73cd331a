// Diagnostic codes E1xxx. One entry per code: its one-line title (the message says the specifics).
// Codes are never reused or renumbered once released.
export const SYNTAX_CODES = {
  E1001: 'unexpected character',
  E1002: 'syntax error',
  E1003: 'unterminated string',
  E1004: 'invalid literal',
  E1005: 'nesting too deep',
  E1006: 'forbidden character',
  E1007: 'spec too large',
} as const satisfies Record<string, string>;
