// Loads the CUDA driver API (libcuda) and NVRTC at run time with koffi: no build step, so
// installing medctc never needs a GPU or the CUDA toolkit. Every failure is an answer, not a throw.
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import koffi, { type LibraryHandle } from 'koffi';

// koffi function handles are untyped callables.
type Fn = (...args: unknown[]) => number;

export interface CudaApi {
  cuInit: Fn; cuDeviceGet: Fn; cuDeviceGetName: Fn; cuDeviceGetAttribute: Fn;
  cuDevicePrimaryCtxRetain: Fn; cuCtxSetCurrent: Fn; cuCtxSynchronize: Fn;
  cuMemAlloc: Fn; cuMemFree: Fn; cuMemcpyHtoD: Fn; cuMemcpyDtoH: Fn;
  cuModuleLoadData: Fn; cuModuleGetFunction: Fn; cuLaunchKernel: Fn; cuGetErrorString: Fn;
  nvrtcCreateProgram: Fn; nvrtcCompileProgram: Fn; nvrtcGetPTXSize: Fn; nvrtcGetPTX: Fn;
  nvrtcGetProgramLogSize: Fn; nvrtcGetProgramLog: Fn; nvrtcDestroyProgram: Fn;
}

/** Where the driver and NVRTC usually live (plus $CUDA_HOME, $CUDA_PATH, and pip's nvidia-cuda-nvrtc wheels). */
export function candidateDirs(env: NodeJS.ProcessEnv = process.env): string[] {
  const dirs = [env.CUDA_HOME, env.CUDA_PATH].filter((d): d is string => !!d).flatMap((d) => [join(d, 'lib64'), join(d, 'lib')]);
  dirs.push('/usr/local/cuda/lib64', '/usr/local/cuda/targets/x86_64-linux/lib', '/usr/lib/x86_64-linux-gnu', '/usr/lib64', '/usr/local/nvidia/lib64', '/usr/lib/wsl/lib');
  for (const root of ['/usr/local/lib', '/usr/lib', '/opt/conda/lib']) {
    try {
      for (const py of readdirSync(root).filter((d) => d.startsWith('python3'))) {
        for (const site of ['site-packages', 'dist-packages']) dirs.push(join(root, py, site, 'nvidia', 'cuda_nvrtc', 'lib'), join(root, py, site, 'nvidia', 'cu13', 'lib'));
      }
    } catch { /* no such root */ }
  }
  return dirs;
}

/** Toolkit include folders holding cuda_bf16.h / cuda_fp16.h, which 16-bit kernels (precision
 *  bf16|fp16) include: NVRTC is given them with --include-path (older NVRTCs do not build them in). */
export function cudaIncludeDirs(env: NodeJS.ProcessEnv = process.env): string[] {
  const roots = [env.CUDA_HOME, env.CUDA_PATH].filter((d): d is string => !!d);
  roots.push('/usr/local/cuda');
  const dirs = roots.flatMap((r) => [join(r, 'include'), join(r, 'targets', 'x86_64-linux', 'include')]);
  for (const root of ['/usr/local/lib', '/usr/lib', '/opt/conda/lib']) {
    try {
      for (const py of readdirSync(root).filter((d) => d.startsWith('python3'))) {
        for (const site of ['site-packages', 'dist-packages']) dirs.push(join(root, py, site, 'nvidia', 'cuda_runtime', 'include'), join(root, py, site, 'nvidia', 'cu13', 'include'));
      }
    } catch { /* no such root */ }
  }
  return [...new Set(dirs)].filter((d) => existsSync(join(d, 'cuda_fp16.h')));
}

/** The first library that loads: bare sonames first (the loader's own search), then each directory's versioned files. */
function loadFirst(names: RegExp, sonames: string[], dirs: string[]): { lib: LibraryHandle; path: string } | { errors: string[] } {
  const errors: string[] = [];
  const tries = [...sonames];
  for (const d of dirs) {
    if (!existsSync(d)) continue;
    try { tries.push(...readdirSync(d).filter((f) => names.test(f)).sort().reverse().map((f) => join(d, f))); } catch { /* unreadable */ }
  }
  for (const path of tries) {
    try { return { lib: koffi.load(path), path }; } catch (e) { errors.push(`${path}: ${(e as Error).message.split('\n')[0]}`); }
  }
  return { errors };
}

