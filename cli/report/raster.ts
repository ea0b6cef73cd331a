// A tiny deterministic rasteriser for the chart scenes of ./chart.ts, written as PNG by
// runtime/io/png.ts: lines as anti-aliased capsules (coverage from the distance to the segment,
// the maximum over a polyline's pieces),
// rectangles, and text in a 3x5 pixel font that has digits and `.-+e` only (tick labels); titles,
// axis names and legends are not drawn (results.md says them under each image). Integer RGB and
// fixed arithmetic order: the same scene gives the same bytes. Not @resvg/resvg-js: it would render
// the SVG with whatever fonts the machine has (so the bytes would differ between machines) and adds
// a native binary per platform for a few line charts.
import { encodePng } from '../../runtime/io/png.js';
import { layout, type Chart, type Prim } from './chart.js';

const GLYPHS: Record<string, string> = {
  '0': '111101101101111', '1': '010110010010111', '2': '111001111100111', '3': '111001111001111',
  '4': '101101111001001', '5': '111100111001111', '6': '111100111101111', '7': '111001001001001',
  '8': '111101111101111', '9': '111101111001111', '.': '000000000000010', '-': '000000111000000',
  '+': '000010111010000', 'e': '000111101110011',
};

export class Canvas {
  readonly px: Uint8Array;
  /** Coverage of the line being drawn (max over its pieces, so joints are not painted twice). */
  private readonly cov: Float32Array;
  private readonly touched: number[] = [];
  constructor(readonly width: number, readonly height: number) {
    this.px = new Uint8Array(width * height * 3).fill(255);
    this.cov = new Float32Array(width * height);
  }

  private blend(i: number, rgb: readonly [number, number, number], a: number): void {
    const k = Math.min(1, a), o = i * 3;
    for (let c = 0; c < 3; c++) this.px[o + c] = Math.round(this.px[o + c]! * (1 - k) + rgb[c]! * k);
  }

  fillRect(x: number, y: number, w: number, h: number, rgb: readonly [number, number, number]): void {
    for (let j = Math.max(0, Math.round(y)); j < Math.min(this.height, Math.round(y + h)); j++) {
      for (let i = Math.max(0, Math.round(x)); i < Math.min(this.width, Math.round(x + w)); i++) {
        const o = (j * this.width + i) * 3;
        this.px[o] = rgb[0]; this.px[o + 1] = rgb[1]; this.px[o + 2] = rgb[2];
      }
    }
  }

  /** Adds a capsule of width `w` from a to b to the current line's coverage. */
  private piece(ax: number, ay: number, bx: number, by: number, r: number): void {
    const dx = bx - ax, dy = by - ay, len2 = dx * dx + dy * dy;
    const xa = Math.max(0, Math.floor(Math.min(ax, bx) - r - 1)), xb = Math.min(this.width - 1, Math.ceil(Math.max(ax, bx) + r + 1));
    const ya = Math.max(0, Math.floor(Math.min(ay, by) - r - 1)), yb = Math.min(this.height - 1, Math.ceil(Math.max(ay, by) + r + 1));
    for (let y = ya; y <= yb; y++) {
      for (let x = xa; x <= xb; x++) {
        const px = x + 0.5, py = y + 0.5;
        const t = len2 === 0 ? 0 : Math.max(0, Math.min(1, ((px - ax) * dx + (py - ay) * dy) / len2));
        const ex = px - (ax + t * dx), ey = py - (ay + t * dy);
        const a = r + 0.5 - Math.sqrt(ex * ex + ey * ey);
        if (a <= 0) continue;
        const i = y * this.width + x;
        if (this.cov[i] === 0) this.touched.push(i);
        if (a > this.cov[i]!) this.cov[i] = a;
      }
    }
  }

