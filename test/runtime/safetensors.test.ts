import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  SafetensorsFile, decodeSafetensors, encodeSafetensors, readSafetensors, writeSafetensors,
  f16ToF32, bf16ToF32, f32ToF16Bits, f32ToBf16Bits, fromFloat32, toFloat32, type Tensor, type Dtype,
} from '../../runtime/io/safetensors.js';
import { writeFileAtomic } from '../../base/atomic.js';
import { concat, expectDiagnostic, f32le, tempDir, u64le } from './helpers.js';

const enc = (s: string): Uint8Array => new TextEncoder().encode(s);

/** A file assembled by hand: length, header text (padded with `pad` spaces), data bytes. */
function handFile(header: string, data: Uint8Array, pad = 0): Uint8Array {
  const h = enc(header + ' '.repeat(pad));
  return concat(u64le(h.length), h, data);
}

function writeTemp(bytes: Uint8Array, name = 'x.safetensors'): string {
  const p = join(tempDir('st'), name);
  writeFileSync(p, bytes);
  return p;
}

describe('safetensors reader', () => {
  it('reads a file built by hand (padded header, metadata, mixed dtypes)', () => {
    const header = '{"__metadata__":{"format":"pt"},"b":{"dtype":"I32","shape":[2],"data_offsets":[8,16]},"a":{"dtype":"F32","shape":[1,2],"data_offsets":[0,8]}}';
    const data = concat(f32le(1.5, -2), new Uint8Array(new Int32Array([7, -9]).buffer));
    const path = writeTemp(handFile(header, data, 5));
    const f = SafetensorsFile.open(path);
    try {
      expect(f.metadata).toEqual({ format: 'pt' });
      expect(f.names()).toEqual(['a', 'b']); // file (offset) order
      expect(f.info('b')).toEqual({ dtype: 'I32', shape: [2], dataOffsets: [8, 16] });
      const a = f.read('a');
      expect(a.shape).toEqual([1, 2]);
      expect([...(a.data as Float32Array)]).toEqual([1.5, -2]);
      expect([...(f.read('b').data as Int32Array)]).toEqual([7, -9]);
      expectDiagnostic(() => f.read('c'), 'E5512', ['"c"', path]);
    } finally {
      f.close();
    }
  });

  it('converts F16 and BF16 to float32 from known bit patterns', () => {
    // F16: 1.0, -2.0, 65504 (max), 2^-24 (smallest subnormal). BF16: 1.0, -3.0.
    const header = '{"h":{"dtype":"F16","shape":[4],"data_offsets":[0,8]},"g":{"dtype":"BF16","shape":[2],"data_offsets":[8,12]}}';
    const data = new Uint8Array(new Uint16Array([0x3c00, 0xc000, 0x7bff, 0x0001, 0x3f80, 0xc040]).buffer);
    const path = writeTemp(handFile(header, data));
    const f = SafetensorsFile.open(path);
    expect([...f.readF32('h')]).toEqual([1, -2, 65504, 2 ** -24]);
    expect([...f.readF32('g')]).toEqual([1, -3]);
    f.close();
    expect(f16ToF32(0x7c00)).toBe(Infinity);
    expect(f16ToF32(0x7e00)).toBeNaN();
    expect(bf16ToF32(0xff80)).toBe(-Infinity);
  });

  it('refuses to convert an integer tensor to float32', () => {
    const path = writeTemp(handFile('{"i":{"dtype":"I8","shape":[1],"data_offsets":[0,1]}}', new Uint8Array([3])));
    const f = SafetensorsFile.open(path);
    expectDiagnostic(() => f.readF32('i'), 'E5513', ['I8']);
    f.close();
  });

  const one = '{"t":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}';
  const cases: [string, () => Uint8Array, Parameters<typeof expectDiagnostic>[1], string[]][] = [
    ['shorter than 8 bytes', () => new Uint8Array([1, 0, 0]), 'E5502', ['too short']],
    ['header length beyond the file', () => concat(u64le(1000), enc(one)), 'E5502', ['1000']],
    ['data cut short', () => handFile(one, f32le(1)), 'E5508', ['"t"']],
    ['header over 100 MB', () => concat(u64le(100_000_001), enc('{}')), 'E5503', ['100000001']],
    ['bad JSON', () => handFile('{"t":{"dtype":"F32",', new Uint8Array(0)), 'E5504', ['JSON']],
    ['header not starting with {', () => handFile(' {}', new Uint8Array(0)), 'E5504', ['"{"']],
    ['invalid UTF-8', () => concat(u64le(3), new Uint8Array([0x7b, 0xff, 0x7d])), 'E5504', ['UTF-8']],
    ['duplicate tensor name', () => handFile('{"t":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"t":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}', f32le(1, 2)), 'E5507', ['"t"']],
    ['overlap', () => handFile('{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}', f32le(1, 2, 3)), 'E5509', ['"b"', '"a"']],
    ['hole between tensors', () => handFile('{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"b":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}}', f32le(1, 2, 3)), 'E5510', ['[4, 8)']],
    ['trailing bytes not covered', () => handFile(one, f32le(1, 2, 3)), 'E5510', ['[8, 12)']],
    ['offsets past the buffer', () => handFile('{"t":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}', f32le(1, 2)), 'E5508', ['[4, 12]']],
    ['begin after end', () => handFile('{"t":{"dtype":"F32","shape":[0],"data_offsets":[8,4]}}', f32le(1, 2)), 'E5508', ['[8, 4]']],
    ['size disagrees with shape', () => handFile('{"t":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}', f32le(1, 2)), 'E5511', ['12 bytes']],
    ['unknown dtype', () => handFile('{"t":{"dtype":"F8_E4M3","shape":[1],"data_offsets":[0,1]}}', new Uint8Array(1)), 'E5506', ['F8_E4M3']],
    ['missing shape', () => handFile('{"t":{"dtype":"F32","data_offsets":[0,4]}}', f32le(1)), 'E5505', ['shape']],
    ['non-string metadata', () => handFile('{"__metadata__":{"epoch":3}}', new Uint8Array(0)), 'E5505', ['epoch']],
  ];
  for (const [what, build, code, mentions] of cases) {
    it(`rejects a file with ${what} (${code}), from disk and from memory`, () => {
      const bytes = build();
      const path = writeTemp(bytes, 'broken.safetensors');
      expectDiagnostic(() => SafetensorsFile.open(path), code, [...mentions, 'broken.safetensors']);
      expectDiagnostic(() => decodeSafetensors(bytes, 'mem.safetensors'), code, [...mentions, 'mem.safetensors']);
    });
  }

  it('reports a missing file as E5501', () => {
    expectDiagnostic(() => SafetensorsFile.open(join(tempDir('st'), 'nope.safetensors')), 'E5501', ['nope.safetensors']);
  });
});

