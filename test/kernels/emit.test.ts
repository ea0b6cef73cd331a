// emitKernel / kernelFiles: deterministic names and bytes, readable headers, launch geometry that
// covers the output (sizes not multiples of the tile), and the LoRA design (two stages).
import { describe, it, expect } from 'vitest';
import { emitKernel, tileFactor } from '../../compiler/codegen/index.js';
import { kernelFiles } from '../../compiler/codegen/library.js';
import type { LoraLinearSpec } from '../../compiler/kernels/spec.js';
import { SAMPLE_SPECS } from './specs.js';

const lora: LoraLinearSpec = { kind: 'lora_linear', m: 13824, k: 512, n: 256, r: 16, scaling: 2, dropout: 0.1, stream: 0, bias: true, activation: 'gelu', residual: false };

describe('emitKernel', () => {
  it('is deterministic and names the spec', () => {
    for (const t of ['wgsl', 'cuda'] as const) {
      const a = emitKernel(lora, t), b = emitKernel({ ...lora }, t);
      expect(a.source).toBe(b.source);
      expect(a.name).toBe('lora_linear_activationgelu_bias_dropout0p1_k512_m13824_n256_r16_scaling2_stream0');
      expect(a.source.split('\n')[0]).toContain(a.name);
      expect(a.source).toContain('lora_shrink: s[13824,16] = 2·dropout(x[13824,512], p=0.1, stream 0)·Aᵀ');
    }
  });
  it('runs LoRA as shrink then one concatenated-K GEMM whose grid covers the output', () => {
    const k = emitKernel(lora, 'wgsl');
    expect(k.launches.map((l) => l.entry)).toEqual(['lora_shrink', 'lora_expand']);
    const [rm, rn] = tileFactor('wgsl', 13824, 256);
    const expand = k.launches[1]!;
    expect(expand.grid[0] * 16 * rn).toBeGreaterThanOrEqual(256);
    expect(expand.grid[1] * 16 * rm).toBeGreaterThanOrEqual(13824);
    expect((expand.grid[1] - 1) * 16 * rm).toBeLessThan(13824);
    // rank 16 output: one column per thread, no idle threads, 128 rows per workgroup.
    expect(tileFactor('wgsl', 13824, 16)).toEqual([8, 1]);
    expect(k.source).toContain('segment 1: s · lora_bᵀ over K = 16');
  });
  it('binds the same buffers in the same order on both targets', () => {
    const w = emitKernel(lora, 'wgsl'), c = emitKernel(lora, 'cuda');
    expect(w.bindings).toEqual(c.bindings);
    const names = w.bindings.map((b) => b.name);
    expect(names).toEqual(['x', 'w', 'lora_a', 'lora_b', 'bias', 'params', 'y', 's']);
    // Every WGSL binding is read_write: arena views of one buffer meet in one dispatch, and WebGPU
    // forbids a read-only and a writable view of the same buffer there.
    names.forEach((n, i) => expect(w.source).toContain(`@binding(${i}) var<storage, read_write> ${n}:`));
  });
});

describe('the shared parity specs (CPU vs WebGPU here, CPU vs CUDA on a GPU)', () => {
  it("reach CUDA's 128-wide GEMM tile for gemm, linear, lora_linear and lora_backward_input", () => {
    const out = (s: (typeof SAMPLE_SPECS)[number]): [number, number] | null => {
      switch (s.kind) {
        case 'gemm': case 'linear': case 'lora_linear': return [s.m, s.n];
        case 'lora_backward_input': return [s.m, s.k];
        default: return null;
      }
    };
    for (const kind of ['gemm', 'linear', 'lora_linear', 'lora_backward_input']) {
      const wide = SAMPLE_SPECS.filter((s) => s.kind === kind && out(s) && tileFactor('cuda', ...out(s)!).join() === '8,8');
      expect(wide.length, kind).toBeGreaterThan(0);
      // Partial edge tiles: a size that is not a multiple of 128.
      expect(wide.some((s) => out(s)!.some((d) => d % 128 !== 0)), kind).toBe(true);
    }
    expect(SAMPLE_SPECS.some((s) => s.kind === 'lora_linear' && s.dropout > 0 && tileFactor('cuda', s.m, s.n).join() === '8,8')).toBe(true);
  });
});

describe('kernelFiles', () => {
  it('gives one .wgsl and one .cu per distinct spec, and index.json, byte-identical across runs', () => {
    const specs = [...SAMPLE_SPECS, SAMPLE_SPECS[0]!];
    const a = kernelFiles(specs, ['wgsl', 'cuda']), b = kernelFiles([...specs].reverse(), ['wgsl', 'cuda']);
    const sources = [...a.keys()].filter((f) => f !== 'index.json').sort();
    expect(sources.length).toBe(2 * SAMPLE_SPECS.length);
    expect([...b.keys()].sort()).toEqual([...a.keys()].sort());
    for (const f of sources) expect(b.get(f)).toBe(a.get(f));
    expect(JSON.parse(b.get('index.json')!)).toEqual(JSON.parse(a.get('index.json')!));
  });
});
