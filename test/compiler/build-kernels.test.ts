// The build folder's kernels/ holds exactly what the executor dispatches; precision warnings; the
// report's per-volume FLOP labels. Expectations are recomputed here from the lowering functions
// and the plans, not from the build's own kernel list.
import { describe, expect, it } from 'vitest';
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { compileExperiment, writeBuild, type Compiled } from '../../compiler/build.js';
import { lowerKernel } from '../../compiler/kernels/launch.js';
import { kernelName } from '../../compiler/kernels/spec.js';
import { renderReport } from '../../compiler/report/render.js';
import type { Plan } from '../../compiler/plan/types.js';
import { load } from '../../cli/commands/build.js';
import { experiment, trainSpec, tempDir } from './fixtures.js';

function compileExample(file: string): { c: Compiled; sources: Map<string, string> } {
  const checked = load(file);
  expect(checked.diagnostics.filter((d) => d.severity === 'error')).toEqual([]);
  return { c: compileExperiment(checked.experiments[0]!, checked.sources), sources: checked.sources };
}

/** Kernel names of every step of every plan kernel, lowered again here; each must be the step the
 *  plan carries (the compiler lowers once, into the plan, and the runtime runs the plan's steps). */
function dispatchedNames(plans: (Plan | null)[]): Set<string> {
  const names = new Set<string>();
  for (const p of plans) {
    if (!p) continue;
    for (const k of p.kernels) {
      const l = lowerKernel(p, k);
      if ('unsupported' in l) throw new Error(`no lowering for ${k.kind}#${k.id}: ${l.unsupported}`);
      // The storage pass (precision bf16|fp16) only adds `half` to a step's spec, and its name follows.
      expect(k.steps.map(({ spec: { half, ...f32 } }) => kernelName(f32)), `${k.kind}#${k.id}`).toEqual(l.steps.map((st) => kernelName(st.spec)));
      for (const st of k.steps) { expect(st.kernel).toBe(kernelName(st.spec)); names.add(st.kernel); }
    }
  }
  return names;
}

const LANGUAGE: Record<string, string> = { cu: 'CUDA', wgsl: 'WGSL', c: 'C' };

describe('build folder kernels/', () => {
  for (const file of ['examples/quickstart.medct', 'examples/medct-vlm.medct']) {
    it(`${file}: one .wgsl, .cu and .c per dispatched kernel, each headed by its name, and index.json`, async () => {
      const { c } = compileExample(file);
      const dir = tempDir('medctc-kernels-');
      const lock = JSON.parse(await writeBuild(c, dir, { baseDir: '.' }));
      const names = dispatchedNames([c.plans.eval, c.plans.train]);
      const expected = [...names].flatMap((n) => [`${n}.c`, `${n}.cu`, `${n}.wgsl`]).concat('index.json').sort();
      const files = readdirSync(join(dir, 'kernels')).sort();
      expect(files).toEqual(expected);
      const index = JSON.parse(readFileSync(join(dir, 'kernels', 'index.json'), 'utf8')) as { kernels: Record<string, { targets: Record<string, { file: string }> }> };
      expect(Object.keys(index.kernels).sort()).toEqual([...names].sort());
      for (const [n, e] of Object.entries(index.kernels)) expect(Object.values(e.targets).map((t) => t.file).sort()).toEqual([`${n}.c`, `${n}.cu`, `${n}.wgsl`]);
      expect(lock.outputs['kernels/index.json']).toMatch(/^[0-9a-f]{64}$/);
      // Backward and optimizer kernels run too, so they must be there (the old kind filter dropped most).
      const train = dispatchedNames([c.plans.train]);
      expect([...train].some((n) => n.startsWith('adamw'))).toBe(true);
      expect([...train].some((n) => n.includes('backward'))).toBe(true);
      for (const f of files.filter((x) => x !== 'index.json')) {
        const [, name, ext] = /^(.*)\.(cu|wgsl|c)$/.exec(f)!;
        const first = readFileSync(join(dir, 'kernels', f), 'utf8').split('\n')[0];
        expect(first).toBe(`// medctc kernel ${name} (${LANGUAGE[ext!]}), generated: do not edit.`);
        expect(lock.outputs[`kernels/${f}`]).toMatch(/^[0-9a-f]{64}$/);
      }
    });
  }

  it('a rebuild into the same folder removes kernel sources the new plans no longer dispatch', async () => {
    const dir = tempDir('medctc-stale-');
    const c = compileExperiment(experiment('ct_clip_tiny'));
    await writeBuild(c, dir, { baseDir: dir });
    writeFileSync(join(dir, 'kernels', 'gemm_stale.cu'), '// old\n');
    writeFileSync(join(dir, 'kernels', 'notes.txt'), 'mine\n');
    const lock = JSON.parse(await writeBuild(c, dir, { baseDir: dir }));
    const files = readdirSync(join(dir, 'kernels'));
    expect(files).not.toContain('gemm_stale.cu');
    expect(files).toContain('notes.txt'); // not a kernel source: left alone
    expect(Object.keys(lock.outputs).filter((k) => k.startsWith('kernels/') && !k.endsWith('notes.txt')).length)
      .toBe(3 * dispatchedNames([c.plans.eval, c.plans.train]).size + 1);
  });
});

