// Text -> AST with syntax diagnostics. Never throws for any input: lexer gaps, parse errors and
// absurd nesting all become E1xxx diagnostics, and the AST holds whatever could be recovered.
import type { CstElement, CstNode, IToken } from 'chevrotain';
import { diag, type DiagnosticCode } from '../base/diagnostics/catalog.js';
import type { Diagnostic } from '../base/diagnostics/types.js';
import type { Block, Comment, Entry, ExperimentDecl, ImportDecl, LetDecl, MedctFile, TopItem, UnitTag, Value } from './ast.js';
import { LBrace, LBracket, RBrace, RBracket, tokenize, UNITS } from './lexer.js';
import { parserInstance } from './parser.js';
import { FIELDS } from './fields.js';

/** Deeper than this is certainly not a real spec, and would only exhaust the parser's stack. */
export const MAX_NESTING = 64;

export interface ParseResult {
  ast: MedctFile;
  diagnostics: Diagnostic[];
}

const FRIENDLY: Record<string, string> = {
  Newline: 'a newline', Semi: '`;`', LBrace: '`{`', RBrace: '`}`', LBracket: '`[`', RBracket: '`]`',
  Comma: '`,`', Equals: '`=`', StringLit: 'a string', BadString: 'a string', NumberLit: 'a number', Ident: 'a name',
  Import: '`import`', Let: '`let`', Const: '`const`', Experiment: '`experiment`', Extends: '`extends`',
  Sweep: '`sweep`', True: '`true`', False: '`false`', EOF: 'end of file',
};

function describe(t: IToken): string {
  if (t.tokenType.name === 'EOF') return 'end of file';
  if (t.tokenType.name === 'Newline') return 'end of line';
  return `\`${t.image.length > 40 ? t.image.slice(0, 40) + '…' : t.image}\``;
}

function expectedFrom(message: string, rule: string): string {
  const m = /--> (\w+) <--/.exec(message);
  if (m && FRIENDLY[m[1]!]) return `expected ${FRIENDLY[m[1]!]}`;
  switch (rule) {
    case 'file': return 'expected `import`, `let`, `const` or `experiment`';
    case 'block': return 'expected a field name or `}`';
    case 'value': case 'list': return 'expected a value: a number, string, name, list or `sweep [...]`';
    case 'letDecl': return 'expected `= value`';
    default: return 'not expected here';
  }
}

/** NUL (a binary file) and the bidirectional controls that make a line display in another order
 *  than it is read ("trojan source"): refused anywhere, strings and comments included. */
const FORBIDDEN = /[\u0000\u202a-\u202e\u2066-\u2069]/g;
const FORBIDDEN_NAMES: Record<number, string> = {
  0x0: 'NUL', 0x202a: 'left-to-right embedding', 0x202b: 'right-to-left embedding', 0x202c: 'pop directional formatting',
  0x202d: 'left-to-right override', 0x202e: 'right-to-left override', 0x2066: 'left-to-right isolate',
  0x2067: 'right-to-left isolate', 0x2068: 'first strong isolate', 0x2069: 'pop directional isolate',
};

/** More syntax errors than this in one file are summed up in one last message: a file that is not
 *  a spec at all (an import gone astray) would otherwise be printed back line by line. */
export const MAX_SYNTAX_DIAGNOSTICS = 20;

export function parseMedct(text: string, file: string): ParseResult {
  const r = parseAll(text, file);
  const errors = r.diagnostics.filter((d) => d.severity === 'error');
  if (errors.length <= MAX_SYNTAX_DIAGNOSTICS) return r;
  const kept = errors.sort((a, b) => (a.primary?.start ?? 0) - (b.primary?.start ?? 0)).slice(0, MAX_SYNTAX_DIAGNOSTICS);
  const next = errors[MAX_SYNTAX_DIAGNOSTICS]!;
  kept.push(diag(next.code as DiagnosticCode, `${errors.length - MAX_SYNTAX_DIAGNOSTICS} more syntax errors in \`${file}\` are not shown`,
    next.primary && { ...next.primary, label: 'the first of them' }, { help: 'is this a .medct spec? fix the errors above and check again' }));
  return { ast: r.ast, diagnostics: kept };
}

