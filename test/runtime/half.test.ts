// 16-bit storage conversions (runtime/util/half.ts, and the same rule in the generated C,
// compiler/codegen/c/prelude.ts) against PyTorch's .to(torch.bfloat16 / torch.float16) and
// .float(): every f16 bit pattern widened, and f32 values narrowed (hand-picked edges: ties at
// several exponents, the f16 overflow and subnormal boundaries, zeros, infinities, NaNs; plus
// 200k random bit patterns), bit for bit (NaN: NaN).
import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PRELUDE } from '../../compiler/codegen/c/prelude.js';
import { bf16ToF32, f16ToF32, f32ToBf16, f32ToF16, fromHalf, toHalf } from '../../runtime/util/half.js';
import { Rng } from '../../runtime/util/rng.js';

const PY = '/usr/bin/python3';
const bits = (x: number): number => new Uint32Array(Float32Array.of(x).buffer)[0]!;
const fromBits = (u: number): number => new Float32Array(Uint32Array.of(u).buffer)[0]!;

/** The f32 values the narrowing tests use. */
function narrowingInputs(): Float32Array {
  const edge: number[] = [0, -0, Infinity, -Infinity, NaN, 1, -1, 3.4028234663852886e38, -3.4028234663852886e38, 1e-45, -1e-45, 1.1754942e-38, 1.1754944e-38];
  // Ties and near-ties for bf16 (the 16 dropped bits 0x8000 ± 1) and f16 (13 dropped bits 0x1000 ± 1).
  for (const e of [0x3f800000, 0x40000000, 0x47000000, 0x38800000, 0x33800000, 0x00800000]) {
    for (const m of [0, 1, 0x7fff, 0x8000, 0x8001, 0x18000, 0xfff, 0x1000, 0x1001, 0x3000, 0x7fffff]) edge.push(fromBits((e | m) >>> 0), -fromBits((e | m) >>> 0));
  }
  // f16: largest finite 65504, the overflow tie 65520, subnormals down to 2^-24 and their ties.
  edge.push(65504, 65519.996, 65520, 65536, 6.1035156e-5, 6.0975552e-5, 5.9604645e-8, 2.9802322e-8, 2.9802326e-8, 8.940697e-8, 1.1920929e-7);
  const rng = new Rng(1, 'half-test');
  const out = new Float32Array(edge.length + 200_000);
  out.set(edge);
  const u = new Uint32Array(out.buffer);
  for (let i = edge.length; i < out.length; i++) u[i] = (rng.int(0x10000) << 16 | rng.int(0x10000)) >>> 0;
  return out;
}

/** PyTorch's conversions of `x` (f32 -> bf16 / f16 bits) and of every f16 bit pattern (-> f32). */
function torchConversions(x: Float32Array): { bf16: Uint16Array; f16: Uint16Array; f16Wide: Float32Array } {
  const dir = mkdtempSync(join(tmpdir(), 'medctc-half-'));
  try {
    writeFileSync(join(dir, 'x.f32'), Buffer.from(x.buffer));
    const r = spawnSync(PY, ['-c', [
      'import sys, numpy as np, torch',
      'd = sys.argv[1]',
      'x = torch.from_numpy(np.fromfile(d + "/x.f32", dtype=np.float32))',
      'x.to(torch.bfloat16).view(torch.int16).numpy().tofile(d + "/bf16")',
      'x.to(torch.float16).view(torch.int16).numpy().tofile(d + "/f16")',
      'torch.arange(65536, dtype=torch.int32).to(torch.int16).view(torch.float16).float().numpy().tofile(d + "/wide")',
    ].join('\n'), dir], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`python3 with torch is required (CI installs python3-torch): ${r.stderr}`);
    const u16 = (f: string) => new Uint16Array(new Uint8Array(readFileSync(join(dir, f))).buffer);
    return { bf16: u16('bf16'), f16: u16('f16'), f16Wide: new Float32Array(new Uint8Array(readFileSync(join(dir, 'wide'))).buffer) };
  } finally { rmSync(dir, { recursive: true, force: true }); }
}

/** The generated C's conversions of the same inputs (the prelude compiled with the system cc and
 *  `flags`). */
