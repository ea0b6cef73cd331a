// writeFileAtomicFrom (parts awaited one at a time, for files larger than memory) writes what
// writeFileAtomic writes, and a failing producer leaves the old file as it was and no temp file;
// safetensorsHeader plus the data streamed in its order is encodeSafetensors' file byte for byte.
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { writeFileAtomicFrom } from '../../base/atomic.js';
import { encodeSafetensors, safetensorsHeader, type Tensor } from '../../runtime/io/safetensors.js';

const dir = mkdtempSync(join(tmpdir(), 'medctc-atomic-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('writeFileAtomicFrom', () => {
  it('writes the parts in order, awaiting each', async () => {
    async function* parts() { yield 'ab'; await new Promise((r) => setTimeout(r, 5)); yield new Uint8Array([99, 100]); yield ''; }
    await writeFileAtomicFrom(join(dir, 'a.txt'), parts());
    expect(readFileSync(join(dir, 'a.txt'), 'utf8')).toBe('abcd');
  });

  it('a producer that throws leaves the existing file and no temp file; its error propagates', async () => {
    const f = join(dir, 'keep.txt');
    writeFileSync(f, 'old');
    async function* parts() { yield 'new part'; throw new Error('producer failed'); }
    await expect(writeFileAtomicFrom(f, parts())).rejects.toThrow('producer failed');
    expect(readFileSync(f, 'utf8')).toBe('old');
    expect(readdirSync(dir).filter((n) => n.endsWith('.tmp'))).toEqual([]);
  });

  it('safetensorsHeader + streamed data = encodeSafetensors', async () => {
    const t = new Map<string, Tensor>([
      ['volumes', { dtype: 'F32', shape: [2, 3], data: Float32Array.from([1, 2, 3, 4, 5, 6]) }],
      ['labels', { dtype: 'U8', shape: [2, 2], data: Uint8Array.from([0, 1, 1, 0]) }],
      ['ids', { dtype: 'I32', shape: [1, 2], data: Int32Array.from([7, 8]) }],
    ]);
    const { head, order } = safetensorsHeader([...t].map(([n, x]) => [n, x]), { format: 'x' });
    expect(order).toEqual(['volumes', 'ids', 'labels']);
    async function* parts() {
      yield* head;
      for (const n of order) { const d = t.get(n)!.data; yield new Uint8Array(d.buffer, d.byteOffset, d.byteLength); }
    }
    await writeFileAtomicFrom(join(dir, 'x.safetensors'), parts());
    expect(Buffer.compare(readFileSync(join(dir, 'x.safetensors')), Buffer.from(encodeSafetensors(t, { format: 'x' })))).toBe(0);
  });
});
