// Dawn writes start-up warnings ("Couldn't load Vulkan", "maxDynamicUniformBuffersPerPipelineLayout
// artificially reduced ...") straight to file descriptor 2 from native code, where no Node stream
// can filter them: they broke `--json`'s promise that stderr carries only JSON lines, and in text
// mode they read like problems with the user's setup. While the adapter and device are opened, fd 2
// is pointed at a temporary file (dup/dup2 through libc, loaded with koffi as the native backend
// does); what Dawn wrote is kept, not shown. MEDCTC_DAWN_LOG=1 leaves stderr alone (to debug Dawn).
import koffi from 'koffi';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

interface Fds { dup: (fd: number) => number; dup2: (from: number, to: number) => number; close: (fd: number) => number }
let fds: Fds | null | undefined;
function libc(): Fds | null {
  if (fds !== undefined) return fds;
  fds = null;
  for (const name of ['libc.so.6', 'libc.so', 'libSystem.dylib']) {
    try {
      const lib = koffi.load(name);
      fds = { dup: lib.func('int dup(int fd)'), dup2: lib.func('int dup2(int from, int to)'), close: lib.func('int close(int fd)') } as unknown as Fds;
      break;
    } catch { /* next */ }
  }
  return fds;
}

/** What Dawn wrote while the last WebGPU adapter was opened (kept for diagnosing a missing adapter). */
export const dawnLog: string[] = [];

/**
 * Runs `fn` with native writes to fd 2 captured into `dawnLog`. Node's own stderr writes are
 * synchronous on Linux, so a JSON line medctc wrote meanwhile lands in the file too: those are
 * written back, in order, after fd 2 is restored.
 */
export async function withNativeStderrCaptured<T>(fn: () => Promise<T>): Promise<T> {
  const c = process.env.MEDCTC_DAWN_LOG ? null : libc();
  if (!c) return fn();
  const dir = mkdtempSync(join(tmpdir(), 'medctc-dawn-'));
  const file = join(dir, 'stderr.txt');
  const fd = openSync(file, 'w');
  const saved = c.dup(2);
  if (saved < 0 || c.dup2(fd, 2) < 0) {
    if (saved >= 0) c.close(saved);
    closeSync(fd);
    rmSync(dir, { recursive: true, force: true });
    return fn();
  }
  try {
    return await fn();
  } finally {
    c.dup2(saved, 2);
    c.close(saved);
    closeSync(fd);
    const lines = readFileSync(file, 'utf8').split('\n');
    rmSync(dir, { recursive: true, force: true });
    dawnLog.length = 0;
    for (const l of lines) {
      if (isJsonLine(l)) process.stderr.write(l + '\n');
      else if (l.trim() !== '') dawnLog.push(l);
    }
  }
}

function isJsonLine(l: string): boolean {
  if (!l.startsWith('{')) return false;
  try { JSON.parse(l); return true; } catch { return false; }
}
