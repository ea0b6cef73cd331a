// Regular expressions from users (a spec's `regex "..."` LoRA target; PEFT's `target_modules`,
// `rank_pattern` and `alpha_pattern` from an adapter_config.json) are matched here, never by
// RegExp: JavaScript's engine backtracks, so `(a+)+$` against a long module path takes minutes.
// This is a Thompson NFA simulated Pike-VM style (every live state advanced in lock step), so a
// match costs O(pattern size x input length) whatever the pattern.
//
// The syntax is the part of ECMAScript regex (no flags, code units) that module-path patterns
// use: literals, `.`, classes `[a-z_\d]` / `[^.]`, `\d \w \s` and their negations, escapes
// (`\.`, `\n`, `\xhh`, `\uhhhh`), groups `(...)` `(?:...)` `(?<name>...)`, alternation, `* + ?
// {n} {n,} {n,m}` (lazy forms too: they change which match, not whether), anchors `^ $ \b \B`.
// Backreferences and lookaround (which no linear-time engine can offer) are refused with a
// RegexError, as are other escapes; results equal RegExp's for everything accepted.

export class RegexError extends Error {
  override name = 'RegexError';
}

/** What the matchers in medctc need of a pattern. */
export interface Matcher {
  test(s: string): boolean;
}

/** Longest pattern accepted, and most NFA states (`x{1000}` copies x a thousand times). */
export const MAX_PATTERN_LENGTH = 4096;
export const MAX_STATES = 20_000;
const MAX_COUNT = 1000;
const MAX_DEPTH = 200;

type CharTest = (c: number) => boolean;
type Node =
  | { k: 'char'; test: CharTest }
  | { k: 'seq'; items: Node[] }
  | { k: 'alt'; alts: Node[] }
  | { k: 'rep'; node: Node; min: number; max: number }
  | { k: 'assert'; kind: '^' | '$' | 'b' | 'B' };

