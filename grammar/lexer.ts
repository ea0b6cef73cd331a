// Tokens of `.medct`. Newlines end entries (so `rank 24` needs no `;`), except inside `[...]`
// where a list may span lines: `tokenize` drops those newlines after lexing.
import { createToken, Lexer, type IToken, type TokenType } from 'chevrotain';

export const WhiteSpace = createToken({ name: 'WhiteSpace', pattern: /[ \t\r\f\uFEFF]+/, group: Lexer.SKIPPED });
export const Comment = createToken({ name: 'Comment', pattern: /#[^\n]*/, group: 'comments' });
export const Newline = createToken({ name: 'Newline', pattern: /\n/, line_breaks: true });
export const Semi = createToken({ name: 'Semi', pattern: /;/ });
export const LBrace = createToken({ name: 'LBrace', pattern: /\{/ });
export const RBrace = createToken({ name: 'RBrace', pattern: /\}/ });
export const LBracket = createToken({ name: 'LBracket', pattern: /\[/ });
export const RBracket = createToken({ name: 'RBracket', pattern: /\]/ });
export const Comma = createToken({ name: 'Comma', pattern: /,/ });
export const Equals = createToken({ name: 'Equals', pattern: /=/ });
export const StringLit = createToken({ name: 'StringLit', pattern: /"(?:[^"\\\n]|\\[^\n])*"/ });
/** A string without its closing quote: kept as a token so the parser goes on; reported as E1003. */
export const BadString = createToken({ name: 'BadString', pattern: /"(?:[^"\\\n]|\\[^\n])*\\?/ });
export const NumberLit = createToken({ name: 'NumberLit', pattern: /-?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?/ });
export const Ident = createToken({ name: 'Ident', pattern: /[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*/ });

const keyword = (name: string, word: string): TokenType =>
  createToken({ name, pattern: new RegExp(`${word}(?![A-Za-z0-9_.])`), longer_alt: Ident });
export const Import = keyword('Import', 'import');
export const Let = keyword('Let', 'let');
export const Const = keyword('Const', 'const');
export const Experiment = keyword('Experiment', 'experiment');
export const Extends = keyword('Extends', 'extends');
export const Sweep = keyword('Sweep', 'sweep');
export const True = keyword('True', 'true');
export const False = keyword('False', 'false');

export const ALL_TOKENS: TokenType[] = [
  WhiteSpace, Comment, Newline, Semi, LBrace, RBrace, LBracket, RBracket, Comma, Equals,
  StringLit, BadString, NumberLit,
  Import, Let, Const, Experiment, Extends, Sweep, True, False, Ident,
];

/** Units a number or list may carry; lexically plain identifiers, recognised by the parser right after a value. */
export const UNITS = ['HU', 'mm', 'voxels', 'steps', 'epochs'] as const;
export type Unit = (typeof UNITS)[number];

const lexer = new Lexer(ALL_TOKENS, { positionTracking: 'full', ensureOptimizations: false });

export interface LexResult {
  tokens: IToken[];
  comments: IToken[];
  /** Characters no token matched: offset and length. */
  errors: { offset: number; length: number }[];
}

export function tokenize(text: string): LexResult {
  const r = lexer.tokenize(text);
  const tokens: IToken[] = [];
  let depth = 0;
  for (const t of r.tokens) {
    if (t.tokenType === LBracket) depth++;
    else if (t.tokenType === RBracket) depth = Math.max(0, depth - 1);
    else if (t.tokenType === LBrace || t.tokenType === RBrace) depth = 0; // a stray `[` must not swallow the rest of the file's newlines
    if (t.tokenType === Newline && depth > 0) continue;
    tokens.push(t);
  }
  return {
    tokens,
    comments: (r.groups['comments'] ?? []) as IToken[],
    errors: r.errors.map((e) => ({ offset: e.offset, length: e.length })),
  };
}
