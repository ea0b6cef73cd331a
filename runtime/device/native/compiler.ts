// The system C compiler, found and probed once, and a content-addressed cache of what it built:
// one object file per kernel source (keyed by compiler, flags, CPU and source text), one shared
// object per batch (keyed by its objects). Objects compile in parallel, one process per core;
// the batch links in one invocation. Every file is written under a temporary name and renamed,
// so concurrent processes sharing the cache never see half a file.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, renameSync, writeFileSync, rmSync } from 'node:fs';
import { cpus, tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { sha256 } from '../../../base/hash.js';

export interface CCompiler {
  /** The command, e.g. "cc". */
  cc: string;
  /** Flags of every object compile (the link adds -shared). */
  flags: string[];
  /** First line of `cc --version`. */
  version: string;
  /** False when the compiler has no OpenMP: kernels then run on one thread. */
  openmp: boolean;
}

const PROBE = `#include <stdint.h>
#ifdef _OPENMP
#include <omp.h>
#endif
typedef float v16 __attribute__((vector_size(64)));
int medctc_probe(void) { v16 a = {0}; a += 2.0f; int n = 1;
#ifdef _OPENMP
#pragma omp parallel
{ if (omp_get_thread_num() == 0) n = omp_get_num_threads(); }
#endif
return (int)a[3] + n * 0; }
`;

const BASE = ['-O3', '-std=gnu11', '-fPIC', '-fno-math-errno', '-ffp-contract=fast'];

function run(cmd: string, args: string[], env: NodeJS.ProcessEnv): { ok: boolean; out: string } {
  const r = spawnSync(cmd, args, { env, encoding: 'utf8', timeout: 60_000 });
  if (r.error) return { ok: false, out: r.error.message };
  return { ok: r.status === 0, out: `${r.stdout ?? ''}${r.stderr ?? ''}` };
}

/** The first of $CC, cc, gcc, clang that builds and links a probe shared object, with the best
 *  flags it accepts (-march=native and -fopenmp are each dropped if refused); null and why not. */
export function findCompiler(env: NodeJS.ProcessEnv = process.env, dir: string = cacheDir(env)): CCompiler | { reason: string } {
  const candidates = [...(env.CC ? [env.CC] : []), 'cc', 'gcc', 'clang'];
  const tried: string[] = [];
  mkdirSync(dir, { recursive: true });
  const src = join(dir, `probe-${process.pid}.c`);
  writeFileSync(src, PROBE);
  try {
    for (const cc of candidates) {
      const v = run(cc, ['--version'], env);
      if (!v.ok) { tried.push(`${cc} (${v.out.split('\n')[0]?.trim() || 'not found'})`); continue; }
      const version = v.out.split('\n')[0]!.trim();
      for (const extra of [['-march=native', '-fopenmp'], ['-fopenmp'], ['-march=native'], []]) {
        const flags = [...BASE, ...extra];
        const so = join(dir, `probe-${process.pid}.so`);
        const r = run(cc, [...flags, '-shared', '-o', so, src], env);
        rmSync(so, { force: true });
        if (r.ok) return { cc, flags, version, openmp: extra.includes('-fopenmp') };
      }
      tried.push(`${cc} (${version}: cannot build a shared object)`);
    }
  } finally {
    rmSync(src, { force: true });
  }
  return { reason: `no working C compiler (tried ${tried.join(', ')}); install gcc or clang, or set CC` };
}

export function cacheDir(env: NodeJS.ProcessEnv = process.env): string {
  let user = 'user';
  try { user = userInfo().username; } catch { /* no passwd entry */ }
  return env.MEDCTC_NATIVE_CACHE ?? join(tmpdir(), `medctc-native-${user}`);
}

/** Cache key of `parts`, each NUL-terminated (so ("ab", "c") and ("a", "bc") differ). */
const sha = (...parts: string[]): string => sha256(parts.map((p) => `${p}\0`).join('')).slice(0, 24);

function spawnAsync(cmd: string, args: string[]): Promise<{ ok: boolean; out: string }> {
  return new Promise((resolve) => {
    const p = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    p.stdout.on('data', (d) => { out += d; });
    p.stderr.on('data', (d) => { out += d; });
    p.on('error', (e) => resolve({ ok: false, out: e.message }));
    p.on('close', (code) => resolve({ ok: code === 0, out }));
  });
}

export class CompileError extends Error {}

/** Builds (or finds cached) one shared object holding every source; returns its path. */
export async function buildShared(c: CCompiler, sources: { name: string; source: string }[], dir: string, jobs: number): Promise<string> {
  mkdirSync(dir, { recursive: true });
  const key = sha(c.cc, c.version, c.flags.join(' '), cpus()[0]?.model ?? '');
  const objs = sources.map((s) => ({ ...s, hash: sha(key, s.source) }));
  const so = join(dir, `batch-${sha(key, ...objs.map((o) => o.hash).sort())}.so`);
  if (existsSync(so)) return so;
  const todo = objs.filter((o) => !existsSync(join(dir, `${o.hash}.o`)));
  let next = 0;
  const failures: string[] = [];
  const worker = async (): Promise<void> => {
    while (next < todo.length) {
      const o = todo[next++]!;
      const tag = `${process.pid}-${Math.random().toString(36).slice(2)}`;
      const src = join(dir, `${o.hash}.${tag}.c`), tmp = join(dir, `${o.hash}.${tag}.o`);
      writeFileSync(src, o.source);
      const r = await spawnAsync(c.cc, [...c.flags, '-c', '-o', tmp, src]);
      rmSync(src, { force: true });
      if (!r.ok) { rmSync(tmp, { force: true }); failures.push(`${o.name}: ${r.out.trim().split('\n').slice(0, 12).join('\n')}`); continue; }
      renameSync(tmp, join(dir, `${o.hash}.o`));
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(jobs, todo.length)) }, worker));
  if (failures.length) throw new CompileError(`the C compiler (${c.cc}) rejected ${failures.length} kernel(s):\n${failures.join('\n')}`);
  const tmp = `${so}.${process.pid}.tmp`;
  const link = await spawnAsync(c.cc, [...c.flags, '-shared', '-o', tmp, ...objs.map((o) => join(dir, `${o.hash}.o`))]);
  if (!link.ok) { rmSync(tmp, { force: true }); throw new CompileError(`linking ${sources.length} kernel(s) with ${c.cc} failed: ${link.out.trim()}`); }
  renameSync(tmp, so);
  return so;
}
