import { describe, expect, it } from 'vitest';
import * as zlib from 'node:zlib';
import { crc32, encodePng } from '../../runtime/io/png.js';

describe('PNG writer', () => {
  it('crc32 matches zlib', () => {
    const data = new TextEncoder().encode('IEND and some more bytes 0123456789');
    expect(crc32(data)).toBe(zlib.crc32(data));
    expect(crc32(new Uint8Array(0))).toBe(0);
  });
  it('chunks carry valid CRCs and the pixels survive', () => {
    const w = 3, h = 2;
    const px = Uint8Array.from({ length: w * h * 3 }, (_, i) => (i * 29) % 256);
    const png = Buffer.from(encodePng(w, h, px, 3));
    let o = 8;
    const chunks: { type: string; data: Buffer }[] = [];
    while (o < png.length) {
      const len = png.readUInt32BE(o);
      const type = png.toString('latin1', o + 4, o + 8);
      const data = png.subarray(o + 8, o + 8 + len);
      expect(png.readUInt32BE(o + 8 + len)).toBe(zlib.crc32(png.subarray(o + 4, o + 8 + len)));
      chunks.push({ type, data });
      o += 12 + len;
    }
    expect(chunks.map((c) => c.type)).toEqual(['IHDR', 'IDAT', 'IEND']);
    const raw = zlib.inflateSync(chunks[1]!.data);
    for (let y = 0; y < h; y++) {
      expect(raw[y * (1 + 3 * w)]).toBe(0);
      expect(Array.from(raw.subarray(y * (1 + 3 * w) + 1, (y + 1) * (1 + 3 * w)))).toEqual(Array.from(px.subarray(y * 3 * w, (y + 1) * 3 * w)));
    }
  });
});
