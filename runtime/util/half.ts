// 16-bit storage on the host (precision bf16|fp16): f32 <-> bf16/f16 bits. Widening is exact;
// narrowing rounds to nearest, ties to even, on the bits: NaN stays a quiet NaN (sign kept),
// f16 overflows to ±inf from 65520 up and keeps subnormals. The same rule as the generated C
// (compiler/codegen/c/prelude.ts) and torch's .to(torch.bfloat16 / torch.float16).

export type HalfDtype = 'bf16' | 'f16';

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

export function f32ToBf16(x: number): number {
  f32[0] = x;
  const u = u32[0]!;
  if ((u & 0x7fffffff) >>> 0 > 0x7f800000) return ((u >>> 16) | 0x40) & 0xffff;
  return ((u + 0x7fff + ((u >>> 16) & 1)) >>> 16) & 0xffff;
}

export function bf16ToF32(h: number): number {
  u32[0] = (h & 0xffff) << 16;
  return f32[0]!;
}

export function f32ToF16(x: number): number {
  f32[0] = x;
  const u = u32[0]!;
  const s = (u >>> 16) & 0x8000, a = u & 0x7fffffff;
  if (a > 0x7f800000) return s | 0x7e00 | ((a >>> 13) & 0x3ff);
  if (a >= 0x477ff000) return s | 0x7c00;
  if (a >= 0x38800000) { const r = a - 0x38000000; return s | ((r + 0xfff + ((r >>> 13) & 1)) >>> 13); }
  if (a < 0x33000000) return s;
  const shift = 126 - (a >>> 23), m = (a & 0x7fffff) | 0x800000;
  let q = m >>> shift;
  const rem = m & ((1 << shift) - 1), half = 1 << (shift - 1);
  if (rem > half || (rem === half && (q & 1))) q++;
  return s | q;
}

export function f16ToF32(h: number): number {
  const s = (h & 0x8000) << 16, e = (h >>> 10) & 0x1f;
  let m = h & 0x3ff;
  let u: number;
  if (e === 0x1f) u = s | 0x7f800000 | (m << 13);
  else if (e) u = s | ((e + 112) << 23) | (m << 13);
  else if (!m) u = s;
  else { let x = 113; while (!(m & 0x400)) { m <<= 1; x--; } u = s | (x << 23) | ((m & 0x3ff) << 13); }
  u32[0] = u >>> 0;
  return f32[0]!;
}

/** The 16-bit words of `data` (rounded to nearest even), padded to an even count so the bytes are whole u32 words. */
export function toHalf(data: Float32Array, dtype: HalfDtype): Uint16Array {
  const out = new Uint16Array(data.length + (data.length & 1));
  const conv = dtype === 'bf16' ? f32ToBf16 : f32ToF16;
  for (let i = 0; i < data.length; i++) out[i] = conv(data[i]!);
  return out;
}

/** f32 values of the first `n` 16-bit words (exact). */
export function fromHalf(bits: Uint16Array, dtype: HalfDtype, n = bits.length): Float32Array {
  const out = new Float32Array(n);
  const conv = dtype === 'bf16' ? bf16ToF32 : f16ToF32;
  for (let i = 0; i < n; i++) out[i] = conv(bits[i]!);
  return out;
}

/** `data` rounded to the nearest 16-bit value, kept as f32 (what a 16-bit buffer holding it reads back). */
export function roundHalf(data: Float32Array, dtype: HalfDtype): Float32Array {
  return fromHalf(toHalf(data, dtype), dtype, data.length);
}