describe('safetensors writer', () => {
  it('lays out bytes like the reference writer (dtype order, then name; padded header)', () => {
    const bytes = encodeSafetensors({
      b: { dtype: 'F32', shape: [1], data: Float32Array.of(1) },
      a: { dtype: 'U8', shape: [2], data: Uint8Array.of(1, 2) },
      c: { dtype: 'F64', shape: [1], data: Float64Array.of(0.5) },
    }, { format: 'pt' });
    // Written out by hand: 193 bytes of JSON + 7 spaces = 200.
    const header = '{"__metadata__":{"format":"pt"},"c":{"dtype":"F64","shape":[1],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[1],"data_offsets":[8,12]},"a":{"dtype":"U8","shape":[2],"data_offsets":[12,14]}}       ';
    const expected = concat(u64le(200), enc(header), new Uint8Array(Float64Array.of(0.5).buffer), f32le(1), Uint8Array.of(1, 2));
    expect(Buffer.from(bytes).equals(Buffer.from(expected))).toBe(true);
  });

  it('sorts metadata keys so equal inputs give equal bytes', () => {
    const t = { x: { dtype: 'F32' as const, shape: [0], data: new Float32Array(0) } };
    const a = encodeSafetensors(t, { z: '1', a: '2' });
    const b = encodeSafetensors(t, { a: '2', z: '1' });
    expect(Buffer.from(a).equals(Buffer.from(b))).toBe(true);
    expect(new TextDecoder().decode(a.subarray(8, 60))).toContain('{"__metadata__":{"a":"2","z":"1"}');
  });

  it('rejects bad input as a programming error', () => {
    expect(() => encodeSafetensors({ t: { dtype: 'F32', shape: [3], data: new Float32Array(2) } })).toThrow(/8 bytes/);
    expect(() => encodeSafetensors([['t', { dtype: 'U8', shape: [1], data: new Uint8Array(1) }], ['t', { dtype: 'U8', shape: [1], data: new Uint8Array(1) }]])).toThrow(/duplicate/);
  });

  it('round-trips through disk atomically (no temp files left behind)', () => {
    const dir = tempDir('st');
    const path = join(dir, 'w.safetensors');
    const tensors = new Map<string, Tensor>([
      ['layer.0.weight', { dtype: 'F32', shape: [2, 3], data: Float32Array.of(1, 2, 3, 4, 5, 6) }],
      ['ids', { dtype: 'I64', shape: [2], data: BigInt64Array.of(-1n, 2n ** 40n) }],
      ['mask', { dtype: 'BOOL', shape: [3], data: Uint8Array.of(1, 0, 1) }],
      ['empty', { dtype: 'F16', shape: [0, 4], data: new Uint16Array(0) }],
    ]);
    writeSafetensors(path, tensors, { format: 'pt' });
    writeSafetensors(path, tensors, { format: 'pt' }); // overwrite
    const back = readSafetensors(path);
    expect(back.metadata).toEqual({ format: 'pt' });
    for (const [name, t] of tensors) expect(back.tensors.get(name)).toEqual(t);
    expect(readFileSync(path).equals(Buffer.from(encodeSafetensors(tensors, { format: 'pt' })))).toBe(true);
    expect(readdirSync(dir)).toEqual(['w.safetensors']);
  });

  it('converts float32 to F16 and BF16 with round-to-nearest-even', () => {
    expect(f32ToF16Bits(1)).toBe(0x3c00);
    expect(f32ToF16Bits(65504)).toBe(0x7bff);
    expect(f32ToF16Bits(65520)).toBe(0x7c00); // halfway to 2^16 rounds up to infinity
    expect(f32ToF16Bits(2 ** -24)).toBe(0x0001);
    expect(f32ToF16Bits(2 ** -25)).toBe(0x0000); // tie between 0 and the smallest subnormal: even
    expect(f32ToF16Bits(3 * 2 ** -25)).toBe(0x0002); // tie between 1 and 2 subnormal steps: even
    expect(f32ToF16Bits(1 + 2 ** -11)).toBe(0x3c00); // tie between 1 and next: even (down)
    expect(f32ToF16Bits(1 + 3 * 2 ** -11)).toBe(0x3c02); // tie: even (up)
    expect(f32ToF16Bits(NaN) & 0x7c00).toBe(0x7c00);
    expect(f32ToBf16Bits(1)).toBe(0x3f80);
    expect(f32ToBf16Bits(1 + 2 ** -8)).toBe(0x3f80); // tie: even
    expect(f32ToBf16Bits(1 + 3 * 2 ** -8)).toBe(0x3f82);
    expect(bf16ToF32(f32ToBf16Bits(NaN))).toBeNaN();
  });

  it('property: random tensors round-trip bit-exactly; F16/BF16 packing round-trips representable values', () => {
    const dtypes: Dtype[] = ['F64', 'F32', 'F16', 'BF16', 'I64', 'I32', 'I16', 'I8', 'U8', 'BOOL'];
    const tensor = fc.record({
      dtype: fc.constantFrom(...dtypes),
      shape: fc.array(fc.integer({ min: 0, max: 4 }), { maxLength: 3 }),
      seed: fc.integer(),
    }).map(({ dtype, shape, seed }): Tensor => {
      const n = shape.reduce((a, b) => a * b, 1);
      const sizes: Record<Dtype, number> = { F64: 8, F32: 4, F16: 2, BF16: 2, I64: 8, I32: 4, I16: 2, I8: 1, U8: 1, BOOL: 1, U16: 2, U32: 4, U64: 8 };
      const bytes = new Uint8Array(n * sizes[dtype]);
      let s = seed >>> 0;
      for (let i = 0; i < bytes.length; i++) { s = (Math.imul(s, 1664525) + 1013904223) >>> 0; bytes[i] = s >>> 24; }
      if (dtype === 'BOOL') for (let i = 0; i < bytes.length; i++) bytes[i]! &= 1;
      return { dtype, shape, data: bytesAs(dtype, bytes) };
    });
    fc.assert(fc.property(
      fc.uniqueArray(fc.tuple(fc.string({ minLength: 1, maxLength: 12 }).filter((s) => s !== '__metadata__'), tensor), { selector: ([n]) => n, maxLength: 6 }),
      fc.dictionary(fc.string({ maxLength: 5 }), fc.string({ maxLength: 5 })),
      (entries, meta) => {
        const bytes = encodeSafetensors(entries, meta);
        expect(Number(new DataView(bytes.buffer).getBigUint64(0, true)) % 8).toBe(0);
        const back = decodeSafetensors(bytes);
        expect(back.metadata).toEqual(meta);
        expect(back.tensors.size).toBe(entries.length);
        for (const [name, t] of entries) {
          const b = back.tensors.get(name)!;
          expect(b.dtype).toBe(t.dtype);
          expect(b.shape).toEqual(t.shape);
          expect(Buffer.from(b.data.buffer, b.data.byteOffset, b.data.byteLength).equals(Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength))).toBe(true);
        }
      },
    ), { numRuns: 150, seed: 20261128 });
    fc.assert(fc.property(fc.integer({ min: 0, max: 0xffff }), (h) => {
      const isNaN16 = (h & 0x7c00) === 0x7c00 && (h & 0x3ff) !== 0;
      if (!isNaN16) expect(f32ToF16Bits(f16ToF32(h))).toBe(h);
      const isNaNb = (h & 0x7f80) === 0x7f80 && (h & 0x7f) !== 0;
      if (!isNaNb) expect(f32ToBf16Bits(bf16ToF32(h))).toBe(h);
      expect(toFloat32(fromFloat32(Float32Array.of(f16ToF32(h)), [1], 'F16'))[0]).toEqual(f16ToF32(h));
    }), { numRuns: 2000, seed: 7 });
  });
});