export type Loaded = { api: CudaApi; driverPath: string; nvrtcPath: string } | { reason: string };

export function loadCuda(env: NodeJS.ProcessEnv = process.env): Loaded {
  const dirs = candidateDirs(env);
  const driver = loadFirst(/^libcuda\.so(\.\d+)*$/, env.MEDCTC_LIBCUDA ? [env.MEDCTC_LIBCUDA] : ['libcuda.so.1', 'libcuda.so'], dirs);
  if ('errors' in driver) return { reason: `no NVIDIA driver library (libcuda.so.1) could be loaded${driver.errors.length ? `: ${driver.errors.slice(0, 2).join('; ')}` : ''}` };
  const nvrtc = loadFirst(/^libnvrtc\.so(\.\d+)*$/, env.MEDCTC_LIBNVRTC ? [env.MEDCTC_LIBNVRTC] : ['libnvrtc.so', 'libnvrtc.so.13', 'libnvrtc.so.12'], dirs);
  if ('errors' in nvrtc) return { reason: `the NVIDIA driver is present (${driver.path}) but NVRTC (libnvrtc.so) was not found; set CUDA_HOME or MEDCTC_LIBNVRTC` };
  const d = driver.lib, n = nvrtc.lib;
  try {
    const api: CudaApi = {
      cuInit: d.func('int cuInit(unsigned int flags)'),
      cuDeviceGet: d.func('int cuDeviceGet(_Out_ int *dev, int ordinal)'),
      cuDeviceGetName: d.func('int cuDeviceGetName(uint8_t *name, int len, int dev)'),
      cuDeviceGetAttribute: d.func('int cuDeviceGetAttribute(_Out_ int *value, int attrib, int dev)'),
      cuDevicePrimaryCtxRetain: d.func('int cuDevicePrimaryCtxRetain(_Out_ void **ctx, int dev)'),
      cuCtxSetCurrent: d.func('int cuCtxSetCurrent(void *ctx)'),
      cuCtxSynchronize: d.func('int cuCtxSynchronize()'),
      cuMemAlloc: d.func('int cuMemAlloc_v2(_Out_ uint64_t *dptr, size_t bytes)'),
      cuMemFree: d.func('int cuMemFree_v2(uint64_t dptr)'),
      cuMemcpyHtoD: d.func('int cuMemcpyHtoD_v2(uint64_t dst, const void *src, size_t bytes)'),
      cuMemcpyDtoH: d.func('int cuMemcpyDtoH_v2(void *dst, uint64_t src, size_t bytes)'),
      cuModuleLoadData: d.func('int cuModuleLoadData(_Out_ void **module, const char *image)'),
      cuModuleGetFunction: d.func('int cuModuleGetFunction(_Out_ void **fn, void *module, const char *name)'),
      cuLaunchKernel: d.func('int cuLaunchKernel(void *f, unsigned int gx, unsigned int gy, unsigned int gz, unsigned int bx, unsigned int by, unsigned int bz, unsigned int shared, void *stream, void *params, void *extra)'),
      cuGetErrorString: d.func('int cuGetErrorString(int error, _Out_ const char **str)'),
      nvrtcCreateProgram: n.func('int nvrtcCreateProgram(_Out_ void **prog, const char *src, const char *name, int numHeaders, void *headers, void *includeNames)'),
      nvrtcCompileProgram: n.func('int nvrtcCompileProgram(void *prog, int numOptions, const char **options)'),
      nvrtcGetPTXSize: n.func('int nvrtcGetPTXSize(void *prog, _Out_ size_t *size)'),
      nvrtcGetPTX: n.func('int nvrtcGetPTX(void *prog, uint8_t *ptx)'),
      nvrtcGetProgramLogSize: n.func('int nvrtcGetProgramLogSize(void *prog, _Out_ size_t *size)'),
      nvrtcGetProgramLog: n.func('int nvrtcGetProgramLog(void *prog, uint8_t *log)'),
      nvrtcDestroyProgram: n.func('int nvrtcDestroyProgram(_Inout_ void **prog)'),
    } as unknown as CudaApi;
    return { api, driverPath: driver.path, nvrtcPath: nvrtc.path };
  } catch (e) {
    return { reason: `CUDA libraries loaded but a symbol is missing: ${(e as Error).message}` };
  }
}
