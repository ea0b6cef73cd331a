// Every generated .cu compiles with nvcc (one batched invocation: nvcc is slow to start).
import { describe, it, expect } from 'vitest';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { emitKernels } from '../../compiler/codegen/index.js';
import { SAMPLE_SPECS } from './specs.js';
import { BENCH_SPECS } from './bench-specs.js';

const nvcc = spawnSync('nvcc', ['--version'], { encoding: 'utf8' });
const hasNvcc = nvcc.status === 0;
if (!hasNvcc) console.warn('SKIPPING nvcc compile tests: `nvcc` not found on PATH (install the CUDA toolkit to run them)');

describe.skipIf(!hasNvcc)('generated CUDA compiles with nvcc', () => {
  it('compiles every sample and benchmark-shape kernel to PTX for sm_90', () => {
    const dir = mkdtempSync(join(tmpdir(), 'medctc-cu-'));
    try {
      const files = emitKernels([...SAMPLE_SPECS, ...BENCH_SPECS], dir, ['cuda']);
      expect(files.length).toBeGreaterThan(30);
      execFileSync('nvcc', ['-arch=sm_90', '--ptx', '-Werror', 'all-warnings', ...files], { cwd: dir, stdio: 'pipe', timeout: 170_000 });
      const ptx = readdirSync(dir).filter((f) => f.endsWith('.ptx'));
      expect(ptx.length).toBe(files.length);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 180_000);
});