function bytesAs(dtype: Dtype, bytes: Uint8Array): Tensor['data'] {
  const b = bytes.buffer;
  switch (dtype) {
    case 'F64': return new Float64Array(b);
    case 'F32': return new Float32Array(b);
    case 'I64': return new BigInt64Array(b);
    case 'U64': return new BigUint64Array(b);
    case 'I32': return new Int32Array(b);
    case 'U32': return new Uint32Array(b);
    case 'I16': return new Int16Array(b);
    case 'I8': return new Int8Array(b);
    case 'F16': case 'BF16': case 'U16': return new Uint16Array(b);
    case 'U8': case 'BOOL': return bytes;
  }
}

describe('atomic writes', () => {
  it('a write that cannot happen is E5520 naming the path, and leaves no temp file', () => {
    const dir = tempDir('atomic');
    const blocker = join(dir, 'not-a-folder');
    writeFileSync(blocker, 'x');
    expectDiagnostic(() => writeFileAtomic(join(blocker, 'w.safetensors'), 'data'), 'E5520', ['not-a-folder/w.safetensors']);
    expect(readdirSync(dir)).toEqual(['not-a-folder']);
  });
  it('writes all parts in order and replaces an existing file', () => {
    const path = join(tempDir('atomic'), 'sub', 'f.txt');
    writeFileAtomic(path, 'old');
    writeFileAtomic(path, ['a', Uint8Array.of(0x62), 'c']);
    expect(readFileSync(path, 'utf8')).toBe('abc');
  });
});

