// The memory plan is what gets allocated: an executor over a counting device (no kernels run, no
// weights uploaded) allocates one buffer per arena segment, every plan buffer is a view at its
// planned offset, and the bytes are the plan's (+ alignment) — for the quickstart and for the
// paper setting's 440M-parameter train and eval plans alike.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { emittedLibrary } from '../../compiler/codegen/library.js';
import type { KernelSpec } from '../../compiler/kernels/spec.js';
import type { Plan } from '../../compiler/plan/types.js';
import { checkBuffers } from '../../runtime/device/check.js';
import type { Device, DeviceBuffer, KernelSource, Program } from '../../runtime/device/types.js';
import { createExecutor, segments } from '../../runtime/exec/index.js';
import { compileExample } from './plans.js';

class Counted implements DeviceBuffer {
  constructor(readonly bytes: number, readonly root: Counted | null, readonly offset: number) {}
}

/** Allocates nothing real: counts what an executor asks for and checks every view and dispatch. */
class CountingDevice implements Device {
  readonly backend = 'reference' as const;
  readonly description = 'counting device (test)';
  readonly software = true;
  readonly target = null;
  allocations: number[] = [];
  views: { root: Counted; offset: number; bytes: number }[] = [];
  constructor(readonly maxBufferBytes = Number.MAX_SAFE_INTEGER) {}
  alloc(bytes: number): DeviceBuffer {
    this.allocations.push(bytes);
    return new Counted(bytes, null, 0);
  }
  view(buffer: DeviceBuffer, offset: number, bytes: number): DeviceBuffer {
    const b = buffer as Counted;
    expect(offset % 256).toBe(0);
    expect(offset + bytes).toBeLessThanOrEqual(b.bytes);
    const root = b.root ?? b;
    this.views.push({ root, offset: b.offset + offset, bytes });
    return new Counted(bytes, root, b.offset + offset);
  }
  async upload(): Promise<void> {}
  async download(): Promise<void> {}
  async compile(ks: KernelSource[]): Promise<Program[]> { return ks.map((k) => ({ name: k.name, spec: k.spec as KernelSpec, bindings: k.bindings })); }
  dispatch(p: Program, buffers: DeviceBuffer[]): void { checkBuffers(p.name, (p as Program & { bindings: KernelSource['bindings'] }).bindings, buffers); }
  async synchronize(): Promise<void> {}
  free(): void {}
  destroy(): void {}
}

const quick = compileExample('examples/quickstart.medct');
const paper = compileExample('examples/medct-vlm.medct');
const cases: [string, Plan][] = [
  ['quickstart eval', quick.plans.eval], ['quickstart train', quick.plans.train!],
  ['medct-vlm eval', paper.plans.eval], ['medct-vlm train', paper.plans.train!],
];

describe('arena allocation', () => {
  for (const [what, plan] of cases) {
    it(`${what}: allocated <= planned (+ alignment) per arena, one allocation per arena`, async () => {
      const dev = new CountingDevice();
      const ex = await createExecutor(plan, dev, { kernels: emittedLibrary(null) });
      const planned = { weights: plan.memory.weightsBytes, state: plan.memory.stateBytes, work: plan.memory.workPeakBytes };
      for (const arena of ['weights', 'state', 'work'] as const) {
        expect(ex.memory[arena].plannedBytes).toBe(planned[arena]);
        expect(ex.memory[arena].allocatedBytes, arena).toBeLessThanOrEqual(planned[arena] + plan.memory.alignment);
      }
      expect(dev.allocations).toHaveLength(3);
      for (const arena of ['weights', 'state', 'work'] as const) expect(ex.memory[arena].allocations).toBe(1);
      const total = dev.allocations.reduce((a, b) => a + b, 0);
      expect(total).toBeLessThanOrEqual(planned.weights + planned.state + planned.work + 3 * plan.memory.alignment);
      // Every plan buffer is one view, at its planned offset, in its arena's one allocation.
      expect(dev.views).toHaveLength(plan.buffers.length);
      const key = (arena: number, offset: number, bytes: number) => `${arena}:${offset}+${Math.ceil(bytes / 4) * 4}`;
      // Allocations come in arena order (weights, state, work), one each here.
      const roots = [...new Set(dev.views.map((v) => v.root))];
      expect(roots).toHaveLength(3);
      const arenaIndex = { weights: 0, state: 1, work: 2 } as const;
      expect(dev.views.map((v) => key(roots.indexOf(v.root), v.offset, v.bytes)).sort())
        .toEqual(plan.buffers.map((b) => key(arenaIndex[b.arena], b.offset, b.bytes)).sort());
      ex.destroy();
    }, 120_000);
  }

  it('medct-vlm train: the 17.8 GiB work arena, not the 57 GiB of one buffer each', () => {
    const p = paper.plans.train!;
    expect(p.memory.workPeakBytes).toBeLessThan(p.memory.workNaiveBytes / 3);
  });

  it('an arena larger than the device\'s largest buffer is cut where no buffer straddles', async () => {
    const plan = quick.plans.train!;
    // The weights arena never reuses bytes, so it can be cut anywhere between buffers: a quarter of
    // it (or its largest buffer) per allocation. Work buffers that share bytes stay together.
    const weights = plan.buffers.filter((b) => b.arena === 'weights');
    const max = Math.max(Math.ceil(plan.memory.weightsBytes / 4), ...weights.map((b) => Math.ceil(b.bytes / 4) * 4));
    const dev = new CountingDevice(max);
    const ex = await createExecutor(plan, dev, { kernels: emittedLibrary(null) });
    // Allocations come in arena order: the weights arena's first.
    const n = ex.memory.weights.allocations;
    expect(n).toBeGreaterThanOrEqual(Math.ceil(plan.memory.weightsBytes / max));
    for (const a of dev.allocations.slice(0, n)) expect(a).toBeLessThanOrEqual(max);
    expect(ex.memory.weights.allocatedBytes).toBeLessThanOrEqual(plan.memory.weightsBytes);
    expect(dev.allocations.length).toBe(n + ex.memory.state.allocations + ex.memory.work.allocations);
    ex.destroy();
  }, 120_000);
});

describe('segments', () => {
  it('cover every buffer whole, within the size limit unless overlapping buffers force more', () => {
    const bufs = fc.array(fc.record({ offset: fc.integer({ min: 0, max: 200 }).map((x) => x * 256), bytes: fc.integer({ min: 4, max: 4000 }) }), { minLength: 1, maxLength: 40 });
    fc.assert(fc.property(bufs, fc.integer({ min: 256, max: 20000 }), (bs, max) => {
      const size = Math.max(...bs.map((b) => b.offset + b.bytes));
      const segs = segments(bs, size, max);
      for (let i = 1; i < segs.length; i++) expect(segs[i]![0]).toBeGreaterThanOrEqual(segs[i - 1]![1]);
      for (const b of bs) {
        const s = segs.find(([a, e]) => b.offset >= a && b.offset < e);
        expect(s, `buffer at ${b.offset}`).toBeDefined();
        expect(b.offset + b.bytes).toBeLessThanOrEqual(s![1]);
      }
      for (const [a, e] of segs) {
        // A segment over the limit holds a chain of overlapping buffers that cannot be cut.
        if (e - a > max) {
          const inside = bs.filter((b) => b.offset >= a && b.offset < e).sort((x, y) => x.offset - y.offset);
          let reach = a;
          for (const b of inside) { if (b.offset > a) expect(b.offset).toBeLessThan(Math.max(reach, b.offset + 1)); reach = Math.max(reach, b.offset + b.bytes); }
        }
      }
    }), { numRuns: 300 });
  });
});
