// The report's charts: line charts (ROC curves, training curves) described once as a scene of
// primitives (lines, rectangles, text) and rendered twice, to SVG for report.html and to PNG
// (./raster.ts) for results.md, so the two always show the same geometry.
//
// Why hand-built SVG and not a charting library (issue 13 asked for one or a reason): the report
// needs four kinds of line chart and nothing interactive. Vega-Lite, the obvious choice, renders to
// SVG in Node only through Vega (about 30 packages; the current vega-lite, 6.5, declares Node >= 22
// while medctc supports Node 20, so we would pin a superseded release), its PNG output needs
// node-canvas (a native addon fetched at install time), and its SVG is not promised to be
// byte-stable across releases, while report.html must be byte-identical for the same run folder. The scene below is ~200 lines with no dependency,
// deterministic (every coordinate rounded to 0.01, numbers formatted by fixed rules), and the same
// scene drives the PNG rasteriser.

export interface Series {
  name: string;
  color: string;
  /** Data coordinates, in drawing order. */
  points: readonly (readonly [number, number])[];
  dash?: boolean;
  width?: number;
}

export interface Chart {
  /** Stable id (the SVG's data-chart attribute; the browser test looks for each). */
  id: string;
  title: string;
  xLabel: string;
  yLabel: string;
  width: number;
  height: number;
  x: readonly [number, number];
  y: readonly [number, number];
  series: Series[];
  /** The chance line y = x (ROC charts). */
  diagonal?: boolean;
  /** Shown in the middle when there is nothing to plot. */
  empty?: string;
  /** Legend entries drawn (series names); default true. */
  legend?: boolean;
  /** Where the legend sits: top right (default) or bottom right (ROC curves run along the top). */
  legendAt?: 'top' | 'bottom';
}

export type Prim =
  | { kind: 'line'; pts: [number, number][]; color: string; width: number; dash: boolean | 'dot' }
  | { kind: 'rect'; x: number; y: number; w: number; h: number; fill: string; stroke: string | null }
  | { kind: 'text'; x: number; y: number; text: string; anchor: 'start' | 'middle' | 'end'; size: number; color: string; rotate: boolean; bold: boolean };

export const MARGIN = { left: 54, right: 12, top: 24, bottom: 38 } as const;
const AXIS = '#444444', GRID = '#e4e4e4', TEXT = '#222222';

/** "Nice" ticks over [lo, hi]: steps of 1, 2 or 5 x 10^k, about `n` of them. */
export function ticks(lo: number, hi: number, n = 5): { values: number[]; step: number } {
  if (!(hi > lo)) return { values: [lo], step: 1 };
  const raw = (hi - lo) / n;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= raw * (1 - 1e-9))!;
  const values: number[] = [];
  for (let k = Math.ceil(lo / step - 1e-9); k * step <= hi + step * 1e-9; k++) values.push(Number((k * step).toPrecision(12)));
  return { values, step };
}

/** A tick label: decimals from the step; tiny steps in exponent form (`2e-4`). */
export function tickText(v: number, step: number): string {
  if (v === 0) return '0';
  const decimals = Math.max(0, -Math.floor(Math.log10(step) + 1e-9));
  if (decimals > 3) return Number(v.toPrecision(2)).toExponential().replace('e-', 'e-').replace('e+', 'e');
  if (Math.abs(v) >= 1e5) return Number(v.toPrecision(3)).toExponential().replace('e+', 'e');
  return v.toFixed(decimals);
}

/** Data range of the series' y values, padded a little and never empty. */
export function yRange(series: readonly Series[], opts: { zero?: boolean } = {}): [number, number] {
  const ys = series.flatMap((s) => s.points.map((p) => p[1])).filter(Number.isFinite);
  if (ys.length === 0) return [0, 1];
  let lo = Math.min(...ys), hi = Math.max(...ys);
  if (opts.zero) lo = Math.min(0, lo);
  if (hi === lo) { hi = lo + (lo === 0 ? 1 : Math.abs(lo) * 0.1); }
  const pad = (hi - lo) * 0.05;
  return [opts.zero && lo === 0 ? 0 : lo - pad, hi + pad];
}

