// CUDA device: generated CUDA C compiled by NVRTC to PTX, loaded and launched through the driver API.
import koffi from 'koffi';
import { InternalError, type Device, type DeviceBuffer, type KernelSource, type Program, type Unavailable } from '../types.js';
import type { HostArray } from '../cpu/reference.js';
import { checkBuffers, checkView } from '../check.js';
import { cudaIncludeDirs, loadCuda, type CudaApi } from './driver.js';

export { loadCuda } from './driver.js';

/** Device memory, or a view of it (a pointer offset into the parent allocation). */
class CuBuffer implements DeviceBuffer {
  constructor(readonly bytes: number, readonly ptr: bigint, readonly owner: boolean) {}
}
interface CuProgram extends Program {
  kernel: KernelSource;
  functions: { fn: unknown; grid: [number, number, number]; block: [number, number, number] }[];
}

const CC_MAJOR = 75, CC_MINOR = 76;

export async function openCuda(env: NodeJS.ProcessEnv = process.env): Promise<CudaDevice | Unavailable> {
  const loaded = loadCuda(env);
  if ('reason' in loaded) return { backend: 'cuda', reason: loaded.reason };
  const { api } = loaded;
  const rc = api.cuInit(0);
  if (rc !== 0) return { backend: 'cuda', reason: `cuInit failed with CUDA error ${rc} (${errorString(api, rc)}): is an NVIDIA GPU visible to this process?` };
  const dev = [0], ctx = [null], major = [0], minor = [0];
  const name = Buffer.alloc(256);
  for (const [what, code] of [
    ['cuDeviceGet', api.cuDeviceGet(dev, 0)],
    ['cuDevicePrimaryCtxRetain', api.cuDevicePrimaryCtxRetain(ctx, 0)],
  ] as const) if (code !== 0) return { backend: 'cuda', reason: `${what} failed with CUDA error ${code} (${errorString(api, code)})` };
  api.cuCtxSetCurrent(ctx[0]);
  api.cuDeviceGetAttribute(major, CC_MAJOR, dev[0]);
  api.cuDeviceGetAttribute(minor, CC_MINOR, dev[0]);
  api.cuDeviceGetName(name, 256, dev[0]);
  const gpu = name.toString('utf8').replace(/\0.*$/s, '');
  return new CudaDevice(api, `cuda: ${gpu} (sm_${major[0]}${minor[0]})`, `compute_${major[0]}${minor[0]}`);
}

function errorString(api: CudaApi, code: number): string {
  const out: (string | null)[] = [null];
  try { api.cuGetErrorString(code, out); } catch { /* keep the number */ }
  return out[0] ?? 'unknown';
}

export class CudaDevice implements Device {
  readonly backend = 'cuda' as const;
  readonly software = false;
  readonly target = 'cuda' as const;
  private readonly cache = new Map<string, CuProgram>();
  constructor(private readonly api: CudaApi, readonly description: string, private readonly arch: string) {}

  private check(what: string, code: number): void {
    if (code !== 0) throw new Error(`cuda: ${what} failed with CUDA error ${code} (${errorString(this.api, code)})`);
  }

  alloc(bytes: number): DeviceBuffer {
    const out = [0n];
    this.check('cuMemAlloc', this.api.cuMemAlloc(out, Math.max(4, bytes)));
    return new CuBuffer(bytes, BigInt(out[0]!), true);
  }
  view(buffer: DeviceBuffer, offset: number, bytes: number): DeviceBuffer {
    checkView(buffer, offset, bytes);
    return new CuBuffer(bytes, (buffer as CuBuffer).ptr + BigInt(offset), false);
  }
  async upload(buffer: DeviceBuffer, data: HostArray): Promise<void> {
    this.check('cuMemcpyHtoD', this.api.cuMemcpyHtoD((buffer as CuBuffer).ptr, data, data.byteLength));
  }
  async download(buffer: DeviceBuffer, out: HostArray): Promise<void> {
    this.check('cuMemcpyDtoH', this.api.cuMemcpyDtoH(out, (buffer as CuBuffer).ptr, out.byteLength));
  }

  async compile(kernels: KernelSource[]): Promise<Program[]> {
    return kernels.map((k) => {
      if (k.target !== 'cuda' || k.source === null) throw new InternalError(`cuda was handed kernel ${k.name} as ${k.target ?? 'a spec'}, not CUDA C`);
      let p = this.cache.get(k.source);
      if (!p) { p = this.build(k); this.cache.set(k.source, p); }
      return p;
    });
  }

  private build(k: KernelSource): CuProgram {
    const { api } = this;
    const prog = [null];
    this.check('nvrtcCreateProgram', api.nvrtcCreateProgram(prog, k.source, `${k.name}.cu`, 0, null, null));
    const includes = /#include <cuda_(bf16|fp16)\.h>/.test(k.source!) ? cudaIncludeDirs().map((d) => `--include-path=${d}`) : [];
    const opts = [`--gpu-arch=${this.arch}`, '--std=c++17', ...includes];
    const rc = api.nvrtcCompileProgram(prog[0], opts.length, opts);
    if (rc !== 0) {
      const size = [0];
      api.nvrtcGetProgramLogSize(prog[0], size);
      const log = Buffer.alloc(Number(size[0]));
      api.nvrtcGetProgramLog(prog[0], log);
      throw new InternalError(`CUDA kernel ${k.name} failed to compile with NVRTC: ${log.toString('utf8').replace(/\0+$/, '').trim()}`);
    }
    const size = [0];
    api.nvrtcGetPTXSize(prog[0], size);
    const ptx = Buffer.alloc(Number(size[0]));
    api.nvrtcGetPTX(prog[0], ptx);
    api.nvrtcDestroyProgram(prog);
    const mod = [null];
    this.check('cuModuleLoadData', api.cuModuleLoadData(mod, ptx.toString('utf8').replace(/\0+$/, '')));
    const functions = k.launches.map((l) => {
      const fn = [null];
      this.check(`cuModuleGetFunction(${l.entry})`, api.cuModuleGetFunction(fn, mod[0], l.entry));
      return { fn: fn[0], grid: l.grid, block: l.workgroup };
    });
    return { name: k.name, spec: k.spec, kernel: k, functions };
  }

  dispatch(program: Program, buffers: DeviceBuffer[]): void {
    const p = program as CuProgram;
    checkBuffers(p.name, p.kernel.bindings, buffers);
    // kernelParams: an array of pointers, each to one argument (here: a device pointer).
    const n = buffers.length;
    const args = koffi.alloc('uint64_t', n);
    const params = koffi.alloc('uint64_t', n);
    const base = koffi.address(args);
    buffers.forEach((b, i) => {
      koffi.encode(args, i * 8, 'uint64_t', (b as CuBuffer).ptr);
      koffi.encode(params, i * 8, 'uint64_t', base + BigInt(i * 8));
    });
    try {
      for (const f of p.functions) {
        this.check(`cuLaunchKernel(${p.name})`, this.api.cuLaunchKernel(f.fn, ...f.grid, ...f.block, 0, null, params, null));
      }
    } finally {
      // Launch copies the argument values, so the arrays can go as soon as it returns.
      koffi.free(args);
      koffi.free(params);
    }
  }

  async synchronize(): Promise<void> { this.check('cuCtxSynchronize', this.api.cuCtxSynchronize()); }
  free(buffer: DeviceBuffer): void { const b = buffer as CuBuffer; if (b.owner) this.api.cuMemFree(b.ptr); }
  destroy(): void { this.cache.clear(); }
}
