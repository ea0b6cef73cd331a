import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { crc32, inflateSync } from 'node:zlib';
import { tempDir } from './helpers.js';

// Runs the compiled CLI (`npm test` runs tsc first; alone: npx tsc -p tsconfig.json).
const CLI = resolve('dist/cli/medctc.js');

function medctc(...args: string[]) {
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: build first with \`npx tsc -p tsconfig.json\``);
  return spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8' });
}

/** Reads an 8-bit RGB PNG with filter 0 rows (what runtime/io/png.ts writes), checking every chunk CRC. */
function decodePng(bytes: Buffer): { width: number; height: number; gray: number[] } {
  expect(Array.from(bytes.subarray(0, 8))).toEqual([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  const chunks: { type: string; data: Buffer }[] = [];
  for (let o = 8; o < bytes.length;) {
    const len = bytes.readUInt32BE(o);
    const type = bytes.toString('latin1', o + 4, o + 8);
    expect(bytes.readUInt32BE(o + 8 + len), type).toBe(crc32(bytes.subarray(o + 4, o + 8 + len)));
    chunks.push({ type, data: bytes.subarray(o + 8, o + 8 + len) });
    o += 12 + len;
  }
  expect(chunks[0]!.type).toBe('IHDR');
  expect(chunks.at(-1)!.type).toBe('IEND');
  const ihdr = chunks[0]!.data;
  const width = ihdr.readUInt32BE(0), height = ihdr.readUInt32BE(4);
  expect([ihdr[8], ihdr[9]]).toEqual([8, 2]); // 8-bit RGB
  const raw = inflateSync(Buffer.concat(chunks.filter((c) => c.type === 'IDAT').map((c) => c.data)));
  expect(raw.length).toBe(height * (1 + 3 * width));
  const gray: number[] = [];
  for (let y = 0; y < height; y++) {
    expect(raw[y * (1 + 3 * width)]).toBe(0);
    for (let x = 0; x < width; x++) {
      const p = y * (1 + 3 * width) + 1 + 3 * x;
      if (raw[p] === raw[p + 1] && raw[p] === raw[p + 2]) gray.push(raw[p]!);
    }
  }
  return { width, height, gray };
}

describe('medctc synth', () => {
  it('writes a dataset and a preview PNG, exit 0', () => {
    const out = join(tempDir('cli'), 'data');
    const png = join(tempDir('cli'), 'p.png');
    const r = medctc('synth', '--out', out, '--volumes', '5', '--seed', '3', '--site', 'target', '--shape', '16,20,20', '--preview', png, '--json');
    expect(r.status, r.stderr).toBe(0);
    const summary = JSON.parse(r.stdout) as { ok: boolean; volumes: number; train: number; valid: number; site: string };
    expect(summary).toMatchObject({ ok: true, volumes: 5, train: 4, valid: 1, site: 'target' });
    expect(existsSync(join(out, 'valid/valid_1/valid_1_a/valid_1_a_1.nii.gz'))).toBe(true);
    // A well-formed PNG: signature, IHDR first, IDAT inflates to height * (1 + 3 * width) bytes.
    const bytes = readFileSync(png);
    expect(Array.from(bytes.subarray(0, 8))).toEqual([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
    expect(bytes.toString('latin1', 12, 16)).toBe('IHDR');
    const w = bytes.readUInt32BE(16), h = bytes.readUInt32BE(20);
    const idatLen = bytes.readUInt32BE(33);
    expect(bytes.toString('latin1', 37, 41)).toBe('IDAT');
    expect(inflateSync(bytes.subarray(41, 41 + idatLen)).length).toBe(h * (1 + 3 * w));
  });

  it('a bare --preview writes OUT/preview.png, a valid PNG laid out at 1.5 mm per pixel', () => {
    const out = join(tempDir('cli'), 'data');
    const r = medctc('synth', '--out', out, '--volumes', '3', '--seed', '1', '--shape', '16,20,20', '--preview');
    expect(r.status, r.stderr).toBe(0);
    const png = join(out, 'preview.png');
    expect(r.stdout).toContain(`preview: ${png}`);
    const img = decodePng(readFileSync(png));
    // Expected size from the metadata: per volume a row of axial (x by y), coronal (x by z) and
    // sagittal (y by z) mid-slices at true physical size, 1.5 mm per pixel, 6 px gaps, 250 px of text.
    const px = (mm: number) => Math.max(1, Math.round(mm / 1.5));
    const rows = [...readFileSync(join(out, 'metadata/train_metadata.csv'), 'utf8').trim().split('\n').slice(1),
      ...readFileSync(join(out, 'metadata/validation_metadata.csv'), 'utf8').trim().split('\n').slice(1)];
    expect(rows.length).toBe(3);
    let width = 0, height = 6;
    for (const row of rows) {
      const xy = Number(/"\[([\d.]+),/.exec(row)![1]), z = Number(row.split(',').at(-1));
      const [pxy, pz] = [px(20 * xy), px(16 * z)];
      width = Math.max(width, 6 + 3 * (pxy + 6) + 250);
      height += Math.max(pxy, pz, 12) + 6;
    }
    expect([img.width, img.height]).toEqual([width, height]);
    // Not a blank canvas: the window [-1000, 300] HU shows black air and bright bone.
    expect(img.gray.reduce((a, b) => Math.min(a, b), 255)).toBe(0);
    expect(img.gray.reduce((a, b) => Math.max(a, b), 0)).toBe(255);
    // --preview PATH writes there instead, and the JSON summary names the file.
    const other = join(tempDir('cli'), 'sheet.png');
    const j = medctc('synth', '--out', out, '--volumes', '3', '--seed', '1', '--shape', '16,20,20', '--preview', other, '--json');
    expect(j.status, j.stderr).toBe(0);
    expect((JSON.parse(j.stdout) as { preview: string }).preview).toBe(other);
    expect(decodePng(readFileSync(other))).toMatchObject({ width, height });
  });

  it('bad arguments: exit 2 with a diagnostic', () => {
    const out = join(tempDir('cli'), 'data');
    const shape = medctc('synth', '--out', out, '--shape', '16,20');
    expect(shape.status).toBe(2);
    expect(shape.stderr).toContain('error[E5040]');
    const site = medctc('synth', '--out', out, '--site', 'mars');
    expect(site.status).toBe(2);
    expect(site.stderr).toContain('error[E5041]');
    expect(site.stderr).toContain('source, target');
    const missing = medctc('synth', '--volumes', '3');
    expect(missing.status).toBe(2);
    expect(missing.stderr).toContain('out');
  });
});