/** The chart as primitives in pixel coordinates (origin top left). */
export function layout(c: Chart): Prim[] {
  const out: Prim[] = [];
  const x0 = MARGIN.left, x1 = c.width - MARGIN.right, y0 = MARGIN.top, y1 = c.height - MARGIN.bottom;
  const sx = (v: number) => x0 + ((v - c.x[0]) / (c.x[1] - c.x[0])) * (x1 - x0);
  const sy = (v: number) => y1 - ((v - c.y[0]) / (c.y[1] - c.y[0])) * (y1 - y0);
  out.push({ kind: 'rect', x: 0, y: 0, w: c.width, h: c.height, fill: '#ffffff', stroke: null });
  out.push({ kind: 'text', x: x0, y: 15, text: c.title, anchor: 'start', size: 12, color: TEXT, rotate: false, bold: true });
  const tx = ticks(c.x[0], c.x[1], Math.max(2, Math.round((x1 - x0) / 70)));
  const ty = ticks(c.y[0], c.y[1], Math.max(2, Math.round((y1 - y0) / 45)));
  for (const v of tx.values) {
    if (v < c.x[0] || v > c.x[1]) continue;
    out.push({ kind: 'line', pts: [[sx(v), y0], [sx(v), y1]], color: GRID, width: 1, dash: false });
    out.push({ kind: 'line', pts: [[sx(v), y1], [sx(v), y1 + 4]], color: AXIS, width: 1, dash: false });
    out.push({ kind: 'text', x: sx(v), y: y1 + 15, text: tickText(v, tx.step), anchor: 'middle', size: 10, color: TEXT, rotate: false, bold: false });
  }
  for (const v of ty.values) {
    if (v < c.y[0] || v > c.y[1]) continue;
    out.push({ kind: 'line', pts: [[x0, sy(v)], [x1, sy(v)]], color: GRID, width: 1, dash: false });
    out.push({ kind: 'line', pts: [[x0 - 4, sy(v)], [x0, sy(v)]], color: AXIS, width: 1, dash: false });
    out.push({ kind: 'text', x: x0 - 6, y: sy(v) + 3.5, text: tickText(v, ty.step), anchor: 'end', size: 10, color: TEXT, rotate: false, bold: false });
  }
  out.push({ kind: 'text', x: (x0 + x1) / 2, y: c.height - 6, text: c.xLabel, anchor: 'middle', size: 11, color: TEXT, rotate: false, bold: false });
  out.push({ kind: 'text', x: 12, y: (y0 + y1) / 2, text: c.yLabel, anchor: 'middle', size: 11, color: TEXT, rotate: true, bold: false });
  if (c.diagonal) out.push({ kind: 'line', pts: [[sx(c.x[0]), sy(c.y[0])], [sx(c.x[1]), sy(c.y[1])]], color: '#b0b0b0', width: 1, dash: 'dot' });
  for (const s of c.series) {
    const pts = s.points.filter((p) => Number.isFinite(p[0]) && Number.isFinite(p[1])).map((p): [number, number] => [sx(p[0]), sy(p[1])]);
    if (pts.length) out.push({ kind: 'line', pts, color: s.color, width: s.width ?? 1.75, dash: s.dash ?? false });
  }
  out.push({ kind: 'rect', x: x0, y: y0, w: x1 - x0, h: y1 - y0, fill: 'none', stroke: AXIS });
  if (c.empty) out.push({ kind: 'text', x: (x0 + x1) / 2, y: (y0 + y1) / 2, text: c.empty, anchor: 'middle', size: 11, color: '#888888', rotate: false, bold: false });
  if (c.legend !== false) {
    let ly = c.legendAt === 'bottom' ? y1 - 8 - 13 * (c.series.length - 1) : y0 + 12;
    for (const s of c.series) {
      const lx = x1 - 8;
      out.push({ kind: 'line', pts: [[lx - 16, ly - 3.5], [lx, ly - 3.5]], color: s.color, width: s.width ?? 1.75, dash: s.dash ?? false });
      out.push({ kind: 'text', x: lx - 20, y: ly, text: s.name, anchor: 'end', size: 10, color: TEXT, rotate: false, bold: false });
      ly += 13;
    }
  }
  return out;
}

const r2 = (v: number): string => {
  const s = (Math.round(v * 100) / 100).toFixed(2).replace(/\.?0+$/, '');
  return s === '-0' ? '0' : s;
};
export const escapeXml = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

/** The chart as an inline SVG element (no external references). */
export function toSvg(c: Chart): string {
  const body = layout(c).map((p) => {
    if (p.kind === 'rect') return `<rect x="${r2(p.x)}" y="${r2(p.y)}" width="${r2(p.w)}" height="${r2(p.h)}" fill="${p.fill}"${p.stroke ? ` stroke="${p.stroke}"` : ''}/>`;
    if (p.kind === 'line') {
      const d = p.pts.map(([x, y], i) => `${i ? 'L' : 'M'}${r2(x)} ${r2(y)}`).join('');
      return `<path d="${d}" fill="none" stroke="${p.color}" stroke-width="${r2(p.width)}"${p.dash === 'dot' ? ' stroke-dasharray="1.5 3"' : p.dash ? ' stroke-dasharray="5 3"' : ''} stroke-linejoin="round"/>`;
    }
    const rot = p.rotate ? ` transform="rotate(-90 ${r2(p.x)} ${r2(p.y)})"` : '';
    return `<text x="${r2(p.x)}" y="${r2(p.y)}" font-size="${p.size}" text-anchor="${p.anchor}" fill="${p.color}"${p.bold ? ' font-weight="600"' : ''}${rot}>${escapeXml(p.text)}</text>`;
  });
  return `<svg class="chart" data-chart="${escapeXml(c.id)}" xmlns="http://www.w3.org/2000/svg" width="${c.width}" height="${c.height}" viewBox="0 0 ${c.width} ${c.height}" role="img" aria-label="${escapeXml(c.title)}">${body.join('')}</svg>`;
}
