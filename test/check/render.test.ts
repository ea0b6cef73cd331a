// The rustc-style renderer and its JSON form.
import { describe, expect, it } from 'vitest';
import { colorByDefault, diagnosticsToJson, lineCol, renderDiagnostics } from '../../base/diagnostics/render.js';
import { diag } from '../../base/diagnostics/catalog.js';

const src = 'line one\n  rank 0\nlast';
const d = diag('E2006', '`rank` must be >= 1', { file: 'f.medct', start: 16, end: 17, label: 'here' },
  { secondary: [{ file: 'f.medct', start: 0, end: 4, label: 'context' }], help: 'use 8', fix: { description: 'replace with `8`', edits: [{ span: { file: 'f.medct', start: 16, end: 17 }, replacement: '8' }] } });

describe('renderDiagnostics', () => {
  it('shows file:line:col, the line, carets under the span, secondary labels, help and fix', () => {
    expect(renderDiagnostics([d], new Map([['f.medct', src]]), { color: false })).toBe([
      'error[E2006]: `rank` must be >= 1',
      ' --> f.medct:2:8',
      '  |',
      '2 |   rank 0',
      '  |        ^ here',
      '  |',
      '1 | line one',
      '  | ---- context',
      '  |',
      '  = help: use 8',
      '  = fix: replace with `8`',
    ].join('\n'));
  });

  it('colours only when asked', () => {
    const sources = new Map([['f.medct', src]]);
    expect(renderDiagnostics([d], sources, { color: true })).toContain('\u001b[');
    expect(renderDiagnostics([d], sources, { color: false })).not.toContain('\u001b[');
    expect(colorByDefault({ NO_COLOR: '1', FORCE_COLOR: '1' }, true)).toBe(false);
    expect(colorByDefault({}, false)).toBe(false);
    expect(colorByDefault({}, true)).toBe(true);
    expect(colorByDefault({ FORCE_COLOR: '1' }, false)).toBe(true);
  });

  it('falls back to file[:line] when the text is not held', () => {
    const out = renderDiagnostics([diag('E2020', 'cannot read', { file: 'x.csv', start: 0, end: 0, line: 7 })], new Map(), { color: false });
    expect(out).toBe('error[E2020]: cannot read\n --> x.csv:7');
  });

  it('JSON adds 1-based line and column to every span', () => {
    const [j] = diagnosticsToJson([d], new Map([['f.medct', src]])) as { primary: { line: number; col: number }; secondary: { line: number; col: number }[] }[];
    expect([j!.primary.line, j!.primary.col, j!.secondary[0]!.line, j!.secondary[0]!.col]).toEqual([2, 8, 1, 1]);
  });

  it('lineCol agrees with a naive count at every offset', () => {
    const text = 'a\n\nbc\r\nd\n';
    for (let o = 0; o <= text.length; o++) {
      const before = text.slice(0, o);
      expect(lineCol(text, o)).toMatchObject({ line: before.split('\n').length, col: o - before.lastIndexOf('\n') });
    }
  });
});
