// Rendering diagnostics rustc-style: `error[E2103]: message`, ` --> file:line:col`, the source
// line with carets under the primary span and dashes under secondary spans (each with its
// label), then `= help:` and the suggested fix. Colour follows picocolors (NO_COLOR, non-TTY off).
import pc from 'picocolors';
import type { Diagnostic, LabelledSpan } from './types.js';

export interface RenderOptions {
  /** Force colour on or off; default: `colorByDefault()`. */
  color?: boolean;
}

/** Colour when stderr (where diagnostics go) is a terminal, unless NO_COLOR is set; FORCE_COLOR forces it. */
export function colorByDefault(env: NodeJS.ProcessEnv = process.env, isTTY = Boolean(process.stderr.isTTY)): boolean {
  if (env.NO_COLOR !== undefined && env.NO_COLOR !== '') return false;
  if (env.FORCE_COLOR !== undefined && env.FORCE_COLOR !== '0') return true;
  return isTTY && env.TERM !== 'dumb';
}

/** `sources` maps file path -> full text, so spans can be shown with their source line. */
export function renderDiagnostics(diags: Diagnostic[], sources: ReadonlyMap<string, string>, opts: RenderOptions = {}): string {
  const c = pc.createColors(opts.color ?? colorByDefault());
  return sortDiagnostics(diags, sources).map((d) => renderOne(d, sources, c)).join('\n\n');
}

/** Reading order, stable: files in the order they first appear, then by line and column (a span
 *  without source text by its `line`); diagnostics without a span keep their place at the end. */
export function sortDiagnostics(diags: readonly Diagnostic[], sources: ReadonlyMap<string, string>): Diagnostic[] {
  const fileRank = new Map<string, number>();
  for (const d of diags) if (d.primary && !fileRank.has(d.primary.file)) fileRank.set(d.primary.file, fileRank.size);
  const pos = (d: Diagnostic): [number, number, number] => {
    const s = d.primary;
    if (!s) return [Number.MAX_SAFE_INTEGER, 0, 0];
    const text = sources.get(s.file);
    if (text === undefined) return [fileRank.get(s.file)!, s.line ?? 0, 0];
    const lc = lineCol(text, s.start);
    return [fileRank.get(s.file)!, lc.line, lc.col];
  };
  return diags.map((d, i) => ({ d, i, p: pos(d) }))
    .sort((a, b) => (a.p[0] - b.p[0] || a.p[1] - b.p[1] || a.p[2] - b.p[2]) || a.i - b.i)
    .map((x) => x.d);
}

/** The machine-readable form `--json` prints: diagnostics plus resolved line/column for each span. */
export function diagnosticsToJson(diags: Diagnostic[], sources: ReadonlyMap<string, string>): unknown[] {
  const where = (s: LabelledSpan | null) => {
    if (!s) return null;
    const label = s.label === undefined ? {} : { label: escapeControls(s.label) };
    const text = sources.get(s.file);
    if (text === undefined) return { ...s, ...label };
    const lc = lineCol(text, s.start);
    return { ...s, ...label, line: lc.line, col: lc.col };
  };
  // Text meant for people is escaped as in the terminal form; fix edits stay exact.
  return sortDiagnostics(diags, sources).map((d) => ({
    ...d, message: escapeControls(d.message), help: d.help === null ? null : escapeControls(d.help),
    primary: where(d.primary), secondary: d.secondary.map(where),
  }));
}

type Colors = ReturnType<typeof pc.createColors>;

// Line starts of recently seen texts: the checker asks for thousands of positions in one file.
const lineIndexCache = new Map<string, number[]>();

function lineStarts(text: string): number[] {
  let starts = lineIndexCache.get(text);
  if (!starts) {
    starts = [0];
    for (let i = text.indexOf('\n'); i >= 0; i = text.indexOf('\n', i + 1)) starts.push(i + 1);
    if (lineIndexCache.size >= 16) lineIndexCache.delete(lineIndexCache.keys().next().value!);
    lineIndexCache.set(text, starts);
  }
  return starts;
}

export function lineCol(text: string, offset: number): { line: number; col: number; lineStart: number; lineText: string } {
  const o = Math.max(0, Math.min(offset, text.length));
  const starts = lineStarts(text);
  let lo = 0, hi = starts.length - 1;
  while (lo < hi) { const mid = (lo + hi + 1) >> 1; if (starts[mid]! <= o) lo = mid; else hi = mid - 1; }
  const lineStart = starts[lo]!, line = lo + 1;
  const nl = text.indexOf('\n', lineStart);
  const lineText = text.slice(lineStart, nl < 0 ? text.length : nl).replace(/\r$/, '');
  return { line, col: o - lineStart + 1, lineStart, lineText };
}

