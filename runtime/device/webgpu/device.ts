// WebGPU device through Dawn (the `webgpu` npm package). Adapter selection: the default adapter
// first (a real GPU); where there is none (CPU-only machines), Dawn's OpenGL ES backend in
// compatibility mode on Mesa llvmpipe, which needs EGL_PLATFORM=surfaceless.
import { create, globals } from 'webgpu';
import { InternalError, type Device, type DeviceBuffer, type KernelSource, type Program, type Unavailable } from '../types.js';
import type { HostArray } from '../cpu/reference.js';
import { checkBuffers, checkView } from '../check.js';
import { withNativeStderrCaptured } from './quiet.js';
import { diag } from '../../../base/diagnostics/catalog.js';
import { DiagnosticError } from '../../../base/diagnostics/types.js';

/** A GPU buffer, or a view of one: bound with a binding offset (256-aligned, as the plan places them). */
class GpuBuffer implements DeviceBuffer {
  constructor(readonly bytes: number, readonly buffer: GPUBuffer, readonly offset: number, readonly owner: boolean) {}
}

interface GpuProgram extends Program {
  kernel: KernelSource;
  layout: GPUBindGroupLayout;
  pipelines: { pipeline: GPUComputePipeline; grid: [number, number, number] }[];
}

const LIMITS = ['maxComputeInvocationsPerWorkgroup', 'maxComputeWorkgroupSizeX', 'maxComputeWorkgroupSizeY', 'maxComputeWorkgroupSizeZ',
  'maxStorageBuffersPerShaderStage', 'maxStorageBufferBindingSize', 'maxBufferSize', 'maxComputeWorkgroupStorageSize'] as const;

const isSoftware = (info: GPUAdapterInfo): boolean =>
  /llvmpipe|lavapipe|swiftshader|softpipe/i.test(`${info.description} ${info.device} ${info.architecture}`);

// Dawn instances live for the whole process: letting one be garbage-collected while another is in
// use aborts the process inside Dawn (seen with the GLES backend on llvmpipe).
const INSTANCES: GPU[] = [];
const instance = (options: string[]): GPU => { const gpu = create(options); INSTANCES.push(gpu); return gpu; };

async function requestAdapter(): Promise<{ adapter: GPUAdapter; mode: string } | null> {
  Object.assign(globalThis, globals);
  // Must be set before Dawn first touches EGL (which the default adapter probe may do).
  process.env.EGL_PLATFORM ??= 'surfaceless';
  try {
    const adapter = await instance([]).requestAdapter();
    if (adapter && !isSoftware(adapter.info)) return { adapter, mode: 'default' };
  } catch { /* fall through to the GLES path */ }
  const adapter = await instance(['backend=opengles']).requestAdapter({ featureLevel: 'compatibility' });
  return adapter ? { adapter, mode: 'opengles, compatibility' } : null;
}

export async function openWebGpu(): Promise<WebGpuDevice | Unavailable> {
  // Dawn's start-up warnings go to fd 2 from native code; ./quiet.ts keeps them off the user's stderr.
  return withNativeStderrCaptured(openQuietly);
}

async function openQuietly(): Promise<WebGpuDevice | Unavailable> {
  let found: Awaited<ReturnType<typeof requestAdapter>>;
  try {
    found = await requestAdapter();
  } catch (e) {
    return { backend: 'webgpu', reason: `Dawn failed to start: ${(e as Error).message}` };
  }
  if (!found) return { backend: 'webgpu', reason: 'no WebGPU adapter (on a machine without a GPU, install Mesa: libegl1 libegl-mesa0 libgles2 libgl1-mesa-dri; MEDCTC_DAWN_LOG=1 shows what Dawn reported)' };
  const { adapter, mode } = found;
  const requiredLimits: Record<string, number> = {};
  for (const l of LIMITS) requiredLimits[l] = adapter.limits[l];
  // f16 storage (precision fp16) needs the optional feature; bf16 is emulated on u32 words everywhere.
  const shaderF16 = adapter.features.has('shader-f16');
  const device = await adapter.requestDevice({ requiredLimits, requiredFeatures: shaderF16 ? ['shader-f16'] : [] });
  const info = adapter.info;
  const software = isSoftware(info) || mode !== 'default';
  return new WebGpuDevice(device, `webgpu: ${info.description || info.vendor || 'adapter'} (${mode})`, software,
    Math.min(adapter.limits.maxBufferSize, adapter.limits.maxStorageBufferBindingSize), shaderF16);
}

export class WebGpuDevice implements Device {
  readonly backend = 'webgpu' as const;
  readonly target = 'wgsl' as const;
  private readonly cache = new Map<string, Promise<GpuProgram>>();
  constructor(readonly device: GPUDevice, readonly description: string, readonly software: boolean,
    /** The largest buffer this adapter can allocate and bind whole. */
    readonly maxBufferBytes: number,
    /** The adapter has `shader-f16` (and the device was opened with it): f16 storage compiles. */
    readonly shaderF16 = false) {}

