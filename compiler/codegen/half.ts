// 16-bit bindings in kernel bodies (KernelSpec.half). Bodies are written once against f32
// buffers (`x[i]` reads, `y[i] = v;` writes); for a kernel with 16-bit bindings every access of
// such a binding is rewritten into the target's load (widen to f32, exact) and store (round to
// nearest even) spellings, so no body knows about storage types and arithmetic stays f32. Any
// other use of a 16-bit binding's name (pointer arithmetic, passing the buffer on) is refused:
// a body that does that must handle 16-bit storage itself (KernelProgram.halfAware).
import type { Binding } from '../kernels/bindings.js';
import type { Target } from './target.js';

const isIdent = (c: string | undefined): boolean => c !== undefined && /[A-Za-z0-9_]/.test(c);

/** Index of the bracket closing the one opened at `open` (depth counted over ()[]{}), or -1. */
function closing(s: string, open: number): number {
  let depth = 0;
  for (let i = open; i < s.length; i++) {
    const c = s[i]!;
    if (c === '(' || c === '[' || c === '{') depth++;
    else if (c === ')' || c === ']' || c === '}') { depth--; if (depth === 0) return i; }
  }
  return -1;
}

/** End (index of the `;`) of the statement whose right-hand side starts at `from`. */
function statementEnd(s: string, from: number): number {
  let depth = 0;
  for (let i = from; i < s.length; i++) {
    const c = s[i]!;
    if (c === '(' || c === '[' || c === '{') depth++;
    else if (c === ')' || c === ']' || c === '}') depth--;
    else if (c === ';' && depth === 0) return i;
  }
  return -1;
}

/** Rewrites one line's accesses of the 16-bit bindings `half` for target T. */
export function rewriteLine(line: string, half: ReadonlyMap<string, Binding>, T: Target, where: string): string {
  let out = '';
  let i = 0;
  while (i < line.length) {
    const c = line[i]!;
    if (line.startsWith('//', i)) { out += line.slice(i); break; }
    if (line.startsWith('/*', i)) {
      const e = line.indexOf('*/', i + 2);
      const stop = e < 0 ? line.length : e + 2;
      out += line.slice(i, stop); i = stop; continue;
    }
    if (!isIdent(c) || isIdent(line[i - 1])) { out += c; i++; continue; }
    let j = i;
    while (isIdent(line[j])) j++;
    const name = line.slice(i, j);
    const b = half.get(name);
    if (!b || line[i - 1] === '.') { out += name; i = j; continue; }
    if (line[j] !== '[') throw new Error(`codegen: ${where}: 16-bit binding ${name} is used other than by index ("${line.trim()}"); the body must handle 16-bit storage itself`);
    const close = closing(line, j);
    if (close < 0) throw new Error(`codegen: ${where}: unbalanced index of ${name} in "${line.trim()}"`);
    const idx = rewriteLine(line.slice(j + 1, close), half, T, where);
    const rest = line.slice(close + 1);
    const assign = /^\s*([+\-*]?)=(?!=)/.exec(rest);
    if (assign) {
      const rhsStart = close + 1 + assign[0].length;
      const end = statementEnd(line, rhsStart);
      if (end < 0) throw new Error(`codegen: ${where}: store to ${name} without a closing ';' in "${line.trim()}"`);
      const rhs = rewriteLine(line.slice(rhsStart, end), half, T, where).trim();
      const value = assign[1] ? `${T.loadHalf(b, idx)} ${assign[1]} (${rhs})` : rhs;
      out += T.storeHalf(b, idx, value);
      i = end + 1;
    } else {
      out += T.loadHalf(b, idx);
      i = close + 1;
    }
  }
  return out;
}

/** The body with every access of a 16-bit binding rewritten (unchanged when there is none). */
export function rewriteHalf(body: string[], bindings: Binding[], T: Target, where: string): string[] {
  const half = new Map(bindings.filter((b) => b.dtype === 'bf16' || b.dtype === 'f16').map((b) => [b.name, b]));
  if (!half.size) return body;
  return body.map((l) => rewriteLine(l, half, T, where));
}
