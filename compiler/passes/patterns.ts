// Module-path patterns of LoRA targets and modules_to_save: medctc's dotted glob, PEFT-style
// regex, brace expansion (so each alternative is checked on its own) and "did you mean" search.

import { RegexError, safeRegex, type Matcher } from '../../base/regex.js';

export class PatternError extends Error {
  override name = 'PatternError';
}

export type { Matcher } from '../../base/regex.js';

/** Splits on top-level dots (dots inside `{...}` belong to an alternative). */
function segments(glob: string): string[] {
  const out: string[] = [];
  let depth = 0, cur = '';
  for (const ch of glob) {
    if (ch === '{') depth++;
    if (ch === '}') { depth--; if (depth < 0) throw new PatternError(`unbalanced \`}\` in \`${glob}\``); }
    if (ch === '.' && depth === 0) { out.push(cur); cur = ''; } else cur += ch;
  }
  if (depth !== 0) throw new PatternError(`unclosed \`{\` in \`${glob}\``);
  out.push(cur);
  if (out.some((s) => s === '')) throw new PatternError(`empty path segment in \`${glob}\``);
  return out;
}

const escape = (s: string): string => s.replace(/[\\^$+?.()|[\]{}*]/g, '\\$&');

function segmentRegex(seg: string): string {
  if (seg.includes('**')) throw new PatternError('`**` must be a whole path segment');
  let out = '', i = 0;
  while (i < seg.length) {
    const ch = seg[i]!;
    if (ch === '*') { out += '[^.]*'; i++; continue; }
    if (ch === '{') {
      let depth = 0, j = i;
      for (; j < seg.length; j++) { if (seg[j] === '{') depth++; if (seg[j] === '}' && --depth === 0) break; }
      const alts = splitAlternatives(seg.slice(i + 1, j));
      out += `(?:${alts.map((a) => a.split('.').map(segmentRegex).join('\\.')).join('|')})`;
      i = j + 1;
      continue;
    }
    out += escape(ch);
    i++;
  }
  return out;
}

function splitAlternatives(body: string): string[] {
  const alts: string[] = [];
  let depth = 0, cur = '';
  for (const ch of body) {
    if (ch === '{') depth++;
    if (ch === '}') depth--;
    if (ch === ',' && depth === 0) { alts.push(cur); cur = ''; } else cur += ch;
  }
  alts.push(cur);
  if (alts.some((a) => a === '')) throw new PatternError(`empty alternative in \`{${body}}\``);
  return alts;
}

/** Matcher for a glob: matches a path whose trailing segments the glob matches. */
export function globRegex(glob: string): Matcher {
  const segs = segments(glob);
  let body = '', sep = false;
  segs.forEach((seg, i) => {
    if (seg === '**') {
      if (segs.length === 1) { body = '[^.]+(?:\\.[^.]+)*'; return; }
      if (i === segs.length - 1) body += '(?:\\.[^.]+)*';
      else { body += (sep ? '\\.' : '') + '(?:[^.]+\\.)*'; sep = false; }
      return;
    }
    body += (sep ? '\\.' : '') + segmentRegex(seg);
    sep = true;
  });
  return linear(`^(?:.*\\.)?(?:${body})$`);
}

/** A user's regex, matched in linear time (base/regex.ts): it must match the whole path. It is
 *  parsed on its own first, so `a)|(b` is an error rather than a different pattern once wrapped. */
export function regexPattern(pattern: string): Matcher {
  linear(pattern);
  return linear(`^(?:${pattern})$`);
}

function linear(source: string): Matcher {
  try {
    return safeRegex(source);
  } catch (e) {
    if (e instanceof RegexError) throw new PatternError(e.message);
    throw e;
  }
}

/** `a.{b,c}.d` -> [`a.b.d`, `a.c.d`]: each alternative must match something on its own. */
export function expandBraces(glob: string): string[] {
  const open = glob.indexOf('{');
  if (open < 0) return [glob];
  let depth = 0, close = open;
  for (; close < glob.length; close++) { if (glob[close] === '{') depth++; if (glob[close] === '}' && --depth === 0) break; }
  if (close >= glob.length) throw new PatternError(`unclosed \`{\` in \`${glob}\``);
  const head = glob.slice(0, open), tail = glob.slice(close + 1);
  return splitAlternatives(glob.slice(open + 1, close)).flatMap((alt) => expandBraces(head + alt + tail));
}

function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) cur.push(Math.min(prev[j]! + 1, cur[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1)));
    prev = cur;
  }
  return prev[b.length]!;
}

/**
 * Up to `n` real module-path suffixes closest to `pattern` (edit distance), with layer numbers
 * written as the pattern wrote them (or `*`) so one suggestion stands for every layer. Suffixes have the pattern's segment count.
 */
export function nearestPaths(pattern: string, paths: readonly string[], n = 3): string[] {
  const want = pattern.split('.');
  const k = want.length;
  const seen = new Map<string, number>();
  for (const p of paths) {
    const segs = p.split('.').slice(-k);
    const off = k - segs.length;
    // A layer number is shown as the pattern wrote that position (`*` or a number), else `*`.
    const suffix = segs.map((s, i) => (/^\d+$/.test(s) ? (/^(\*|\d+)$/.test(want[i + off]!) ? want[i + off]! : '*') : s)).join('.');
    if (!seen.has(suffix)) seen.set(suffix, editDistance(pattern, suffix));
  }
  return [...seen.entries()].sort((a, b) => a[1] - b[1] || (a[0] < b[0] ? -1 : 1)).slice(0, n).map(([s]) => s);
}