function parseAll(text: string, file: string): ParseResult {
  const diagnostics: Diagnostic[] = [];
  for (const m of text.matchAll(FORBIDDEN)) {
    const cp = m[0].charCodeAt(0);
    diagnostics.push(diag('E1006', `forbidden character U+${cp.toString(16).toUpperCase().padStart(4, '0')} (${FORBIDDEN_NAMES[cp]})`,
      { file, start: m.index, end: m.index + 1, label: 'not allowed in a spec, not even in a string or comment' },
      { help: cp === 0 ? 'a NUL byte means this is a binary file, not a .medct spec' : 'bidirectional controls make a line display in another order than medctc reads it; delete it' }));
    if (diagnostics.length > MAX_SYNTAX_DIAGNOSTICS) break;
  }
  const lexed = tokenize(text);
  for (const e of lexed.errors) {
    const ch = text.slice(e.offset, e.offset + e.length);
    if (/[\u0000\u202a-\u202e\u2066-\u2069]/.test(ch)) continue; // E1006 above
    diagnostics.push(diag('E1001', `unexpected character${e.length > 1 ? 's' : ''} \`${ch.length > 20 ? ch.slice(0, 20) + '…' : ch}\``,
      { file, start: e.offset, end: e.offset + e.length, label: 'not part of any token' },
      { help: 'comments start with `#`; strings are written in double quotes' }));
  }
  for (const t of lexed.tokens) {
    if (t.tokenType.name === 'BadString') {
      diagnostics.push(diag('E1003', 'unterminated string', { file, start: t.startOffset, end: t.endOffset! + 1, label: 'this string has no closing `"`' },
        { help: 'close the string with `"` on the same line', fix: { description: 'add the closing quote', edits: [{ span: { file, start: t.endOffset! + 1, end: t.endOffset! + 1 }, replacement: '"' }] } }));
    }
  }
  const comments: Comment[] = lexed.comments.map((c) => ({ start: c.startOffset, end: c.endOffset! + 1, text: c.image }));

  // Chevrotain recurses per nesting level; refuse pathological depth before it can overflow.
  let depth = 0;
  for (const t of lexed.tokens) {
    if (t.tokenType === LBrace || t.tokenType === LBracket) depth++;
    else if (t.tokenType === RBrace || t.tokenType === RBracket) depth = Math.max(0, depth - 1);
    if (depth > MAX_NESTING) {
      diagnostics.push(diag('E1005', `brackets and braces nest deeper than ${MAX_NESTING} levels`, { file, start: t.startOffset, end: t.endOffset! + 1, label: 'too deep' },
        { help: 'a spec never needs this much nesting; check for unbalanced brackets' }));
      return { ast: { items: [], comments }, diagnostics };
    }
  }

  const parser = parserInstance();
  parser.input = lexed.tokens;
  const cst = parser.file();
  const seenLines = new Set<number>();
  // An unterminated string swallows the rest of its line (often a closing brace); the parse
  // error that follows at end of file is the same mistake, already reported as E1003.
  const badString = lexed.tokens.some((t) => t.tokenType.name === 'BadString');
  for (const e of parser.errors) {
    const t = e.token;
    const start = Number.isFinite(t.startOffset) ? t.startOffset : text.length;
    const end = Number.isFinite(t.endOffset) ? t.endOffset! + 1 : text.length;
    const line = Number.isFinite(t.startLine) ? t.startLine! : -1;
    // One mistake, one message: recovery often reports the same spot again a token later.
    if (seenLines.has(line) || (badString && t.tokenType.name === 'EOF')) continue;
    seenLines.add(line);
    const rule = e.context.ruleStack[e.context.ruleStack.length - 1] ?? 'file';
    diagnostics.push(diag('E1002', `unexpected ${describe(t)}`, { file, start, end, label: expectedFrom(e.message, rule) },
      { help: helpFor(rule) }));
  }
  const conv = new Converter(text, file, diagnostics);
  const ast: MedctFile = { items: conv.topItems(cst), comments };
  return { ast, diagnostics };
}

function helpFor(rule: string): string {
  switch (rule) {
    case 'block': case 'entry': return 'each line in a block is `field value...`, optionally followed by `{ ... }`; separate fields on one line with `;`';
    case 'list': case 'value': return 'lists are written `[a, b, c]`';
    case 'experimentDecl': return 'an experiment is written `experiment "name" [extends "parent"] { ... }`';
    default: return 'a file holds `import "file.medct"`, `let NAME = value` and `experiment "name" { ... }`';
  }
}