function renderOne(d: Diagnostic, sources: ReadonlyMap<string, string>, c: Colors): string {
  const sevColor = d.severity === 'error' ? c.red : d.severity === 'warning' ? c.yellow : c.cyan;
  const out = [c.bold(sevColor(`${d.severity}[${d.code}]`) + `: ${escapeControls(d.message)}`)];
  const spans: { s: LabelledSpan; primary: boolean }[] = [];
  if (d.primary) spans.push({ s: d.primary, primary: true });
  for (const s of d.secondary) spans.push({ s, primary: false });
  const gutterWidth = Math.max(1, ...spans.map(({ s }) => {
    const text = sources.get(s.file);
    return String(text !== undefined ? lineCol(text, s.start).line : s.line ?? 0).length;
  }));
  const pad = ' '.repeat(gutterWidth);
  const bar = c.blue(`${pad} |`);
  let lastFile: string | null = null;
  let shown = false;
  // Spans on one source line are drawn under one copy of it (rustc-style), in the order lines first appear.
  const groups: { file: string; lc: ReturnType<typeof lineCol>; spans: { s: LabelledSpan; primary: boolean; col: number }[] }[] = [];
  for (const { s, primary } of spans) {
    const text = sources.get(s.file);
    if (text === undefined) {
      out.push(`${pad}${c.blue('-->')} ${escapeControls(s.file)}${s.line ? `:${s.line}` : ''}${s.label ? `: ${escapeControls(s.label)}` : ''}`);
      continue;
    }
    const lc = lineCol(text, s.start);
    const g = groups.find((x) => x.file === s.file && x.lc.line === lc.line);
    if (g) g.spans.push({ s, primary, col: lc.col });
    else groups.push({ file: s.file, lc, spans: [{ s, primary, col: lc.col }] });
  }
  for (const { file, lc: full, spans: here } of groups) {
    const lc = clip(full, here);
    const first = here[0]!;
    if (first.primary || file !== lastFile) out.push(`${pad}${c.blue(first.primary ? '-->' : ':::')} ${escapeControls(file)}:${lc.line}:${first.col + lc.lineStart - full.lineStart}`);
    lastFile = file;
    shown = true;
    out.push(bar);
    out.push(c.blue(`${String(lc.line).padStart(gutterWidth)} |`) + ` ${shownLine(lc.lineText)}`);
    const byCol = [...here].sort((a, b) => a.col - b.col);
    const colorOf = (x: (typeof here)[number]) => (x.primary ? sevColor : c.blue);
    // The marker line: every span's carets/dashes; the rightmost span's label follows inline.
    let line = '', width = 0;
    for (const x of byCol) {
      const at = Math.max(width, x.col - 1);
      const n = Math.max(1, Math.min(x.s.end, lc.lineStart + lc.lineText.length) - x.s.start - (at - (x.col - 1)));
      line += ' '.repeat(at - width) + colorOf(x)((x.primary ? '^' : '-').repeat(n));
      width = at + n;
    }
    const last = byCol[byCol.length - 1]!;
    out.push(`${bar} ${line}${last.s.label ? colorOf(last)(` ${escapeControls(last.s.label)}`) : ''}`);
    // The other labels hang below their spans, right to left, joined to them by `|`.
    const pending = byCol.slice(0, -1).filter((x) => x.s.label);
    const rails = (xs: typeof pending, tail?: (typeof pending)[number]) => {
      let l = '', w = 0;
      for (const x of xs) { l += ' '.repeat(Math.max(0, x.col - 1 - w)) + colorOf(x)('|'); w = Math.max(w, x.col - 1) + 1; }
      if (tail) l += ' '.repeat(Math.max(0, tail.col - 1 - w)) + colorOf(tail)(escapeControls(tail.s.label!));
      return `${bar} ${l}`;
    };
    for (let i = pending.length - 1; i >= 0; i--) {
      out.push(rails(pending.slice(0, i + 1)));
      out.push(rails(pending.slice(0, i), pending[i]));
    }
  }
  if (shown) out.push(bar);
  if (d.help) out.push(`${pad} ${c.blue('=')} ${c.bold('help')}: ${escapeControls(d.help)}`);
  if (d.fix) {
    const edits = d.fix.edits.map((e) => `\`${e.replacement}\``).join(', ');
    out.push(`${pad} ${c.blue('=')} ${c.bold('fix')}: ${escapeControls(d.fix.description)}${edits && !d.fix.description.includes('`') ? ` (${escapeControls(edits)})` : ''}`);
  }
  return out.join('\n');
}

/** Characters never written raw to a terminal: C0/C1 controls (an ESC could rewrite the screen), NUL,
 *  and the bidirectional controls that make text display in another order than it reads
 *  (U+202A-U+202E, U+2066-U+2069; "trojan source"), plus the line and paragraph separators. */
export const UNSAFE_CHARS = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069\u2028\u2029]/g;

/** `\u{202e}` for each unsafe character: for messages, where no caret has to line up. */
export function escapeControls(text: string): string {
  return text.replace(UNSAFE_CHARS, (ch) => `\\u{${ch.charCodeAt(0).toString(16).padStart(4, '0')}}`);
}

/** A source line as printed: tabs as spaces and unsafe characters as U+FFFD, one column each so carets stay aligned. */
function shownLine(text: string): string {
  return text.replace(/\t/g, ' ').replace(UNSAFE_CHARS, '\ufffd');
}

/** Longest source line printed whole; a longer one (minified, binary) is shown as a window around its spans. */
export const MAX_SHOWN_LINE = 160;

function clip(lc: ReturnType<typeof lineCol>, spans: { col: number }[]): ReturnType<typeof lineCol> {
  if (lc.lineText.length <= MAX_SHOWN_LINE) return lc;
  const from = Math.max(0, Math.min(...spans.map((x) => x.col - 1)) - 40);
  const to = Math.min(lc.lineText.length, from + MAX_SHOWN_LINE);
  const head = from > 0 ? '…' : '';
  const shift = from - head.length;
  for (const x of spans) x.col -= shift;
  return { ...lc, lineStart: lc.lineStart + shift, lineText: head + lc.lineText.slice(from, to) + (to < lc.lineText.length ? '…' : '') };
}