  /** A polyline of width `w`, anti-aliased; `dash`: [on, off] lengths along it. Long segments are
   *  cut into short pieces so each visits only the pixels near it. */
  polyline(pts: readonly (readonly [number, number])[], w: number, rgb: readonly [number, number, number], dash: [number, number] | null): void {
    const r = w / 2, STEP = 4;
    let along = 0;
    for (let k = 1; k < pts.length; k++) {
      const [ax, ay] = pts[k - 1]!, [bx, by] = pts[k]!;
      const len = Math.hypot(bx - ax, by - ay);
      const n = Math.max(1, Math.ceil(len / STEP));
      for (let j = 0; j < n; j++) {
        const t0 = j / n, t1 = (j + 1) / n;
        if (dash && (along + ((t0 + t1) / 2) * len) % (dash[0] + dash[1]) > dash[0]) continue;
        this.piece(ax + t0 * (bx - ax), ay + t0 * (by - ay), ax + t1 * (bx - ax), ay + t1 * (by - ay), r);
      }
      along += len;
    }
    for (const i of this.touched) { this.blend(i, rgb, this.cov[i]!); this.cov[i] = 0; }
    this.touched.length = 0;
  }

  /** Text in the 3x5 font, `scale` pixels per font pixel; characters it lacks are skipped. */
  text(x: number, y: number, s: string, anchor: 'start' | 'middle' | 'end', scale: number, rgb: readonly [number, number, number]): void {
    const adv = 4 * scale, w = s.length * adv - scale;
    let cx = Math.round(anchor === 'start' ? x : anchor === 'middle' ? x - w / 2 : x - w);
    const top = Math.round(y - 5 * scale);
    for (const ch of s) {
      const g = GLYPHS[ch];
      if (g) for (let j = 0; j < 5; j++) for (let i = 0; i < 3; i++) if (g[j * 3 + i] === '1') this.fillRect(cx + i * scale, top + j * scale, scale, scale, rgb);
      cx += adv;
    }
  }
}

const rgbOf = (hex: string): [number, number, number] => [1, 3, 5].map((i) => parseInt(hex.slice(i, i + 2), 16)) as [number, number, number];

/** Whether the PNG font can draw the text (tick labels can; words cannot). */
export const drawable = (s: string): boolean => [...s].every((ch) => ch in GLYPHS);

/** Draws the chart at (ox, oy), every length times `scale`. */
export function drawChart(cv: Canvas, c: Chart, ox: number, oy: number, scale: number): void {
  const at = (p: readonly [number, number]): [number, number] => [ox + p[0] * scale, oy + p[1] * scale];
  for (const p of layout(c) as Prim[]) {
    if (p.kind === 'rect') {
      if (p.fill !== 'none') cv.fillRect(ox + p.x * scale, oy + p.y * scale, p.w * scale, p.h * scale, rgbOf(p.fill));
      if (p.stroke) {
        const [x, y, w, h] = [p.x, p.y, p.w, p.h];
        cv.polyline([[x, y], [x + w, y], [x + w, y + h], [x, y + h], [x, y]].map((q) => at(q as [number, number])), scale, rgbOf(p.stroke), null);
      }
    } else if (p.kind === 'line') {
      cv.polyline(p.pts.map(at), p.width * scale, rgbOf(p.color), p.dash === 'dot' ? [1.5 * scale, 3 * scale] : p.dash ? [5 * scale, 3 * scale] : null);
    } else if (!p.rotate && drawable(p.text)) {
      cv.text(ox + p.x * scale, oy + p.y * scale, p.text, p.anchor, Math.max(1, Math.round(scale * p.size / 6)), rgbOf(p.color));
    }
  }
}

/** Charts in a grid of `columns`, each at `scale`, as one PNG file. */
export function chartsPng(charts: readonly Chart[], columns: number, scale = 2): Uint8Array {
  const cw = Math.max(...charts.map((c) => c.width)), ch = Math.max(...charts.map((c) => c.height));
  const cols = Math.min(columns, charts.length), rows = Math.ceil(charts.length / cols);
  const cv = new Canvas(cols * cw * scale, rows * ch * scale);
  charts.forEach((c, i) => drawChart(cv, c, (i % cols) * cw * scale, Math.floor(i / cols) * ch * scale, scale));
  return encodePng(cv.width, cv.height, cv.px, 3);
}