describe('against the reference implementation (fixture written by the `safetensors` Python package)', () => {
  const fixture = new URL('./fixtures/reference.safetensors', import.meta.url);
  it('reads every dtype it wrote', () => {
    const { metadata, tensors } = readSafetensors(fixture.pathname);
    expect(metadata).toEqual({ format: 'pt' });
    const v = (name: string): unknown[] => [...(tensors.get(name)!.data as ArrayLike<unknown> & Iterable<unknown>)];
    expect(tensors.get('encoder.layer.0.weight')!.shape).toEqual([3, 4]);
    expect(v('encoder.layer.0.weight')).toEqual(Array.from({ length: 12 }, (_, i) => (i - 5.5) / 4));
    expect(v('encoder.layer.0.bias')).toEqual([0.1, -0.2, 0.3].map(Math.fround));
    expect([...toFloat32(tensors.get('half')!)]).toEqual([1, -2.5, 65504, f16ToF32(f32ToF16Bits(6e-8))]);
    expect(v('double')).toEqual([1e300, -1e-300]);
    expect(v('ids')).toEqual([-(2n ** 40n), 7n]);
    expect(v('i32')).toEqual([-3, 2 ** 31 - 1]);
    expect(v('i16')).toEqual([-32768, 5, 9]);
    expect(v('i8')).toEqual([-128, 127]);
    expect(v('u8')).toEqual([0, 200, 255]);
    expect(tensors.get('mask')!.dtype).toBe('BOOL');
    expect(v('mask')).toEqual([1, 0, 1, 1, 0]);
    expect(tensors.get('empty')!.shape).toEqual([0, 3]);
  });
  it('writes byte-identical output from the same tensors', () => {
    const ref = readFileSync(fixture);
    const { metadata, tensors } = decodeSafetensors(new Uint8Array(ref));
    // Reversed input order: the layout must come from the sort, not the caller.
    expect(Buffer.from(encodeSafetensors([...tensors].reverse(), metadata)).equals(ref)).toBe(true);
  });
});

describe('header order with integer-like names', () => {
  it('keeps data order in the header (JSON objects would hoist "0", "10")', () => {
    const bytes = encodeSafetensors({ 0: { dtype: 'U8', shape: [1], data: Uint8Array.of(1) }, b: { dtype: 'F32', shape: [1], data: f32le(3) } });
    const n = Number(new DataView(bytes.buffer).getBigUint64(0, true));
    expect(new TextDecoder().decode(bytes.subarray(8, 8 + n)).trimEnd()).toBe(
      '{"b":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"0":{"dtype":"U8","shape":[1],"data_offsets":[4,5]}}');
  });
});
