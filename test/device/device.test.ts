// The device layer: backend selection, the CUDA loader's failure path, buffer checks, and the
// shared dropout hash.
import { describe, it, expect } from 'vitest';
import { spawnSync } from 'node:child_process';
import { openDevice, tryOpenDevice, isUnavailable, CpuDevice, dropoutBits, dropoutKeep, loadCuda } from '../../runtime/device/index.js';
import { DiagnosticError } from '../../base/diagnostics/types.js';
import { kernelSource } from '../../compiler/codegen/library.js';
import { InternalError } from '../../runtime/device/types.js';
import { CATALOG } from '../../base/diagnostics/catalog.js';

const hasGpu = spawnSync('nvidia-smi', ['-L'], { encoding: 'utf8' }).status === 0;

async function diagnosticCode(p: Promise<unknown>): Promise<string> {
  try { await p; } catch (e) { if (e instanceof DiagnosticError) return e.diagnostics[0]!.code; throw e; }
  return 'none';
}

describe('openDevice', () => {
  it('rejects an unknown backend with E4003', async () => {
    expect(await diagnosticCode(openDevice('metal'))).toBe('E4003');
    expect(CATALOG.has('E4003')).toBe(true);
  });
  it('opens the TypeScript reference under its own name, and cpu is the native backend', async () => {
    const d = await openDevice('reference');
    expect(d.backend).toBe('reference');
    expect(d.target).toBeNull();
    const cpu = await tryOpenDevice('cpu');
    // CI machines have gcc: the native backend must open there (a missing compiler says why).
    if (isUnavailable(cpu)) expect(cpu.reason).toMatch(/compiler|cc/i);
    else expect(cpu).toMatchObject({ backend: 'cpu', target: 'c', software: true });
  });
  it('cpu without a C compiler is E4001 with a hint, and auto falls back with a one-line notice', async () => {
    const saved = { CC: process.env.CC, PATH: process.env.PATH };
    process.env.CC = '/nonexistent/cc';
    process.env.PATH = '/nonexistent';
    try {
      expect(await diagnosticCode(openDevice('cpu'))).toBe('E4001');
      const notices: string[] = [];
      const d = await openDevice('auto', (l) => notices.push(l));
      if (d.backend !== 'cuda' && !(d.backend === 'webgpu' && !d.software)) {
        expect(notices).toHaveLength(1);
        expect(notices[0]).toMatch(/no native CPU backend/);
        expect(notices[0]!.split('\n')).toHaveLength(1);
      }
    } finally {
      process.env.CC = saved.CC; process.env.PATH = saved.PATH;
      if (saved.CC === undefined) delete process.env.CC;
    }
  });
  it('auto opens a working device', async () => {
    const d = await openDevice('auto');
    expect(['cpu', 'webgpu', 'cuda', 'reference']).toContain(d.backend);
    if (!hasGpu) expect(d.backend).not.toBe('cuda');
    d.destroy();
  }, 60_000);
});

describe('CUDA loader', () => {
  it('answers "unavailable" with the reason where no driver library exists', () => {
    const r = loadCuda({ MEDCTC_LIBCUDA: '/nonexistent/libcuda.so.1', CUDA_HOME: '/nonexistent' });
    if (hasGpu) { console.warn('a GPU is present: the missing-driver path is tested with a bogus path only'); }
    // With a bogus explicit path the loader still falls back to the system search; on a machine
    // without a driver that fails and says why.
    if (!hasGpu) {
      expect('reason' in r).toBe(true);
      expect((r as { reason: string }).reason).toMatch(/libcuda/);
    }
  });
  it.skipIf(hasGpu)('openDevice("cuda") without a GPU is E4001, not a crash', async () => {
    const r = await tryOpenDevice('cuda');
    expect(isUnavailable(r)).toBe(true);
    expect(await diagnosticCode(openDevice('cuda'))).toBe('E4001');
  });
});

describe('buffers', () => {
  it('a dispatch with the wrong buffers is an internal error (medctc\'s bug, exit 3), not a diagnostic', async () => {
    const cpu = new CpuDevice();
    const [p] = await cpu.compile([kernelSource({ kind: 'gelu', numel: 8 }, null)]);
    expect(() => cpu.dispatch(p!, [cpu.alloc(32)])).toThrow(InternalError);
    expect(() => cpu.dispatch(p!, [cpu.alloc(32)])).not.toThrow(DiagnosticError);
    expect(() => cpu.dispatch(p!, [cpu.alloc(32), cpu.alloc(16)])).toThrow(/needs 32/);
  });
  it('views are byte ranges of their parent at 256-aligned offsets', async () => {
    const cpu = new CpuDevice();
    const parent = cpu.alloc(1024);
    const a = cpu.view(parent, 256, 16), b = cpu.view(parent, 512, 16);
    await cpu.upload(a, Float32Array.of(1, 2, 3, 4));
    await cpu.upload(b, Float32Array.of(5, 6, 7, 8));
    const all = new Float32Array(256);
    await cpu.download(parent, all);
    expect([...all.subarray(64, 68)]).toEqual([1, 2, 3, 4]);
    expect([...all.subarray(128, 132)]).toEqual([5, 6, 7, 8]);
    expect(() => cpu.view(parent, 100, 16)).toThrow(InternalError);
    expect(() => cpu.view(parent, 768, 512)).toThrow(/view/);
  });
});

describe('dropout hash', () => {
  it('is the lowbias32 mix of idx·φ ^ seed (known answers computed with 32-bit integer math)', () => {
    // h0 = 0 ^ 0 = 0 -> every step keeps 0.
    expect(dropoutBits(0, 0)).toBe(0);
    // idx 1, seed 0: h = 0x9E3779B9, then the three mixing rounds (verified with Python's & 0xffffffff arithmetic).
    let h = 0x9e3779b9;
    h = (h ^ (h >>> 16)) >>> 0; h = Number((BigInt(h) * 0x7feb352dn) & 0xffffffffn);
    h = (h ^ (h >>> 15)) >>> 0; h = Number((BigInt(h) * 0x846ca68bn) & 0xffffffffn);
    h = (h ^ (h >>> 16)) >>> 0;
    expect(dropoutBits(0, 1)).toBe(h >>> 8);
  });
  it('keeps about 1 - p of the elements, scaled by 1/(1-p), and depends on the seed', () => {
    for (const p of [0.1, 0.5]) {
      let kept = 0, same = 0;
      for (let i = 0; i < 20000; i++) {
        const k = dropoutKeep(p, 42, i);
        if (k > 0) { kept++; expect(k).toBeCloseTo(1 / (1 - p), 12); }
        if ((k > 0) === (dropoutKeep(p, 43, i) > 0)) same++;
      }
      expect(Math.abs(kept / 20000 - (1 - p))).toBeLessThan(0.015);
      expect(same / 20000).toBeLessThan(1 - p * (1 - p) * 2 + 0.02);
    }
    expect(dropoutKeep(0, 42, 5)).toBe(1);
  });
});
