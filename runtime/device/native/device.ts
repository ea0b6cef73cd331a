// The native CPU device: the build's C kernels (emitKernel(spec, 'c')) compiled by the system C
// compiler into shared objects, loaded with koffi and called directly. Buffers are 64-byte
// aligned host memory (libc aligned_alloc), so a view is an address plus an offset and a copy is
// a memcpy into a typed array over that memory. A dispatch runs synchronously on the calling
// thread plus the kernel's OpenMP team of `threads`: the work split is static, so results are
// bit-reproducible for a fixed thread count (the kernels make them independent of it, too).
import { availableParallelism, cpus } from 'node:os';
import koffi, { type LibraryHandle } from 'koffi';
import type { Device, DeviceBuffer, KernelSource, Program, Unavailable } from '../types.js';
import { InternalError } from '../types.js';
import type { HostArray } from '../cpu/reference.js';
import { checkBuffers } from '../check.js';
import { buildShared, cacheDir, CompileError, findCompiler, type CCompiler } from './compiler.js';

export interface NativeOptions {
  /** OpenMP threads per kernel; default $MEDCTC_THREADS, else the machine's cores. */
  threads?: number;
  /** Where objects and shared objects are cached; default $MEDCTC_NATIVE_CACHE, else <tmpdir>/medctc-native-<user>. */
  cacheDir?: string;
  env?: NodeJS.ProcessEnv;
}

type Kernel = (args: BigUint64Array, threads: number) => void;

class NativeBuffer implements DeviceBuffer {
  freed = false;
  constructor(
    readonly bytes: number,
    readonly addr: bigint,
    /** The whole allocation as an ArrayBuffer (shared by views). */
    readonly memory: ArrayBuffer,
    readonly offset: number,
    readonly root: NativeBuffer | null,
  ) {}
}

interface NativeProgram extends Program {
  readonly bindings: KernelSource['bindings'];
  readonly entries: Kernel[];
}

interface Libc { alignedAlloc: (align: number, bytes: number) => bigint | null; free: (p: bigint) => void }
let libc: Libc | { reason: string } | null = null;
function loadLibc(): Libc | { reason: string } {
  if (libc) return libc;
  for (const name of ['libc.so.6', 'libc.so', 'libSystem.dylib']) {
    try {
      const lib = koffi.load(name);
      libc = { alignedAlloc: lib.func('void *aligned_alloc(size_t align, size_t bytes)'), free: lib.func('void free(void *p)') } as unknown as Libc;
      return libc;
    } catch { /* next */ }
  }
  libc = { reason: 'the C library could not be loaded for buffer allocation' };
  return libc;
}

const ALIGN = 64;
const roundUp = (n: number, a: number): number => Math.ceil(n / a) * a;

export function threadCount(opts: NativeOptions = {}): number {
  const env = opts.env ?? process.env;
  const fromEnv = env.MEDCTC_THREADS ? Number(env.MEDCTC_THREADS) : NaN;
  const n = opts.threads ?? (Number.isInteger(fromEnv) && fromEnv > 0 ? fromEnv : availableParallelism());
  if (!Number.isInteger(n) || n < 1) throw new Error(`native: thread count must be a positive integer, got ${n}`);
  return n;
}

/** OpenMP's wait policy, chosen for the process before the first kernel library (and with it
 *  libgomp or libomp, which read these variables once, when they load) is loaded. An idle OpenMP
 *  thread spins before it sleeps: libgomp ~300,000 spins (a few ms) after every parallel region
 *  and barrier. When the machine's cores are busy with other work, the spinning thread takes the
 *  core that the thread with work is waiting for: 2 threads ran a train step 40x slower than 1.
 *  Sleeping at once (passive) instead makes each of a train step's ~360 parallel regions wait for
 *  a thread to be woken: on an idle machine 2 threads then took 58 ms where 1 took 47. A short
 *  spin (SPINS) is close to the best of both (bench/native/wait-policy.mjs, ct_clip_tiny train
 *  step, 2 threads on 2 cores): idle 36 ms (default spin 30, passive 58); beside 1 busy process
 *  61 ms (default 282, passive 50); beside 3, 105 ms (default 306, passive 94). The policy only
 *  changes how threads wait, never what they compute: results stay bit-identical. A user's own
 *  OMP_WAIT_POLICY, GOMP_SPINCOUNT or KMP_BLOCKTIME is left as it is. Writes `env` (for
 *  process.env Node calls setenv, which the OpenMP runtime reads); returns the policy in effect. */
export function configureOpenMpWait(env: NodeJS.ProcessEnv = process.env): string {
  const own = ['OMP_WAIT_POLICY', 'GOMP_SPINCOUNT', 'KMP_BLOCKTIME'].filter((k) => env[k] !== undefined);
  if (own.length) return own.map((k) => `${k}=${env[k]}`).join(' ');
  env.GOMP_SPINCOUNT = String(SPINS);
  // libomp (clang's) counts in milliseconds: its shortest wait, instead of its default 200.
  env.KMP_BLOCKTIME = '1';
  return `GOMP_SPINCOUNT=${SPINS} KMP_BLOCKTIME=1`;
}
/** Spins of an idle libgomp thread before it sleeps (see configureOpenMpWait). 3,000 was faster
 *  idle (32 ms) but slower under load (89 / 128 ms). */
export const SPINS = 1000;

/** The native device, or why it cannot run here (no C compiler, no libc): never a throw. */
export async function openNative(opts: NativeOptions = {}): Promise<NativeDevice | Unavailable> {
  const env = opts.env ?? process.env;
  const waitPolicy = configureOpenMpWait(process.env);
  const dir = opts.cacheDir ?? cacheDir(env);
  let cc: CCompiler | { reason: string };
  try { cc = findCompiler(env, dir); } catch (e) { cc = { reason: `probing the C compiler failed: ${(e as Error).message}` }; }
  if ('reason' in cc) return { backend: 'cpu', reason: cc.reason };
  const c = loadLibc();
  if ('reason' in c) return { backend: 'cpu', reason: c.reason };
  return new NativeDevice(cc, c, threadCount(opts), dir, waitPolicy);
}

