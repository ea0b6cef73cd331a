// runCompiled's orchestration on real (synthetic) data with a recording stand-in executor: which
// plans get which weights, that the trained adapter reaches the eval executor before prepare(),
// what the run folder holds, that a diverged run leaves the previous results as they were, and that
// files medctc did not write in a run folder are never overwritten or removed.
import { existsSync, mkdirSync, readFileSync, readdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { compileExperiment } from '../../compiler/build.js';
import { checkFiles } from '../../compiler/check/index.js';
import type { Plan } from '../../compiler/plan/types.js';
import { readAdapter } from '../../runtime/adapter/index.js';
import { CpuDevice } from '../../runtime/device/index.js';
import { runCompiled, stagingFor, validateMetrics } from '../../runtime/run/index.js';
import { Rng } from '../../runtime/util/rng.js';
import { expectDiagnostic, RecordingExecutor, smallSpec, snapshot, tempDir } from './helpers.js';

function standIn(opts: { lossAt?: (step: number) => number } = {}) {
  const made: { plan: Plan; exec: RecordingExecutor }[] = [];
  const create = async (plan: Plan) => {
    const tensors = new Map<string, Float32Array>([['temperature', Float32Array.of(0)]]);
    const saved = plan.model.lora?.modulesToSave ?? [];
    const isSaved = (name: string) => saved.some((m) => name.startsWith(`${m}.`));
    for (const t of plan.model.weights) if (t.lora || (t.role === 'param' && isSaved(t.name))) tensors.set(t.name, new Rng(1, t.name).fillUniform(new Float32Array(t.shape.reduce((a, b) => a * b, 1)), -1, 1) as Float32Array);
    const textLatent = plan.outputs['text_latent'];
    const dim = textLatent === undefined ? 4 : plan.buffers[textLatent]!.shape[1] ?? 4;
    const texts = plan.batch.texts;
    const exec = new RecordingExecutor(plan, (name, run, i) => {
      if (name === 'loss') return Float32Array.of(opts.lossAt ? opts.lossAt(i + 1) : 1 / (i + 1));
      if (name === 'text_latent') return new Rng(2, 'text').fillNormal(new Float32Array(texts * dim)) as Float32Array;
      if (name === 'image_latent') {
        const v = run.feeds.volume as Float32Array;
        return new Rng(3, v[Math.floor(v.length / 2)]!.toString()).fillNormal(new Float32Array(dim)) as Float32Array;
      }
      throw new Error(`output ${name}`);
    }, tensors);
    made.push({ plan, exec });
    return exec;
  };
  return { made, create };
}

async function runSpec(file: string, out: string, standin: ReturnType<typeof standIn>, o: { baseline?: boolean } = {}) {
  const { experiments, diagnostics } = checkFiles(file);
  expect(diagnostics.filter((d) => d.severity === 'error')).toEqual([]);
  const c = compileExperiment(experiments[0]!);
  return { c, r: await runCompiled(c, { outDir: out, baseDir: join(file, '..'), source: file, progress: 'quiet', device: new CpuDevice(), createExecutor: standin.create as never, baseline: o.baseline }) };
}

describe('runCompiled with a stand-in executor', () => {
  it('builds, trains, hands the trained adapter to evaluation, and writes an auditable run folder', async () => {
    const dir = tempDir('run-pipeline');
    const file = smallSpec(dir, { volumes: 10, epochs: 2, batch: 2 });
    const s = standIn();
    const out = join(dir, 'out');
    const { c, r } = await runSpec(file, out, s, { baseline: true });
    // One eval executor serves the baseline and the final evaluation; the train executor sits
    // between them; both are destroyed after use.
    expect(s.made.map((m) => m.plan.mode)).toEqual(['eval', 'train']);
    expect(s.made.every((m) => m.exec.destroyed && m.exec.loaded?.seed === 7)).toBe(true);
    const [evalExec, train] = s.made.map((m) => m.exec);
    const final = evalExec!;
    // 8 train volumes, batch 2: 4 steps per epoch, 2 epochs.
    expect(train!.runs).toHaveLength(8);
    expect(r.train).toMatchObject({ steps: 8, firstLoss: 1, lastLoss: Math.fround(1 / 8) });
    // 2 eval volumes, each once, in both evaluations: the baseline's before any adapter was
    // written, the final one's after the adapter and a second prepare().
    expect(evalExec!.runs).toHaveLength(4);
    expect(evalExec!.runs.slice(0, 2).map((x) => [x.written, x.prepared])).toEqual([[0, 1], [0, 1]]);
    // The final evaluation got every trained LoRA matrix and modules_to_save parameter, exactly as
    // the train executor held them.
    const g = c.graphs.train!;
    const lora = g.tensors.filter((t) => t.lora || (t.role === 'param' && (g.lora?.modulesToSave ?? []).some((m) => t.name.startsWith(`${m}.`)))).map((t) => t.name).sort();
    expect([...final!.written.keys()].sort()).toEqual(lora);
    for (const n of lora) expect(final!.written.get(n)).toEqual(await train!.readTensor(n));
    expect(evalExec!.runs.slice(2).every((x) => x.written === lora.length && x.prepared === 2)).toBe(true);
    expect(final.prepared).toBe(2);

    const files = readdirSync(out).sort();
    for (const f of ['adapter', 'experiment.json', 'medctc.lock', 'metrics.json', 'metrics.md', 'plan.eval.json', 'plan.train.json', 'report.md', 'run.json', 'scores.baseline.csv', 'scores.csv', 'train_log.jsonl']) expect(files).toContain(f);
    const metrics = JSON.parse(readFileSync(join(out, 'metrics.json'), 'utf8'));
    expect(validateMetrics(metrics)).toEqual([]);
    expect(metrics).toMatchObject({ experiment: 'quickstart', split: 'valid', volumes: 2, finalModel: 'adapted' });
    expect(metrics.baseline).not.toBeNull();
    expect(validateMetrics({ ...metrics, volumes: -1 })).not.toEqual([]);
    const log = readFileSync(join(out, 'train_log.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    expect(log.map((l) => l.step)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    expect(log.every((l) => l.volumes.length === 2 && Number.isFinite(l.loss))).toBe(true);
    // The adapter reads back as PEFT files holding the trained matrices.
    const adapter = readAdapter(join(out, 'adapter'));
    expect(adapter.modules).toHaveLength(14);
    const q = adapter.modules.find((m) => m.path === 'text_transformer.encoder.layer.0.attention.self.query')!;
    expect(q.A).toEqual(await train!.readTensor(`${q.path}.lora_A.weight`));
    expect(q).toMatchObject({ rank: 8, alpha: 16 });
    const run = JSON.parse(readFileSync(join(out, 'run.json'), 'utf8'));
    expect(run).toMatchObject({ experiment: 'quickstart', seed: 7, backend: 'reference', data: { train: 8, eval: 2 }, train: { steps: 8, batchSize: 2, droppedPerEpoch: 0 } });
    expect(Object.keys(run.files)).toEqual(expect.arrayContaining(['metrics.json', 'scores.csv', 'adapter/adapter_model.safetensors', 'train_log.jsonl', 'plan.train.json']));
    const scores = readFileSync(join(out, 'scores.csv'), 'utf8').trim().split('\n');
    expect(scores).toHaveLength(3);
    expect(readFileSync(join(out, 'metrics.md'), 'utf8')).toContain('Before and after training');
    // An evaluate-only run into the same folder replaces the results but keeps the adapter it may be reading.
    await runCompiled(c, { outDir: out, baseDir: dir, source: file, progress: 'quiet', device: new CpuDevice(), createExecutor: standIn().create as never, train: false });
    expect(existsSync(join(out, 'adapter', 'adapter_model.safetensors'))).toBe(true);
    expect(existsSync(join(out, 'train_log.jsonl'))).toBe(false);
    expect(JSON.parse(readFileSync(join(out, 'metrics.json'), 'utf8'))).toMatchObject({ finalModel: 'base', baseline: null });
  });

  it('a non-finite loss stops the run with E5562; the previous results stay byte-identical and the failed log is staged beside them', async () => {
    const dir = tempDir('run-nan');
    const file = smallSpec(dir, { volumes: 10, epochs: 2, batch: 2 });
    const out = join(dir, 'out');
    await runSpec(file, out, standIn());
    const before = snapshot(out);
    expect(Object.keys(before)).toEqual(expect.arrayContaining(['metrics.json', 'run.json', 'adapter/adapter_model.safetensors', 'train_log.jsonl']));
    const s = standIn({ lossAt: (step) => (step === 3 ? NaN : 1) });
    const err = await expectDiagnostic(() => runSpec(file, out, s), 'E5562', ['step 3']);
    expect(err.diagnostics[0]!.help).toContain('the previous results in');
    expect(snapshot(out)).toEqual(before);
    // The failed run's log (two finite steps) is in the staging folder, not over the previous log.
    const log = readFileSync(join(stagingFor(out), 'train_log.jsonl'), 'utf8').trim().split('\n');
    expect(log).toHaveLength(2);
    expect(s.made.at(-1)!.exec.destroyed).toBe(true);
    // The next run removes the dead run's staging folder and replaces the results.
    await runSpec(file, out, standIn({ lossAt: () => 0.5 }));
    expect(existsSync(stagingFor(out))).toBe(false);
    expect(snapshot(out)['metrics.json']).toBeDefined();
    expect(snapshot(out)['train_log.jsonl']).not.toEqual(before['train_log.jsonl']);
  });

  it('files medctc did not write survive a run; a foreign file of a result name is E5590 before anything runs', async () => {
    const dir = tempDir('run-foreign');
    const file = smallSpec(dir, { volumes: 10, epochs: 1, batch: 2 });
    const out = join(dir, 'mine');
    mkdirSync(join(out, 'adapter'), { recursive: true });
    writeFileSync(join(out, 'notes.txt'), 'my notes\n');
    writeFileSync(join(out, 'adapter', 'README.md'), 'my adapter notes\n');
    await runSpec(file, out, standIn(), { baseline: true });
    expect(readFileSync(join(out, 'notes.txt'), 'utf8')).toBe('my notes\n');
    expect(readFileSync(join(out, 'adapter', 'README.md'), 'utf8')).toBe('my adapter notes\n');
    const run = JSON.parse(readFileSync(join(out, 'run.json'), 'utf8')) as { outputs: string[]; files: Record<string, string> };
    expect(run.outputs).toContain('metrics.json');
    expect(run.outputs).toContain('scores.baseline.csv');
    expect(run.outputs).not.toContain('notes.txt');
    expect(run.outputs).not.toContain('adapter/README.md');
    expect(Object.keys(run.files)).not.toContain('notes.txt');
    // A second run without a baseline removes the first run's scores.baseline.csv (medctc's, unchanged)
    // but keeps a result file the user edited since, and the user's own files.
    writeFileSync(join(out, 'metrics.md'), 'edited by hand\n');
    await runSpec(file, out, standIn());
    expect(existsSync(join(out, 'scores.baseline.csv'))).toBe(false);
    expect(readFileSync(join(out, 'metrics.md'), 'utf8')).not.toBe('edited by hand\n');
    expect(readFileSync(join(out, 'notes.txt'), 'utf8')).toBe('my notes\n');

    // A folder that is someone else's: metrics.json and run.json of its own. Nothing runs, nothing changes.
    const theirs = join(dir, 'theirs');
    mkdirSync(join(theirs, 'adapter'), { recursive: true });
    writeFileSync(join(theirs, 'metrics.json'), '{"mine": true}\n');
    writeFileSync(join(theirs, 'run.json'), '{"not": "medctc"}\n');
    writeFileSync(join(theirs, 'adapter', 'adapter_model.safetensors'), 'weights of mine');
    const before = snapshot(theirs);
    const s = standIn();
    const err = await expectDiagnostic(() => runSpec(file, theirs, s), 'E5590', ['metrics.json', 'run.json', 'adapter/adapter_model.safetensors', 'medctc did not write']);
    expect(err.diagnostics[0]!.primary?.file).toBe(theirs);
    expect(s.made).toHaveLength(0);
    expect(snapshot(theirs)).toEqual(before);
    expect(existsSync(stagingFor(theirs))).toBe(false);
  });

  it('a run folder that is a file, or a dangling link, is E5520 and the file stays', async () => {
    const dir = tempDir('run-notdir');
    const file = smallSpec(dir, { volumes: 10, epochs: 1, batch: 2 });
    writeFileSync(join(dir, 'afile'), 'x');
    await expectDiagnostic(() => runSpec(file, join(dir, 'afile'), standIn()), 'E5520', ['afile']);
    expect(readFileSync(join(dir, 'afile'), 'utf8')).toBe('x');
    symlinkSync(join(dir, 'nowhere'), join(dir, 'dangling'));
    await expectDiagnostic(() => runSpec(file, join(dir, 'dangling'), standIn()), 'E5520', ['dangling']);
    expect(existsSync(join(dir, 'nowhere'))).toBe(false);
  });
});