function cConversions(x: Float32Array, flags: string[]): { bf16: Uint16Array; f16: Uint16Array; f16Wide: Float32Array } {
  const dir = mkdtempSync(join(tmpdir(), 'medctc-half-c-'));
  try {
    writeFileSync(join(dir, 'x.f32'), Buffer.from(x.buffer));
    writeFileSync(join(dir, 'conv.c'), `${PRELUDE}
#include <stdio.h>
int main(int argc, char **argv) {
  (void)argc;
  FILE *f = fopen(argv[1], "rb"); fseek(f, 0, SEEK_END); long n = ftell(f) / 4; fseek(f, 0, SEEK_SET);
  float *x = malloc(n * 4); if (fread(x, 4, n, f) != (size_t)n) return 1; fclose(f);
  uint16_t *b = malloc(n * 2), *h = malloc(n * 2); float *w = malloc(65536 * 4);
  for (long i = 0; i < n; i++) { b[i] = medctc_f32_to_bf16(x[i]); h[i] = medctc_f32_to_f16(x[i]); if (medctc_bf16_to_f32(b[i]) != medctc_bf16_to_f32(b[i]) && x[i] == x[i]) return 2; }
  for (long i = 0; i < 65536; i++) w[i] = medctc_f16_to_f32((uint16_t)i);
  f = fopen(argv[2], "wb"); fwrite(b, 2, n, f); fwrite(h, 2, n, f); fwrite(w, 4, 65536, f); fclose(f);
  return 0;
}
`);
    const cc = spawnSync(process.env.CC ?? 'cc', [...flags, '-std=gnu11', '-fno-math-errno', '-ffp-contract=fast', '-o', join(dir, 'conv'), join(dir, 'conv.c'), '-lm'], { encoding: 'utf8' });
    if (cc.status !== 0) throw new Error(`cc failed: ${cc.stderr}`);
    const run = spawnSync(join(dir, 'conv'), [join(dir, 'x.f32'), join(dir, 'out')]);
    if (run.status !== 0) throw new Error(`conv exited ${run.status}`);
    const out = new Uint8Array(readFileSync(join(dir, 'out'))).buffer;
    return { bf16: new Uint16Array(out, 0, x.length), f16: new Uint16Array(out, x.length * 2, x.length), f16Wide: new Float32Array(out, x.length * 4, 65536) };
  } finally { rmSync(dir, { recursive: true, force: true }); }
}

const x = narrowingInputs();
const torch = torchConversions(x);

describe('16-bit storage conversions', () => {
  it('f32 -> bf16 and f32 -> f16 round to nearest even exactly as PyTorch (NaN stays NaN)', () => {
    const bad: string[] = [];
    for (let i = 0; i < x.length; i++) {
      const v = x[i]!;
      const [b, h] = [f32ToBf16(v), f32ToF16(v)];
      if (Number.isNaN(v)) {
        if (!Number.isNaN(bf16ToF32(b)) || !Number.isNaN(f16ToF32(h))) bad.push(`NaN 0x${bits(v).toString(16)}`);
        continue;
      }
      if (b !== torch.bf16[i]) bad.push(`bf16 of 0x${bits(v).toString(16)}: 0x${b.toString(16)} vs torch 0x${torch.bf16[i]!.toString(16)}`);
      if (h !== torch.f16[i]) bad.push(`f16 of 0x${bits(v).toString(16)}: 0x${h.toString(16)} vs torch 0x${torch.f16[i]!.toString(16)}`);
    }
    expect(bad.slice(0, 10)).toEqual([]);
    // The edges did what they are there for.
    expect(f32ToF16(65519.996)).toBe(0x7bff);
    expect(f32ToF16(65520)).toBe(0x7c00);
    expect(f32ToF16(2.9802322e-8)).toBe(0); // 2^-25: a tie, to even (zero)
    expect(f32ToBf16(fromBits(0x3f808000))).toBe(0x3f80); // tie, to even (down)
    expect(f32ToBf16(fromBits(0x3f818000))).toBe(0x3f82); // tie, to even (up)
  });

  it('every f16 bit pattern widens exactly as PyTorch; widening then narrowing is the identity', () => {
    for (let h = 0; h < 65536; h++) {
      const w = f16ToF32(h);
      if (Number.isNaN(torch.f16Wide[h]!)) { expect(Number.isNaN(w)).toBe(true); continue; }
      expect(Object.is(w, torch.f16Wide[h]), `0x${h.toString(16)}`).toBe(true);
      expect(f32ToF16(w)).toBe(h);
      if ((h & 0x7f80) !== 0x7f80) expect(f32ToBf16(bf16ToF32(h))).toBe(h);
    }
    const v = Float32Array.of(1.5, -2.25, 3.0e-3);
    expect(Array.from(fromHalf(toHalf(v, 'bf16'), 'bf16', 3))).toEqual([1.5, -2.25, bf16ToF32(f32ToBf16(3.0e-3))]);
    expect(toHalf(v, 'f16').length).toBe(4); // padded to whole u32 words
  });

  // Plain, and vectorised as the native backend compiles (-O3 -march=native: the loops here
  // vectorise, so the selects run as vector blends).
  it.each([[['-O2']], [['-O3', '-march=native']]])('the generated C (cc %j) converts bit for bit as the TypeScript (NaN payloads included)', (flags) => {
    const c = cConversions(x, flags);
    const bad: string[] = [];
    for (let i = 0; i < x.length; i++) {
      if (c.bf16[i] !== f32ToBf16(x[i]!)) bad.push(`bf16 of 0x${bits(x[i]!).toString(16)}`);
      if (c.f16[i] !== f32ToF16(x[i]!)) bad.push(`f16 of 0x${bits(x[i]!).toString(16)}`);
    }
    for (let h = 0; h < 65536; h++) if (!Object.is(c.f16Wide[h], f16ToF32(h)) && !(Number.isNaN(c.f16Wide[h]!) && Number.isNaN(f16ToF32(h)))) bad.push(`widen 0x${h.toString(16)}`);
    expect(bad.slice(0, 10)).toEqual([]);
  });
});