  alloc(bytes: number): DeviceBuffer {
    const size = Math.max(16, Math.ceil(bytes / 16) * 16);
    return new GpuBuffer(size, this.device.createBuffer({ size, usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST }), 0, true);
  }

  view(buffer: DeviceBuffer, offset: number, bytes: number): DeviceBuffer {
    checkView(buffer, offset, bytes);
    const b = buffer as GpuBuffer;
    // Bindings and copies want sizes in multiples of 4 (every element here is 4 bytes wide).
    return new GpuBuffer(Math.min(Math.ceil(bytes / 4) * 4, b.bytes - offset), b.buffer, b.offset + offset, false);
  }

  async upload(buffer: DeviceBuffer, data: HostArray): Promise<void> {
    const b = buffer as GpuBuffer;
    this.device.queue.writeBuffer(b.buffer, b.offset, data.buffer, data.byteOffset, data.byteLength);
  }

  async download(buffer: DeviceBuffer, out: HostArray): Promise<void> {
    const b = buffer as GpuBuffer;
    const size = Math.ceil(out.byteLength / 4) * 4;
    const staging = this.device.createBuffer({ size: Math.max(4, size), usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
    const enc = this.device.createCommandEncoder();
    enc.copyBufferToBuffer(b.buffer, b.offset, staging, 0, size);
    this.device.queue.submit([enc.finish()]);
    await staging.mapAsync(GPUMapMode.READ);
    new Uint8Array(out.buffer, out.byteOffset, out.byteLength).set(new Uint8Array(staging.getMappedRange(), 0, out.byteLength));
    staging.unmap();
    staging.destroy();
  }

  async compile(kernels: KernelSource[]): Promise<Program[]> {
    return Promise.all(kernels.map((k) => {
      if (k.target !== 'wgsl' || k.source === null) throw new InternalError(`webgpu was handed kernel ${k.name} as ${k.target ?? 'a spec'}, not WGSL`);
      if (!this.shaderF16 && k.bindings.some((b) => b.dtype === 'f16')) {
        throw new DiagnosticError(diag('E4006', `this WebGPU adapter (${this.description}) has no \`shader-f16\` feature, which \`precision fp16\` storage needs`, null,
          { help: 'write `precision bf16` (webgpu emulates it on any adapter), or run with --backend cpu' }));
      }
      let p = this.cache.get(k.source);
      if (!p) { p = this.build(k); this.cache.set(k.source, p); }
      return p;
    }));
  }

  private async build(k: KernelSource): Promise<GpuProgram> {
    const module = this.device.createShaderModule({ code: k.source!, label: k.name });
    const info = await module.getCompilationInfo();
    const errors = info.messages.filter((m) => m.type === 'error');
    if (errors.length) throw new InternalError(`WGSL kernel ${k.name} failed to compile: ${errors.map((m) => `${m.lineNum}:${m.linePos} ${m.message}`).join('; ')}`);
    const layout = this.device.createBindGroupLayout({
      // 'storage' for reads too: see the WGSL target (views of one arena buffer in one dispatch).
      entries: k.bindings.map((_, i) => ({ binding: i, visibility: GPUShaderStage.COMPUTE, buffer: { type: 'storage' as const } })),
    });
    const pipelineLayout = this.device.createPipelineLayout({ bindGroupLayouts: [layout] });
    this.device.pushErrorScope('validation');
    const pipelines = await Promise.all(k.launches.map(async (l) => ({
      pipeline: await this.device.createComputePipelineAsync({ layout: pipelineLayout, compute: { module, entryPoint: l.entry } }),
      grid: l.grid,
    })));
    const err = await this.device.popErrorScope();
    if (err) throw new InternalError(`WGSL kernel ${k.name}: pipeline creation failed: ${err.message}`);
    return { name: k.name, spec: k.spec, kernel: k, layout, pipelines };
  }

  dispatch(program: Program, buffers: DeviceBuffer[]): void {
    const p = program as GpuProgram;
    checkBuffers(p.name, p.kernel.bindings, buffers);
    const group = this.device.createBindGroup({
      layout: p.layout,
      entries: buffers.map((b, i) => {
        const g = b as GpuBuffer;
        return { binding: i, resource: { buffer: g.buffer, offset: g.offset, size: g.bytes } };
      }),
    });
    const enc = this.device.createCommandEncoder();
    const pass = enc.beginComputePass();
    pass.setBindGroup(0, group);
    for (const { pipeline, grid } of p.pipelines) {
      pass.setPipeline(pipeline);
      pass.dispatchWorkgroups(...grid);
    }
    pass.end();
    this.device.queue.submit([enc.finish()]);
  }

  synchronize(): Promise<void> { return this.device.queue.onSubmittedWorkDone(); }
  free(buffer: DeviceBuffer): void { const b = buffer as GpuBuffer; if (b.owner) b.buffer.destroy(); }
  destroy(): void { this.device.destroy(); }
}