export class NativeDevice implements Device {
  readonly backend = 'cpu' as const;
  readonly software = true;
  readonly target = 'c' as const;
  readonly description: string;
  private readonly programs = new Map<string, Promise<NativeProgram>>();
  private readonly libs: LibraryHandle[] = [];
  private readonly live = new Set<NativeBuffer>();

  /** @param waitPolicy the OpenMP wait settings in effect (configureOpenMpWait). */
  constructor(readonly compiler: CCompiler, private readonly libc: Libc, readonly threads: number, readonly cacheDir: string, readonly waitPolicy = '') {
    const threadNote = compiler.openmp ? `${threads} thread${threads === 1 ? '' : 's'}${waitPolicy ? ` (${waitPolicy})` : ''}` : '1 thread (no OpenMP in this compiler)';
    this.description = `cpu: ${cpus()[0]?.model.trim() ?? 'CPU'}, ${threadNote}, ${compiler.version}`;
  }

  alloc(bytes: number): DeviceBuffer {
    const size = roundUp(Math.max(bytes, 4), ALIGN);
    const p = this.libc.alignedAlloc(ALIGN, size);
    if (!p) throw new Error(`native: out of memory allocating ${bytes} bytes`);
    const memory = koffi.view(p, size);
    new Uint8Array(memory).fill(0);
    const b = new NativeBuffer(bytes, koffi.address(p), memory, 0, null);
    this.live.add(b);
    return b;
  }

  view(buffer: DeviceBuffer, offset: number, bytes: number): DeviceBuffer {
    const b = buffer as NativeBuffer;
    if (offset % 256 !== 0 || offset < 0 || offset + bytes > b.bytes) {
      throw new InternalError(`native: view [${offset}, ${offset + bytes}) of a ${b.bytes}-byte buffer (offsets are multiples of 256, inside the buffer)`);
    }
    const root = b.root ?? b;
    return new NativeBuffer(bytes, b.addr + BigInt(offset), root.memory, b.offset + offset, root);
  }

  private bytesOf(b: NativeBuffer, n: number): Uint8Array {
    if ((b.root ?? b).freed) throw new InternalError('native: use of a freed buffer');
    if (n > b.bytes) throw new InternalError(`native: copy of ${n} bytes into a ${b.bytes}-byte buffer`);
    return new Uint8Array(b.memory, b.offset, n);
  }

  async upload(buffer: DeviceBuffer, data: HostArray): Promise<void> {
    this.bytesOf(buffer as NativeBuffer, data.byteLength).set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
  }

  async download(buffer: DeviceBuffer, out: HostArray): Promise<void> {
    new Uint8Array(out.buffer, out.byteOffset, out.byteLength).set(this.bytesOf(buffer as NativeBuffer, out.byteLength));
  }

  /** One shared object per batch of new kernels (cached on disk by content); known names are reused. */
  async compile(kernels: KernelSource[]): Promise<Program[]> {
    const fresh = new Map<string, KernelSource>();
    for (const k of kernels) {
      if (k.target !== 'c' || k.source === null) throw new InternalError(`native: kernel ${k.name} has no C source (target ${k.target})`);
      if (!this.programs.has(k.name) && !fresh.has(k.name)) fresh.set(k.name, k);
    }
    if (fresh.size) {
      const batch = [...fresh.values()];
      const built = this.build(batch);
      for (const k of batch) this.programs.set(k.name, built.then((ps) => ps.get(k.name)!));
      // A failed build must not stay cached as the answer for these names.
      built.catch(() => { for (const k of batch) this.programs.delete(k.name); });
    }
    return Promise.all(kernels.map((k) => this.programs.get(k.name)!));
  }

  private async build(batch: KernelSource[]): Promise<Map<string, NativeProgram>> {
    let so: string;
    try {
      so = await buildShared(this.compiler, batch.map((k) => ({ name: k.name, source: k.source! })), this.cacheDir, availableParallelism());
    } catch (e) {
      if (e instanceof CompileError) throw new InternalError(`native: ${e.message}`);
      throw e;
    }
    const lib = koffi.load(so);
    this.libs.push(lib);
    const out = new Map<string, NativeProgram>();
    for (const k of batch) {
      const entries = k.launches.map((l) => lib.func(`void ${l.entry}(const uint64_t *args, int threads)`) as unknown as Kernel);
      out.set(k.name, { name: k.name, spec: k.spec, bindings: k.bindings, entries });
    }
    return out;
  }

  dispatch(program: Program, buffers: DeviceBuffer[]): void {
    const p = program as NativeProgram;
    checkBuffers(p.name, p.bindings, buffers);
    const args = new BigUint64Array(buffers.length);
    buffers.forEach((b, i) => {
      const nb = b as NativeBuffer;
      if ((nb.root ?? nb).freed) throw new InternalError(`native: kernel ${p.name} was given a freed buffer (${p.bindings[i]!.name})`);
      args[i] = nb.addr;
    });
    for (const e of p.entries) e(args, this.threads);
  }

  async synchronize(): Promise<void> {}

  free(buffer: DeviceBuffer): void {
    const b = buffer as NativeBuffer;
    if (b.root || b.freed) return;
    b.freed = true;
    this.live.delete(b);
    this.libc.free(b.addr);
  }

  destroy(): void {
    for (const b of [...this.live]) this.free(b);
    this.programs.clear();
  }
}