const isNode = (e: CstElement): e is CstNode => (e as CstNode).children !== undefined;
const tok = (e: CstElement | undefined): IToken | undefined => (e && !isNode(e) && Number.isFinite(e.startOffset) ? e : undefined);

class Converter {
  constructor(private readonly text: string, private readonly file: string, private readonly diags: Diagnostic[]) {}

  private children(n: CstNode, key: string): CstElement[] {
    return n.children[key] ?? [];
  }

  /** All child elements of `n` in source order. */
  private ordered(n: CstNode): CstElement[] {
    const all: CstElement[] = [];
    // Not `push(...list)`: a file of 150,000 blank lines is one list of 150,000 tokens, past V8's argument limit.
    for (const list of Object.values(n.children)) for (const e of list) all.push(e);
    const off = (e: CstElement): number => (isNode(e) ? (e.location?.startOffset ?? Infinity) : e.startOffset);
    return all.filter((e) => Number.isFinite(off(e))).sort((a, b) => off(a) - off(b));
  }

  /** Constant names: a constant named like a field is a value, not the start of a new entry. */
  private constants = new Set<string>();

  topItems(n: CstNode): TopItem[] {
    const items: TopItem[] = [];
    for (const c of this.children(n, 'letDecl')) {
      const name = isNode(c) ? tok(this.children(c, 'Ident')[0]) : undefined;
      if (name) this.constants.add(name.image);
    }
    for (const c of this.ordered(n)) {
      if (!isNode(c)) continue;
      const item = c.name === 'importDecl' ? this.importDecl(c) : c.name === 'letDecl' ? this.letDecl(c) : c.name === 'experimentDecl' ? this.experimentDecl(c) : null;
      if (item) items.push(item);
    }
    return items;
  }

  private span(n: CstNode): { start: number; end: number } {
    const s = n.location?.startOffset, e = n.location?.endOffset;
    return { start: Number.isFinite(s) ? s! : 0, end: Number.isFinite(e) ? e! + 1 : (Number.isFinite(s) ? s! : 0) };
  }

  private importDecl(n: CstNode): ImportDecl | null {
    const s = tok(this.children(n, 'StringLit')[0]);
    if (!s) return null;
    return { kind: 'import', path: this.str(s), pathPos: { start: s.startOffset, end: s.endOffset! + 1 }, ...this.span(n) };
  }

  private letDecl(n: CstNode): LetDecl | null {
    const name = tok(this.children(n, 'Ident')[0]);
    if (!name) return null;
    const values = this.foldUnits(this.children(n, 'value').filter(isNode).map((v) => this.value(v)));
    const first = values[0];
    const value: Value = first ?? { kind: 'error', start: name.startOffset, end: name.endOffset! + 1 };
    if (values.length > 1) {
      const extra = values[1]!;
      this.diags.push(diag('E1002', 'a constant holds one value', { file: this.file, start: extra.start, end: values[values.length - 1]!.end, label: 'unexpected extra value' },
        { help: 'write a list `[a, b]` to hold several values' }));
    }
    return { kind: 'let', constant: this.children(n, 'Const').length > 0, name: name.image, namePos: { start: name.startOffset, end: name.endOffset! + 1 }, value, ...this.span(n) };
  }

  private experimentDecl(n: CstNode): ExperimentDecl | null {
    const name = tok(this.children(n, 'name')[0]);
    const blockNode = this.children(n, 'block').filter(isNode)[0];
    if (!name || !blockNode) return null;
    const parent = tok(this.children(n, 'parent')[0]);
    return {
      kind: 'experiment', name: this.str(name), namePos: { start: name.startOffset, end: name.endOffset! + 1 },
      parent: parent ? { name: this.str(parent), start: parent.startOffset, end: parent.endOffset! + 1 } : null,
      block: this.block(blockNode, ''), ...this.span(n),
    };
  }

  private block(n: CstNode, path: string | null): Block {
    const entries: Entry[] = [];
    for (const c of this.children(n, 'entry')) if (isNode(c)) for (const e of this.entry(c, path)) entries.push(e);
    entries.sort((a, b) => a.start - b.start);
    return { entries, ...this.span(n) };
  }

