// The `.medct` front end: tokens, grammar, AST and the canonical formatter.
export { parseMedct, MAX_NESTING, type ParseResult } from './parse.js';
export { formatMedct } from './format.js';
export { UNITS, type Unit } from './lexer.js';
export * from './ast.js';