const isDigit: CharTest = (c) => c >= 48 && c <= 57;
const isWord: CharTest = (c) => (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c === 95;
// ECMAScript WhiteSpace and LineTerminator.
const isSpace: CharTest = (c) => (c >= 9 && c <= 13) || c === 32 || c === 0xa0 || c === 0x1680 || (c >= 0x2000 && c <= 0x200a) ||
  c === 0x2028 || c === 0x2029 || c === 0x202f || c === 0x205f || c === 0x3000 || c === 0xfeff;
const isLineTerminator: CharTest = (c) => c === 10 || c === 13 || c === 0x2028 || c === 0x2029;
const not = (t: CharTest): CharTest => (c) => !t(c);
const eq = (x: number): CharTest => (c) => c === x;

const BRACES = /\{(\d+)(,(\d*))?\}/y;
const CONTROL_ESCAPES: Record<string, number> = { n: 10, r: 13, t: 9, f: 12, v: 11 };
const CLASS_ESCAPES: Record<string, CharTest> = { d: isDigit, D: not(isDigit), w: isWord, W: not(isWord), s: isSpace, S: not(isSpace) };

class Parser {
  i = 0;
  depth = 0;
  constructor(readonly src: string) {}

  fail(why: string): never {
    throw new RegexError(`invalid pattern \`${this.src.length > 60 ? this.src.slice(0, 60) + '…' : this.src}\`: ${why} (at character ${this.i + 1})`);
  }

  parse(): Node {
    const n = this.alt();
    if (this.i < this.src.length) this.fail('unmatched `)`');
    return n;
  }

  private alt(): Node {
    if (++this.depth > MAX_DEPTH) this.fail(`groups nest deeper than ${MAX_DEPTH}`);
    const alts = [this.seq()];
    while (this.src[this.i] === '|') { this.i++; alts.push(this.seq()); }
    this.depth--;
    return alts.length === 1 ? alts[0]! : { k: 'alt', alts };
  }

  private seq(): Node {
    const items: Node[] = [];
    while (this.i < this.src.length && this.src[this.i] !== '|' && this.src[this.i] !== ')') {
      const atom = this.atom();
      const q = this.quantifier();
      if (q) {
        if (atom.k === 'assert') this.fail('an anchor cannot be repeated');
        items.push({ k: 'rep', node: atom, min: q.min, max: q.max });
      } else items.push(atom);
    }
    return { k: 'seq', items };
  }

  /** `{n}`, `{n,}` or `{n,m}` at the cursor, without consuming it; null if `{` is a literal there. */
  private braces(): { min: number; max: number; end: number } | null {
    BRACES.lastIndex = this.i;
    const m = BRACES.exec(this.src);
    if (!m) return null;
    const min = Number(m[1]), max = m[2] === undefined ? min : m[3] === '' ? Infinity : Number(m[3]);
    return { min, max, end: this.i + m[0].length };
  }

  private quantifier(): { min: number; max: number } | null {
    const ch = this.src[this.i];
    let q: { min: number; max: number } | null = null;
    if (ch === '*') q = { min: 0, max: Infinity };
    else if (ch === '+') q = { min: 1, max: Infinity };
    else if (ch === '?') q = { min: 0, max: 1 };
    if (q) this.i++;
    else if (ch === '{') {
      const b = this.braces();
      if (!b) return null;
      if (b.min > b.max) this.fail('numbers out of order in `{}` quantifier');
      if (b.min > MAX_COUNT || (b.max !== Infinity && b.max > MAX_COUNT)) this.fail(`a count above ${MAX_COUNT} is not supported`);
      this.i = b.end;
      q = { min: b.min, max: b.max };
    }
    if (q && this.src[this.i] === '?') this.i++; // lazy: the same set of matches
    return q;
  }

  private atom(): Node {
    const ch = this.src[this.i]!;
    switch (ch) {
      case '(': return this.group();
      case '[': return this.charClass();
      case '.': this.i++; return { k: 'char', test: not(isLineTerminator) };
      case '^': this.i++; return { k: 'assert', kind: '^' };
      case '$': this.i++; return { k: 'assert', kind: '$' };
      case '*': case '+': case '?': return this.fail('nothing to repeat');
      case '{':
        if (this.braces()) this.fail('nothing to repeat');
        this.i++;
        return { k: 'char', test: eq(123) };
      case '\\': return this.escape();
      default: this.i++; return { k: 'char', test: eq(ch.charCodeAt(0)) };
    }
  }

  private group(): Node {
    this.i++; // (
    if (this.src[this.i] === '?') {
      const rest = this.src.slice(this.i, this.i + 3);
      if (rest.startsWith('?:')) this.i += 2;
      else if (rest.startsWith('?=') || rest.startsWith('?!') || rest.startsWith('?<=') || rest.startsWith('?<!')) this.fail('lookahead and lookbehind are not supported');
      else if (rest.startsWith('?<')) {
        const m = /^\?<([A-Za-z_$][A-Za-z0-9_$]*)>/.exec(this.src.slice(this.i));
        if (!m) this.fail('invalid group name');
        this.i += m[0].length;
      } else if (rest.startsWith('?P')) this.fail('Python\'s `(?P<name>...)` is written `(?<name>...)` here');
      else this.fail('unsupported group `(?`');
    }
    const inner = this.alt();
    if (this.src[this.i] !== ')') this.fail('unterminated group');
    this.i++;
    return inner;
  }

  /** An escape outside a class. */
  private escape(): Node {
    const c = this.src[this.i + 1];
    if (c === 'b' || c === 'B') { this.i += 2; return { k: 'assert', kind: c }; }
    return { k: 'char', test: this.escapeTest(false) };
  }

  /** The characters an escape at the cursor stands for (consumed). */
  private escapeTest(inClass: boolean): CharTest {
    const c = this.src[this.i + 1];
    if (c === undefined) this.fail('`\\` at end of pattern');
    this.i += 2;
    if (CLASS_ESCAPES[c]) return CLASS_ESCAPES[c];
    const code = this.escapeCode(c, inClass);
    return eq(code);
  }

  /** The one character an escape stands for (after `\` and `c` were consumed). */
  private escapeCode(c: string, inClass: boolean): number {
    if (CONTROL_ESCAPES[c] !== undefined) return CONTROL_ESCAPES[c];
    if (c === 'b' && inClass) return 8;
    if (c === '0' && !/[0-9]/.test(this.src[this.i] ?? '')) return 0;
    if (/[1-9]/.test(c)) this.fail(inClass ? 'octal escapes are not supported' : 'backreferences are not supported');
    if (c === 'x' || c === 'u') {
      const n = c === 'x' ? 2 : 4;
      const hex = this.src.slice(this.i, this.i + n);
      if (!new RegExp(`^[0-9A-Fa-f]{${n}}$`).test(hex)) this.fail(`\`\\${c}\` needs ${n} hex digits`);
      this.i += n;
      return parseInt(hex, 16);
    }
    if (/[A-Za-z0-9]/.test(c)) this.fail(`the escape \`\\${c}\` is not supported`);
    return c.charCodeAt(0); // an escaped punctuation character is itself
  }

  private charClass(): Node {
    this.i++; // [
    let negate = false;
    if (this.src[this.i] === '^') { negate = true; this.i++; }
    const parts: CharTest[] = [];
    /** One class atom: a single character code, or a set (`\d`) that cannot bound a range. */
    const classAtom = (): number | CharTest => {
      const ch = this.src[this.i];
      if (ch === undefined) this.fail('unterminated character class');
      if (ch !== '\\') { this.i++; return ch.charCodeAt(0); }
      const c = this.src[this.i + 1];
      if (c !== undefined && CLASS_ESCAPES[c]) { this.i += 2; return CLASS_ESCAPES[c]; }
      if (c === undefined) this.fail('`\\` at end of pattern');
      if (c === '-') { this.i += 2; return 45; }
      this.i += 2;
      return this.escapeCode(c, true);
    };
    while (this.src[this.i] !== ']') {
      if (this.i >= this.src.length) this.fail('unterminated character class');
      const lo = classAtom();
      if (this.src[this.i] === '-' && this.src[this.i + 1] !== ']' && this.i + 1 < this.src.length) {
        this.i++;
        const hi = classAtom();
        if (typeof lo === 'number' && typeof hi === 'number') {
          if (lo > hi) this.fail('range out of order in character class');
          parts.push((c) => c >= lo && c <= hi);
        } else {
          // `[\d-x]`: a class escape cannot bound a range, so `-` is itself (Annex B).
          parts.push(typeof lo === 'number' ? eq(lo) : lo, eq(45), typeof hi === 'number' ? eq(hi) : hi);
        }
        continue;
      }
      parts.push(typeof lo === 'number' ? eq(lo) : lo);
    }
    this.i++; // ]
    const any: CharTest = (c) => parts.some((p) => p(c));
    return { k: 'char', test: negate ? not(any) : any };
  }
}

type State =
  | { op: 'char'; test: CharTest; next: number }
  | { op: 'split'; a: number; b: number }
  | { op: 'assert'; kind: '^' | '$' | 'b' | 'B'; next: number }
  | { op: 'match' };

/** Thompson construction, back to front: each fragment is compiled knowing where it continues. */
function compile(root: Node): State[] {
  const states: State[] = [{ op: 'match' }];
  const push = (s: State): number => {
    if (states.length >= MAX_STATES) throw new RegexError(`pattern too large (more than ${MAX_STATES} states once counts are expanded)`);
    states.push(s);
    return states.length - 1;
  };
  // Recursion is bounded by MAX_DEPTH (group nesting) plus a constant per level.
  const go = (n: Node, next: number): number => {
    switch (n.k) {
      case 'char': return push({ op: 'char', test: n.test, next });
      case 'assert': return push({ op: 'assert', kind: n.kind, next });
      case 'seq': { let at = next; for (let i = n.items.length - 1; i >= 0; i--) at = go(n.items[i]!, at); return at; }
      case 'alt': {
        let at = go(n.alts[n.alts.length - 1]!, next);
        for (let i = n.alts.length - 2; i >= 0; i--) at = push({ op: 'split', a: go(n.alts[i]!, next), b: at });
        return at;
      }
      case 'rep': {
        let at = next;
        if (n.max === Infinity) {
          const loop = push({ op: 'split', a: -1, b: next });
          (states[loop] as { a: number }).a = go(n.node, loop);
          at = loop;
        } else {
          for (let i = 0; i < n.max - n.min; i++) at = push({ op: 'split', a: go(n.node, at), b: next });
        }
        for (let i = 0; i < n.min; i++) at = go(n.node, at);
        return at;
      }
    }
  };
  const start = go(root, 0);
  // The start state last, so the simulation finds it without a search.
  if (start !== states.length - 1) push({ op: 'split', a: start, b: start });
  return states;
}

class SafeRegex implements Matcher {
  private readonly states: State[];
  private readonly start: number;
  constructor(readonly source: string) {
    if (source.length > MAX_PATTERN_LENGTH) throw new RegexError(`pattern longer than ${MAX_PATTERN_LENGTH} characters`);
    this.states = compile(new Parser(source).parse());
    this.start = this.states.length - 1;
  }

  /** Whether the pattern matches anywhere in `s` (RegExp.prototype.test without flags). */
  test(s: string): boolean {
    const states = this.states, n = s.length;
    const mark = new Int32Array(states.length).fill(-1);
    let cur: number[] = [], nxt: number[] = [];
    const stack: number[] = [];
    // Adds `from` and everything reachable from it without consuming a character at `pos`.
    const add = (list: number[], from: number, pos: number): boolean => {
      stack.push(from);
      while (stack.length) {
        const id = stack.pop()!;
        if (mark[id] === pos) continue;
        mark[id] = pos;
        const st = states[id]!;
        switch (st.op) {
          case 'match': stack.length = 0; return true;
          case 'char': list.push(id); break;
          case 'split': stack.push(st.b, st.a); break;
          case 'assert': {
            const before = pos > 0 && isWord(s.charCodeAt(pos - 1)), after = pos < n && isWord(s.charCodeAt(pos));
            const ok = st.kind === '^' ? pos === 0 : st.kind === '$' ? pos === n : st.kind === 'b' ? before !== after : before === after;
            if (ok) stack.push(st.next);
            break;
          }
        }
      }
      return false;
    };
    for (let pos = 0; ; pos++) {
      if (add(cur, this.start, pos)) return true; // a match may start at every position
      if (pos === n) return false;
      const c = s.charCodeAt(pos);
      nxt.length = 0;
      for (const id of cur) {
        const st = states[id] as { test: CharTest; next: number };
        if (st.test(c) && add(nxt, st.next, pos + 1)) return true;
      }
      [cur, nxt] = [nxt, cur];
    }
  }
}

/** Compiles `pattern` (RegexError when it is invalid or outside the supported syntax). */
export function safeRegex(pattern: string): Matcher {
  return new SafeRegex(pattern);
}
