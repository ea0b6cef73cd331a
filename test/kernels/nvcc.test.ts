// Every generated .cu compiles with nvcc: the sample and benchmark specs file by file (one batched
// invocation: nvcc is slow to start), and every kernel of real build folders (quickstart in fp32
// and fp16, medct-vlm in bf16, ~600 distinct sources) in translation units of many kernels
// compiled in parallel.
import { describe, it, expect } from 'vitest';
import { execFile, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { availableParallelism, tmpdir } from 'node:os';
import { mkdtempSync, rmSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { kernelFiles } from '../../compiler/codegen/library.js';
import { compileExperiment, writeBuild } from '../../compiler/build.js';
import { load } from '../../cli/commands/build.js';
import { SAMPLE_SPECS } from './specs.js';
import { BENCH_SPECS } from './bench-specs.js';

const nvcc = spawnSync('nvcc', ['--version'], { encoding: 'utf8' });
const hasNvcc = nvcc.status === 0;
if (!hasNvcc) console.warn('SKIPPING nvcc compile tests: `nvcc` not found on PATH (install the CUDA toolkit to run them)');

const NVCC_FLAGS = ['-arch=sm_90', '--ptx', '-Werror', 'all-warnings'];
const JOBS = Math.max(2, availableParallelism());
const run = promisify(execFile);

/** Runs nvcc over each file group, JOBS invocations at a time; a failure names its files and nvcc's message. */
async function nvccParallel(dir: string, groups: string[][]): Promise<void> {
  const queue = groups.map((_, i) => i);
  const worker = async () => {
    for (let g = queue.shift(); g !== undefined; g = queue.shift()) {
      try {
        await run('nvcc', [...NVCC_FLAGS, ...groups[g]!], { cwd: dir, timeout: 170_000, maxBuffer: 1 << 24 });
      } catch (e) {
        throw new Error(`nvcc failed on ${groups[g]!.slice(0, 3).join(', ')}${groups[g]!.length > 3 ? ', ...' : ''}:\n${String((e as { stderr?: string }).stderr ?? e).slice(0, 4000)}`);
      }
    }
  };
  await Promise.all(Array.from({ length: JOBS }, worker));
}

describe.skipIf(!hasNvcc)('generated CUDA compiles with nvcc', () => {
  it('compiles every sample and benchmark-shape kernel to PTX for sm_90, file by file as written', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'medctc-cu-'));
    try {
      const files = [...kernelFiles([...SAMPLE_SPECS, ...BENCH_SPECS], ['cuda'])].filter(([f]) => f.endsWith('.cu')).map(([f, text]) => {
        writeFileSync(join(dir, f), text);
        return f;
      }).sort();
      expect(files.length).toBeGreaterThan(30);
      await nvccParallel(dir, Array.from({ length: JOBS }, (_, j) => files.filter((_, i) => i % JOBS === j)));
      const ptx = readdirSync(dir).filter((f) => f.endsWith('.ptx'));
      expect(ptx.length).toBe(files.length);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 180_000);

  // nvcc costs ~0.4 s of startup per invocation, so ~450 files one by one take minutes. Each
  // source instead goes into a shared translation unit inside its own namespace (its helpers and
  // entry names cannot clash or see each other), with `extern "C"` dropped (C linkage ignores
  // namespaces) and a #line directive, so an error names the build's file and line. That is the
  // source text as written, compiled with the same flags; the sample test above keeps extern "C".
  it('compiles every kernel of the quickstart and medct-vlm build folders (deduplicated) to PTX', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'medctc-cu-build-'));
    try {
      const sources = new Map<string, { name: string; text: string }>();
      // medct-vlm is bf16 as written; the quickstart also at fp16, for the __half kernels.
      for (const [example, precision] of [['examples/quickstart.medct', null], ['examples/quickstart.medct', 'fp16'], ['examples/medct-vlm.medct', null]] as const) {
        const checked = load(example);
        const out = join(dir, `${example.replace(/\W+/g, '_')}${precision ?? ''}`);
        const exp = checked.experiments[0]!;
        await writeBuild(compileExperiment(precision ? { ...exp, train: { ...exp.train!, precision } } : exp, checked.sources), out, { baseDir: '.' });
        for (const f of readdirSync(join(out, 'kernels')).filter((x) => x.endsWith('.cu')).sort()) {
          const text = readFileSync(join(out, 'kernels', f), 'utf8');
          sources.set(createHash('sha256').update(text).digest('hex'), { name: f, text });
        }
      }
      const all = [...sources.values()].sort((a, b) => (a.name < b.name ? -1 : 1));
      expect(all.length).toBeGreaterThan(300);
      const batches = Array.from({ length: 2 * JOBS }, (_, b) => all.filter((_, i) => i % (2 * JOBS) === b));
      const entries = batches.map((batch, b) => {
        // Headers (cuda_bf16.h / cuda_fp16.h of 16-bit kernels) go once at file scope: included
        // inside a namespace, their types would belong to the first namespace only.
        const includes = [...new Set(batch.flatMap((k) => k.text.match(/^#include .*$/gm) ?? []))];
        const text = includes.map((l) => `${l}\n`).join('') + batch.map((k, i) => {
          expect(k.text).toMatch(/^extern "C" __global__ /m);
          const body = k.text.replace(/^extern "C" __global__ /gm, '__global__ ').replace(/^#include .*$/gm, '');
          return `namespace k${i} {\n#line 1 "${k.name}"\n${body}\n}\n`;
        }).join('');
        writeFileSync(join(dir, `batch${b}.cu`), text);
        return (text.match(/^__global__ /gm) ?? []).length;
      });
      await nvccParallel(dir, batches.map((_, b) => [`batch${b}.cu`]));
      // Every kernel of every batch became a PTX entry.
      batches.forEach((_, b) => {
        const ptx = readFileSync(join(dir, `batch${b}.ptx`), 'utf8');
        expect((ptx.match(/^\.visible \.entry /gm) ?? []).length, `batch${b}`).toBe(entries[b]);
      });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 240_000);
});