  /** One entry, or several when fields share a line: in a block at a known `path`, a bare name
   *  that is one of the block's fields (grammar/fields.ts) starts the next entry. */
  private entry(n: CstNode, path: string | null): Entry[] {
    const key = tok(this.children(n, 'key')[0]);
    if (!key) return [];
    const fields = path === null ? undefined : FIELDS[path];
    const args = this.foldUnits(this.children(n, 'value').filter(isNode).map((v) => this.value(v)).sort((a, b) => a.start - b.start), fields);
    const heads: { name: string; pos: { start: number; end: number }; args: Value[] }[] = [{ name: key.image, pos: { start: key.startOffset, end: key.endOffset! + 1 }, args: [] }];
    for (const a of args) {
      if (a.kind === 'ident' && fields?.includes(a.name) && !this.constants.has(a.name)) heads.push({ name: a.name, pos: { start: a.start, end: a.end }, args: [] });
      else heads[heads.length - 1]!.args.push(a);
    }
    const out: Entry[] = heads.map((h) => ({
      kind: 'entry', key: h.name, keyPos: h.pos, args: h.args, block: null, start: h.pos.start,
      end: h.args.length ? h.args[h.args.length - 1]!.end : h.pos.end,
    }));
    const b = this.children(n, 'block').filter(isNode)[0];
    if (b) {
      const last = out[out.length - 1]!;
      const childPath = path === null || !fields?.includes(last.key) ? null : path ? `${path}.${last.key}` : last.key;
      last.block = this.block(b, childPath);
      last.end = last.block.end;
    }
    return out;
  }

  /** `[1, 2] mm`: a unit name right after a number, list or sweep belongs to that value, unless
   *  it is also a field of the block (`batch 4 epochs 10` in `train` is two entries). */
  private foldUnits(values: Value[], fields?: readonly string[]): Value[] {
    const out: Value[] = [];
    for (const v of values) {
      const prev = out[out.length - 1];
      if (v.kind === 'ident' && (UNITS as readonly string[]).includes(v.name) && !fields?.includes(v.name) && prev &&
          (prev.kind === 'number' || prev.kind === 'list' || prev.kind === 'sweep') && prev.unit === null) {
        const unit: UnitTag = { name: v.name, start: v.start, end: v.end };
        out[out.length - 1] = { ...prev, unit, end: v.end };
        continue;
      }
      out.push(v);
    }
    return out;
  }

  private value(n: CstNode): Value {
    const sp = this.span(n);
    const t = tok(this.ordered(n).find((c) => !isNode(c)));
    const listNode = this.children(n, 'list').filter(isNode)[0];
    if (this.children(n, 'Sweep').length && listNode) {
      return { kind: 'sweep', items: this.listItems(listNode), unit: null, ...sp };
    }
    if (listNode) return { kind: 'list', items: this.listItems(listNode), unit: null, ...sp };
    if (!t) return { kind: 'error', ...sp };
    const pos = { start: t.startOffset, end: t.endOffset! + 1 };
    switch (t.tokenType.name) {
      case 'NumberLit': {
        const value = Number(t.image);
        if (!Number.isFinite(value)) {
          this.diags.push(diag('E1004', `number \`${t.image.slice(0, 30)}\` is too large`, { file: this.file, ...pos, label: 'not a finite number' }, { help: 'numbers must be finite 64-bit floats' }));
          return { kind: 'error', ...pos };
        }
        return { kind: 'number', value, raw: t.image, unit: null, ...pos };
      }
      case 'StringLit': case 'BadString': return { kind: 'string', value: this.str(t), raw: t.image, ...pos };
      case 'Ident': return { kind: 'ident', name: t.image, ...pos };
      case 'True': return { kind: 'bool', value: true, ...pos };
      case 'False': return { kind: 'bool', value: false, ...pos };
      default: return { kind: 'error', ...pos };
    }
  }

  private listItems(n: CstNode): Value[] {
    return this.children(n, 'value').filter(isNode).map((v) => this.value(v)).sort((a, b) => a.start - b.start);
  }

  /** The string a literal denotes (JSON escapes). A bad escape is reported and kept verbatim. */
  private str(t: IToken): string {
    const raw = t.tokenType.name === 'BadString' ? t.image.replace(/\\$/, '') + '"' : t.image;
    const json = raw.replace(/\u0000/g, '\\u0000'); // a NUL is E1006 already, not also a bad escape
    try {
      return JSON.parse(json) as string;
    } catch {
      this.diags.push(diag('E1004', 'invalid escape in string', { file: this.file, start: t.startOffset, end: t.endOffset! + 1, label: 'escapes are \\" \\\\ \\n \\t \\uXXXX' },
        { help: 'write a backslash as `\\\\`' }));
      return raw.slice(1, -1);
    }
  }
}