describe('precision', () => {
  it('bf16 in examples/medct-vlm.medct: no warning, 16-bit plans and kernels that say so', () => {
    const { c } = compileExample('examples/medct-vlm.medct');
    expect(c.diagnostics.map((d) => d.code)).not.toContain('W3023');
    for (const p of [c.plans.eval, c.plans.train!]) {
      expect(p.buffers.some((b) => b.dtype === 'bf16')).toBe(true);
      expect(p.buffers.some((b) => b.dtype === 'f16')).toBe(false);
    }
    const st = c.plans.train!.kernels.flatMap((k) => k.steps).find((s) => s.spec.kind === 'linear' && s.spec.half)!;
    expect(st.spec.half!.dtype).toBe('bf16');
    expect(st.kernel).toMatch(/_bf16p/);
  });

  it('fp32 and evaluation-only experiments build f32 plans, fp16 f16 ones', () => {
    for (const e of [experiment('ct_clip_tiny', { train: trainSpec({ precision: 'fp32' }) }), experiment('ct_clip_tiny', { train: null })]) {
      const c = compileExperiment(e);
      for (const p of [c.plans.eval, c.plans.train]) for (const b of p?.buffers ?? []) expect(['f32', 'i32', 'u32']).toContain(b.dtype);
    }
    const fp16 = compileExperiment(experiment('ct_clip_tiny', { train: trainSpec({ precision: 'fp16' }) }));
    expect(fp16.plans.train!.buffers.some((b) => b.dtype === 'f16')).toBe(true);
    expect(fp16.plans.train!.buffers.some((b) => b.dtype === 'bf16')).toBe(false);
  });
});

describe('report FLOP labels', () => {
  it('medct-vlm: per volume = plan FLOPs / batch volumes, labelled with the batch it is amortised over', () => {
    const { c } = compileExample('examples/medct-vlm.medct');
    const train = c.plans.train!;
    const sum = (p: Plan, f: (k: Plan['kernels'][number]) => boolean) => p.kernels.filter(f).reduce((a, k) => a + k.flops, 0);
    expect(c.report.flops.trainPerSample).toBeCloseTo(sum(train, () => true) / 4, 0);
    const perVolume = sum(c.plans.eval, (k) => k.phase === 'forward' && !k.invariant), invariant = sum(c.plans.eval, (k) => k.invariant);
    expect(c.report.flops.evalPerSample).toBeCloseTo(perVolume, 0);
    expect(c.report.flops.evalInvariant).toBeCloseTo(invariant, 0);
    // The split loses nothing: together they are the whole eval forward.
    expect(perVolume + invariant).toBeCloseTo(sum(c.plans.eval, (k) => k.phase === 'forward'), 0);
    expect(c.report.batch.train).toEqual({ images: 4, texts: train.batch.texts });
    const text = renderReport(c.report);
    const tf = (n: number) => `${(n / 1e12).toFixed(2)} TFLOP`;
    expect(text).toContain(`train step (forward + backward + optimizer), per volume: ${tf(sum(train, () => true) / 4)} (batch of 4 volumes and ${train.batch.texts} texts;`);
    expect(text).toContain('amortised over the batch');
    // Hoisting leaves well under a TFLOP per volume: the report switches to GFLOP there.
    expect(perVolume).toBeLessThan(1e12);
    expect(text).toContain(`eval forward, per volume: ${(perVolume / 1e9).toFixed(2)} GFLOP (1 volume per step;`);
    expect(text).toContain(`eval forward, once per evaluation: ${tf(invariant)} (loop-invariant: the text tower over ${c.plans.eval.batch.texts} prompt texts`);
  });
});
