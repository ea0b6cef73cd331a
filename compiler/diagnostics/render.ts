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
  return diags.map((d) => renderOne(d, sources, c)).join('\n\n');
}

/** The machine-readable form `--json` prints: diagnostics plus resolved line/column for each span. */
export function diagnosticsToJson(diags: Diagnostic[], sources: ReadonlyMap<string, string>): unknown[] {
  const where = (s: LabelledSpan | null) => {
    if (!s) return null;
    const text = sources.get(s.file);
    if (text === undefined) return { ...s };
    const lc = lineCol(text, s.start);
    return { ...s, line: lc.line, col: lc.col };
  };
  return diags.map((d) => ({ ...d, primary: where(d.primary), secondary: d.secondary.map(where) }));
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
  const out = [c.bold(sevColor(`${d.severity}[${d.code}]`) + `: ${d.message}`)];
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
  for (const { s, primary } of spans) {
    const text = sources.get(s.file);
    if (text === undefined) {
      out.push(`${pad}${c.blue('-->')} ${s.file}${s.line ? `:${s.line}` : ''}${s.label ? `: ${s.label}` : ''}`);
      continue;
    }
    const lc = lineCol(text, s.start);
    if (primary || s.file !== lastFile) out.push(`${pad}${c.blue(primary ? '-->' : ':::')} ${s.file}:${lc.line}:${lc.col}`);
    lastFile = s.file;
    shown = true;
    const width = Math.max(1, Math.min(s.end, lc.lineStart + lc.lineText.length) - s.start);
    const marker = (primary ? '^' : '-').repeat(width);
    const markColor = primary ? sevColor : c.blue;
    out.push(bar);
    out.push(c.blue(`${String(lc.line).padStart(gutterWidth)} |`) + ` ${lc.lineText.replace(/\t/g, ' ')}`);
    out.push(`${bar} ${' '.repeat(lc.col - 1)}${markColor(marker + (s.label ? ` ${s.label}` : ''))}`);
  }
  if (shown) out.push(bar);
  if (d.help) out.push(`${pad} ${c.blue('=')} ${c.bold('help')}: ${d.help}`);
  if (d.fix) {
    const edits = d.fix.edits.map((e) => `\`${e.replacement}\``).join(', ');
    out.push(`${pad} ${c.blue('=')} ${c.bold('fix')}: ${d.fix.description}${edits && !d.fix.description.includes('`') ? ` (${edits})` : ''}`);
  }
  return out.join('\n');
}
