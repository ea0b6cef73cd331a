// Device memory as the plan laid it out: one allocation per arena, every plan buffer a view at
// its planned offset, so what a device holds is the planned peak (compiler/plan/memory.ts), not
// one allocation per buffer. An arena larger than the device's largest buffer (WebGPU adapters
// cap a buffer at a few GiB) is cut into segments at offsets no buffer straddles.
import type { Arena, Plan, PlanBuffer } from '../../compiler/plan/types.js';
import type { Device, DeviceBuffer } from '../device/types.js';

/** One arena's bytes: planned (compiler/plan/memory.ts) and allocated, in how many allocations. */
export interface ArenaMemory { plannedBytes: number; allocatedBytes: number; allocations: number }
export type MemoryReport = Record<Arena, ArenaMemory>;

/** [start, end) byte ranges covering `bufs`, each at most `max` long where buffers allow, cut only
 *  where no buffer crosses. A run of overlapping buffers longer than `max` stays one segment. */
export function segments(bufs: readonly Pick<PlanBuffer, 'offset' | 'bytes'>[], size: number, max: number): [number, number][] {
  if (size <= max) return [[0, size]];
  const sorted = [...bufs].sort((a, b) => a.offset - b.offset);
  const out: [number, number][] = [];
  let start = 0, reach = 0;
  for (const b of sorted) {
    // A cut at b.offset is possible when nothing before it reaches past it.
    if (b.offset >= reach && b.offset + b.bytes - start > max && b.offset > start) { out.push([start, b.offset]); start = b.offset; }
    reach = Math.max(reach, b.offset + b.bytes);
  }
  out.push([start, Math.max(reach, start)]);
  return out.filter(([s, e]) => e > s);
}

const roundUp = (n: number, to: number): number => Math.ceil(n / to) * to;

/** Allocates the plan's arenas on `device` and answers a view per plan buffer. */
export class ArenaAllocation {
  readonly views: DeviceBuffer[];
  readonly memory: MemoryReport;
  private readonly allocations: DeviceBuffer[] = [];

  constructor(plan: Plan, private readonly device: Device, maxBuffer = Number.MAX_SAFE_INTEGER) {
    const planned: Record<Arena, number> = { weights: plan.memory.weightsBytes, state: plan.memory.stateBytes, work: plan.memory.workPeakBytes };
    this.memory = { weights: { plannedBytes: 0, allocatedBytes: 0, allocations: 0 }, state: { plannedBytes: 0, allocatedBytes: 0, allocations: 0 }, work: { plannedBytes: 0, allocatedBytes: 0, allocations: 0 } };
    this.views = new Array<DeviceBuffer>(plan.buffers.length);
    for (const arena of ['weights', 'state', 'work'] as const) {
      const bufs = plan.buffers.filter((b) => b.arena === arena);
      this.memory[arena].plannedBytes = planned[arena];
      if (!bufs.length) continue;
      // A buffer's view covers its bytes rounded to 4 (binding sizes are whole elements).
      const extent = Math.max(planned[arena], ...bufs.map((b) => b.offset + roundUp(b.bytes, 4)));
      for (const [start, end] of segments(bufs.map((b) => ({ offset: b.offset, bytes: roundUp(b.bytes, 4) })), extent, maxBuffer)) {
        const seg = device.alloc(end - start);
        this.allocations.push(seg);
        this.memory[arena].allocatedBytes += seg.bytes;
        this.memory[arena].allocations++;
        for (const b of bufs) if (b.offset >= start && b.offset < end) this.views[b.id] = device.view(seg, b.offset - start, roundUp(b.bytes, 4));
      }
    }
  }

  free(): void {
    for (const a of this.allocations.splice(0)) this.device.free(a);
  }
}
