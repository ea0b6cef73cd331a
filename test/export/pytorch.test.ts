// `medctc export --target pytorch` for examples/quickstart.medct (ct_clip_tiny) at reduced size,
// run by Debian's python3-torch on the CPU:
//  (a) with the same weights (seeded base, non-zero LoRA B), the exported program's eval forward
//      equals medctc's reference executor within 1e-4 (image latents, text latents, logits);
//  (b) its trainable-parameter count is medctc's report;
//  (c) two ranks on loopback with gloo, launched by setting RANK / WORLD_SIZE / MASTER_ADDR /
//      MASTER_PORT (Debian's 1.13 torch.distributed.run fails on Python 3.11: probed and reported
//      below, never relied on), train on medctc's data order and end with byte-identical adapters,
//      equal to a single process's to float rounding (medctc's dropout masks, sharded by rank);
//  (d) the adapter the program saved evaluates in medctc (`medctc evaluate --adapter`) to the
//      scores the program computed, within 1e-4;
// and the export is byte-identical for the same inputs. PyTorch missing is a failure, not a skip.
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compileExperiment } from '../../compiler/build.js';
import { checkFiles } from '../../compiler/check/index.js';
import { writeAdapter } from '../../runtime/adapter/index.js';
import { CpuDevice } from '../../runtime/device/cpu/device.js';
import { fromFloat32, readSafetensors, toFloat32, writeSafetensors, type Tensor } from '../../runtime/io/safetensors.js';
import { epochOrder } from '../../runtime/run/index.js';
import { execFor, feedsFor, maxAbsDiff, weightsWithLora } from '../exec/fixtures.js';

const CLI = resolve('dist/cli/medctc.js');
const PYTHON = '/usr/bin/python3';
const SPEC = 'examples/quickstart.medct';
// 20 generated volumes (16 train, 4 eval), one epoch of 4 batches of 4, a 1-step warmup.
const REDUCED = ['--set', 'data.root=".cache/synth/export-pytorch-ci"', '--set', 'data.volumes=20', '--set', 'train.epochs=1',
  '--set', 'train.batch=4', '--set', 'train.schedule.warmup=1 steps'];
const ENV = { ...process.env, NO_COLOR: '1', MEDCTC_THREADS: '1', OMP_NUM_THREADS: '1' };

const dir = mkdtempSync(join(tmpdir(), 'medctc-export-pt-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const exported = join(dir, 'export');

function medctc(...args: string[]) {
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: build first with \`npx tsc -p tsconfig.json\``);
  return spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', env: ENV });
}

function python(args: string[], env: Record<string, string> = {}) {
  return spawnSync(PYTHON, args, { encoding: 'utf8', env: { ...ENV, ...env } });
}

// ---------------------------------------------------------------- .npy (NumPy format 1.0), f32 / i32 only

function writeNpy(file: string, data: Float32Array | Int32Array, shape: number[]): void {
  const descr = data instanceof Float32Array ? '<f4' : '<i4';
  let header = `{'descr': '${descr}', 'fortran_order': False, 'shape': (${shape.join(', ')}${shape.length === 1 ? ',' : ''}), }`;
  header += ' '.repeat(63 - ((10 + header.length) % 64)) + '\n';
  const pre = Buffer.alloc(10);
  pre.write('\x93NUMPY', 0, 'latin1');
  pre[6] = 1; pre[7] = 0; pre.writeUInt16LE(header.length, 8);
  writeFileSync(file, Buffer.concat([pre, Buffer.from(header, 'latin1'), Buffer.from(data.buffer, data.byteOffset, data.byteLength)]));
}

function readNpyF32(file: string): Float32Array {
  const b = readFileSync(file);
  const len = b.readUInt16LE(8);
  const header = b.subarray(10, 10 + len).toString('latin1');
  if (!header.includes("'<f4'")) throw new Error(`${file}: not little-endian float32: ${header}`);
  const body = b.subarray(10 + len);
  return new Float32Array(body.buffer.slice(body.byteOffset, body.byteOffset + body.byteLength));
}

// ---------------------------------------------------------------- helpers

function readCsv(file: string): { head: string[]; rows: string[][] } {
  const [head, ...rows] = readFileSync(file, 'utf8').trim().split('\n').map((l) => l.split(','));
  return { head: head!, rows };
}

function files(root: string, prefix = ''): string[] {
  return readdirSync(join(root, prefix)).sort().flatMap((f) => {
    const rel = prefix ? `${prefix}/${f}` : f;
    return statSync(join(root, rel)).isDirectory() ? files(root, rel) : [rel];
  });
}

const hash = (f: string): string => createHash('sha256').update(readFileSync(f)).digest('hex');

function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const s = createServer();
    s.once('error', rej);
    s.listen(0, '127.0.0.1', () => { const p = (s.address() as { port: number }).port; s.close(() => res(p)); });
  });
}

function run(cmd: string, args: string[], env: Record<string, string>): Promise<{ code: number | null; out: string }> {
  return new Promise((res) => {
    const p = spawn(cmd, args, { env: { ...ENV, ...env } });
    let out = '';
    p.stdout.on('data', (d) => { out += d; });
    p.stderr.on('data', (d) => { out += d; });
    p.on('close', (code) => res({ code, out }));
  });
}

// ---------------------------------------------------------------- the export

const compiled = (() => {
  const { experiments, diagnostics } = checkFiles(SPEC, { overrides: REDUCED.filter((_, i) => i % 2 === 1) });
  const errors = diagnostics.filter((d) => d.severity === 'error');
  if (errors.length) throw new Error(errors.map((d) => d.message).join('; '));
  return compileExperiment(experiments[0]!);
})();

/** The exported program's eval forward against medctc's on the same seeded weights, within 1e-4;
 *  and its trainable count against medctc's report. */
async function forwardParity(c: typeof compiled, program: string, label: string, work: string): Promise<void> {
  mkdirSync(work, { recursive: true });
  const graph = c.graphs.eval, plan = c.plans.eval;
  const weights = weightsWithLora(graph, 13);
  const feeds = feedsFor(plan, graph, 9);
  const ex = await execFor(plan, new CpuDevice());
  await ex.loadWeights({ seed: 13, tensors: weights });
  await ex.prepare();
  await ex.run(feeds);
  const want: Record<string, Float32Array> = {};
  for (const n of ['image_latent', 'text_latent', 'logits']) want[n] = await ex.output(n);
  ex.destroy();

  // The same weights as files: the base by its official names, the LoRA tensors as a PEFT adapter.
  const base = new Map<string, Tensor>();
  for (const t of graph.tensors) if ((t.role === 'param' || t.role === 'buffer') && !t.lora) base.set(t.name, fromFloat32(weights.get(t.name)!, [...t.shape]));
  writeSafetensors(join(work, 'base.safetensors'), base);
  const lora = graph.lora!;
  writeAdapter(join(work, 'lora'), {
    settings: { baseModel: null, dropout: lora.dropout, rslora: false, init: 'kaiming' },
    modules: lora.adapters.map((a) => ({ path: a.module, rank: a.rank, alpha: a.alpha, inFeatures: a.inFeatures, outFeatures: a.outFeatures,
      A: weights.get(graph.tensors[a.a]!.name)!, B: weights.get(graph.tensors[a.b]!.name)! })),
    saved: [],
  });
  const inputs = join(work, 'inputs');
  mkdirSync(inputs, { recursive: true });
  for (const [name, id] of Object.entries(plan.inputs)) writeNpy(join(inputs, `${name}.npy`), feeds[name]!, [...plan.buffers[id]!.shape]);

  const out = join(work, 'forward');
  const r = python([join(program, 'train.py'), 'forward', '--weights', join(work, 'base.safetensors'), '--adapter', join(work, 'lora'),
    '--inputs', inputs, '--out', out, '--threads', '1', '--no-peft'], { MEDCTC_DEVICE: 'cpu' });
  expect(r.status, r.stderr).toBe(0);
  const info = JSON.parse(r.stdout.trim().split('\n').at(-1)!);
  for (const n of Object.keys(want)) {
    const got = readNpyF32(join(out, `${n}.npy`));
    const err = maxAbsDiff(got, want[n]!);
    console.log(`exported PyTorch vs medctc eval forward (${label}), ${n}: max abs error ${err.toExponential(2)}`);
    expect(err, n).toBeLessThanOrEqual(1e-4);
  }
  // (b): the built-in LoRA's trainable parameters (PEFT's count) are medctc's report.
  expect(info.trainable).toBe(c.report.parameters.trainable);
  expect(info.trainable).toBe(16_384);
}

describe('medctc export --target pytorch (ct_clip_tiny, quickstart reduced)', () => {
  beforeAll(() => {
    // The exported program needs PyTorch and numpy: missing is a failure with the fix, never a skip.
    const probe = python(['-c', 'import sys, torch, numpy; print(torch.__version__, sys.version.split()[0])']);
    if (probe.status !== 0) {
      throw new Error(`${PYTHON} cannot import torch and numpy (${(probe.stderr || probe.error?.message || '').trim().split('\n').at(-1)}): `
        + 'install Debian\'s python3-torch and python3-numpy (`apt-get install python3-torch python3-numpy`; .ci/run does)');
    }
    const r = medctc('export', SPEC, '--target', 'pytorch', '--out', exported, '--quiet', ...REDUCED);
    expect(r.status, r.stderr).toBe(0);
  }, 300_000);

  it('writes the program, its configuration, PEFT\'s adapter_config.json, the build lock and the data bundle; byte-identical when repeated', () => {
    const list = files(exported);
    for (const f of ['train.py', 'experiment.json', 'adapter_config.json', 'README.md', 'build/medctc.lock', 'data/train.safetensors', 'data/eval.safetensors', 'data/prompts.safetensors']) {
      expect(list, f).toContain(f);
    }
    const cfg = JSON.parse(readFileSync(join(exported, 'experiment.json'), 'utf8'));
    expect(cfg.lock.sha256).toBe(createHash('sha256').update(readFileSync(join(exported, 'build/medctc.lock'))).digest('hex'));
    // The LoRA targets as medctc resolved them: 2 text layers x q/k/v + 4 image layers x to_q/to_kv, rank 8, alpha 16.
    expect(cfg.lora.adapters).toHaveLength(14);
    expect(cfg.lora.adapters.every((a: { rank: number; scaling: number }) => a.rank === 8 && a.scaling === 2)).toBe(true);
    const peft = JSON.parse(readFileSync(join(exported, 'adapter_config.json'), 'utf8'));
    expect(peft.peft_type).toBe('LORA');
    expect([peft.r, peft.lora_alpha, peft.lora_dropout]).toEqual([8, 16, 0.05]);
    expect(peft.target_modules).toEqual(cfg.lora.adapters.map((a: { module: string }) => a.module).sort());
    // Same inputs, same bytes.
    const again = join(dir, 'again');
    const r = medctc('export', SPEC, '--target', 'pytorch', '--out', again, '--quiet', ...REDUCED);
    expect(r.status, r.stderr).toBe(0);
    const list2 = files(again);
    expect(list2).toEqual(list);
    // (Both folders lie at the same depth, so even the relative paths to the spec and weights agree.)
    for (const f of list) expect(hash(join(again, f)), f).toBe(hash(join(exported, f)));
  }, 300_000);

  it('(a) the eval forward equals medctc\'s within 1e-4 with the same weights (the quickstart\'s model, no quantiser); (b) the trainable count is medctc\'s report', async () => {
    // Into `dir` itself: the tests below reuse its weights, adapter and inputs.
    await forwardParity(compiled, exported, 'quantize false', dir);
  }, 300_000);

  it('(a) with CT-CLIP\'s vector quantiser (`image { quantize true }`) too', async () => {
    const over = [...REDUCED, '--set', 'model.image.quantize=true'];
    const { experiments, diagnostics } = checkFiles(SPEC, { overrides: over.filter((_, i) => i % 2 === 1) });
    expect(diagnostics.filter((d) => d.severity === 'error')).toEqual([]);
    const c = compileExperiment(experiments[0]!);
    expect(c.plans.eval.kernels.some((k) => k.kind === 'vq_nearest')).toBe(true);
    const program = join(dir, 'export-vq');
    const r = medctc('export', SPEC, '--target', 'pytorch', '--out', program, '--quiet', ...over);
    expect(r.status, r.stderr).toBe(0);
    await forwardParity(c, program, 'quantize true', join(dir, 'parity-vq'));
  }, 300_000);

  it('loads a torch.save state dict (as the released CT-CLIP checkpoints are) by name, extra tensors ignored, to the same forward', () => {
    // Written by PyTorch itself from the safetensors file of (a), with a key the model lacks (HF BERT's position_ids buffer).
    const pt = join(dir, 'base.pt');
    const conv = python(['-c', `import sys, torch; sys.path.insert(0, ${JSON.stringify(exported)}); from train import read_safetensors
import numpy as np
sd = {k: torch.from_numpy(np.array(v)) for k, v in read_safetensors(${JSON.stringify(join(dir, 'base.safetensors'))}).items()}
sd['text_transformer.embeddings.position_ids'] = torch.arange(160)[None]
torch.save(sd, ${JSON.stringify(pt)})`]);
    expect(conv.status, conv.stderr).toBe(0);
    const out = join(dir, 'forward-pt');
    const r = python([join(exported, 'train.py'), 'forward', '--weights', pt, '--adapter', join(dir, 'lora'), '--inputs', join(dir, 'inputs'), '--out', out, '--threads', '1', '--no-peft'], { MEDCTC_DEVICE: 'cpu' });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toContain('text_transformer.embeddings.position_ids');
    for (const n of ['image_latent', 'text_latent', 'logits']) {
      expect(Buffer.compare(readFileSync(join(out, `${n}.npy`)), readFileSync(join(dir, 'forward', `${n}.npy`))), n).toBe(0);
    }
  }, 300_000);

  it('(c) two gloo ranks launched by RANK/WORLD_SIZE/MASTER_ADDR/MASTER_PORT train on medctc\'s data order and end with identical adapters, equal to one process\'s', async () => {
    const port = String(await freePort());
    const out = join(dir, 'ddp'), single = join(dir, 'single');
    const program = (o: string, env: Record<string, string>) => run(PYTHON, [join(exported, 'train.py'), '--out', o, '--threads', '1', '--no-peft'], { MEDCTC_DEVICE: 'cpu', ...env });
    const rank = (r: number) => program(out, { RANK: String(r), WORLD_SIZE: '2', LOCAL_RANK: String(r), MASTER_ADDR: '127.0.0.1', MASTER_PORT: port });
    // Beside them: one process, and a probe of the official launcher (reported, never relied on).
    const [r0, r1, one, tr] = await Promise.all([rank(0), rank(1), program(single, {}),
      run(PYTHON, ['-m', 'torch.distributed.run', '--nproc_per_node', '2', join(exported, 'train.py'), 'count', '--no-peft'], { MEDCTC_DEVICE: 'cpu' })]);
    if (tr.code !== 0) {
      console.warn(`NOTE: \`${PYTHON} -m torch.distributed.run\` fails here (${tr.out.trim().split('\n').at(-1)}): `
        + 'Debian\'s python3-torch 1.13 launcher is broken on Python 3.11; the ranks are started with the environment variables instead (README of the export says so)');
    }
    expect(r0.code, r0.out).toBe(0);
    expect(r1.code, r1.out).toBe(0);
    expect(one.code, one.out).toBe(0);
    const a0 = join(out, 'adapter', 'adapter_model.safetensors'), a1 = join(out, 'adapter.rank1', 'adapter_model.safetensors');
    expect(hash(a1), 'rank 1 adapter equals rank 0').toBe(hash(a0));
    const ddp = readSafetensors(a0).tensors, alone = readSafetensors(join(single, 'adapter', 'adapter_model.safetensors')).tensors;
    expect(ddp.size).toBe(28);
    expect([...alone.keys()].sort()).toEqual([...ddp.keys()].sort());
    // Each rank took half of every batch with medctc's dropout masks for its rows: the averaged
    // gradient is the single process's, so the adapters agree to float rounding.
    let err = 0, moved = 0;
    for (const [k, t] of ddp) {
      const x = toFloat32(t), y = toFloat32(alone.get(k)!);
      err = Math.max(err, maxAbsDiff(x, y));
      if (k.endsWith('lora_B.weight')) for (const v of x) moved = Math.max(moved, Math.abs(v));
    }
    console.log(`2 gloo ranks vs 1 process: adapters max abs difference ${err.toExponential(2)} (largest |B| ${moved.toExponential(2)})`);
    expect(moved, 'training moved B from its zero init').toBeGreaterThan(1e-3);
    expect(err).toBeLessThanOrEqual(1e-5);
    // The steps took medctc's batches (its seeded shuffle, drop-last).
    const names: string[] = JSON.parse(readFileSync(join(exported, 'data', 'train.json'), 'utf8')).volumes;
    const log = readFileSync(join(out, 'train_log.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    const order = epochOrder(names.length, compiled.experiment.seed, 1);
    expect(log.map((l) => l.volumes)).toEqual([0, 1, 2, 3].map((bi) => order.slice(4 * bi, 4 * bi + 4).map((i) => names[i])));
    expect(log.every((l) => Number.isFinite(l.loss) && l.loss > 0)).toBe(true);
    const m = JSON.parse(readFileSync(join(out, 'metrics.json'), 'utf8'));
    expect(m.worldSize).toBe(2);
    expect(m.trainable).toBe(compiled.report.parameters.trainable);
  }, 300_000);

  it('(d) the saved adapter evaluates in medctc to the scores the exported program computed (1e-4)', () => {
    const out = join(dir, 'ddp');
    const ev = join(dir, 'medctc-eval');
    const r = medctc('evaluate', SPEC, '--adapter', join(out, 'adapter'), '--out', ev, '--backend', 'reference', '--quiet', ...REDUCED);
    expect(r.status, r.stderr).toBe(0);
    const mine = readCsv(join(ev, 'scores.csv')), theirs = readCsv(join(out, 'scores.csv'));
    expect(theirs.head).toEqual(mine.head);
    expect(theirs.rows.map((x) => x[0])).toEqual(mine.rows.map((x) => x[0]));
    let err = 0;
    mine.rows.forEach((row, i) => row.slice(1).forEach((v, j) => { err = Math.max(err, Math.abs(Number(v) - Number(theirs.rows[i]![j + 1]))); }));
    console.log(`exported PyTorch vs medctc evaluate --adapter: scores max abs error ${err.toExponential(2)} over ${mine.rows.length} volumes`);
    expect(err).toBeLessThanOrEqual(1e-4);
    // The program's point metrics (CT-CLIP's threshold rule) are medctc's.
    const pm = JSON.parse(readFileSync(join(out, 'metrics.json'), 'utf8')).final.mean;
    const mm = JSON.parse(readFileSync(join(ev, 'metrics.json'), 'utf8')).final.mean;
    for (const k of ['auroc', 'accuracy', 'macroF1', 'weightedF1']) expect(pm[k], k).toBeCloseTo(mm[k], 6);
  }, 300_000);

  it('precision bf16 exports as autocast: its forward is medctc\'s bf16 eval to bf16 tolerance, and it trains', async () => {
    // Inputs and weights of (a). medctc stores frozen weights and activations in bf16; the program
    // runs PyTorch's autocast (bf16 matmuls): both round to bf16, at different points.
    const bf = join(dir, 'export-bf16');
    const e = medctc('export', SPEC, '--target', 'pytorch', '--out', bf, '--quiet', ...REDUCED, '--set', 'train.precision=bf16');
    expect(e.status, e.stderr).toBe(0);
    const c16 = compileExperiment({ ...compiled.experiment, train: { ...compiled.experiment.train!, precision: 'bf16' } });
    const graph = c16.graphs.eval, plan = c16.plans.eval;
    const ex = await execFor(plan, new CpuDevice());
    await ex.loadWeights({ seed: 13, tensors: weightsWithLora(graph, 13) });
    await ex.prepare();
    await ex.run(feedsFor(plan, graph, 9));
    const text = await ex.output('text_latent');
    ex.destroy();
    const out = join(dir, 'forward-bf16');
    const r = python([join(bf, 'train.py'), 'forward', '--weights', join(dir, 'base.safetensors'), '--adapter', join(dir, 'lora'),
      '--inputs', join(dir, 'inputs'), '--out', out, '--threads', '1', '--no-peft'], { MEDCTC_DEVICE: 'cpu' });
    expect(r.status, r.stderr).toBe(0);
    const got = readNpyF32(join(out, 'text_latent.npy')), fp32 = readNpyF32(join(dir, 'forward', 'text_latent.npy'));
    const err = maxAbsDiff(got, text);
    console.log(`exported PyTorch (autocast bf16) vs medctc bf16 eval forward, text_latent: max abs error ${err.toExponential(2)} (vs the fp32 program: ${maxAbsDiff(got, fp32).toExponential(2)})`);
    expect(err).toBeLessThan(2e-2);
    expect(maxAbsDiff(got, fp32)).toBeGreaterThan(1e-4); // autocast ran
    const t = python([join(bf, 'train.py'), '--out', join(dir, 'run-bf16'), '--max-steps', '2', '--threads', '1', '--no-peft'], { MEDCTC_DEVICE: 'cpu' });
    expect(t.status, t.stderr).toBe(0);
    const log = readFileSync(join(dir, 'run-bf16', 'train_log.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    expect(log).toHaveLength(2);
    for (const l of log) expect(Number.isFinite(l.loss) && Number.isFinite(l.gradNorm)).toBe(true);
  }, 300_000);
});

describe('medctc export: what it refuses', () => {
  it('train_base is E4005 at the spec value, before any data is touched; an unknown target is a usage error', () => {
    const out = join(dir, 'refused');
    const r = medctc('export', 'examples/pretrain-tiny.medct', '--target', 'pytorch', '--out', out);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('E4005');
    expect(r.stderr).toMatch(/examples\/pretrain-tiny\.medct:\d+:\d+/);
    expect(r.stderr).not.toMatch(/\n\s+at /); // no stack trace
    expect(existsSync(out)).toBe(false);
    // Report-sentence sampling and acquisition augmentation (LoRA experiments with the CLIP loss):
    // E4005 too, at their line (6), naming the field, before any data is generated.
    for (const [name, block, field] of [['sentences', 'sentences { rate 0.5 }', '`train.sentences`'], ['augment', 'augment { shift 2 voxels }', '`train.augment`']]) {
      const spec = join(dir, `${name}.medct`);
      writeFileSync(spec, `experiment "s" {\n  model ct_clip_tiny\n  data synthetic { root "${join(dir, 'none')}" }\n`
        + `  lora { target text "encoder.layer.*.attention.self.query" }\n  train { loss clip\n    ${block} }\n}\n`);
      const s = medctc('export', spec, '--target', 'pytorch', '--out', out);
      expect(s.status, s.stderr).toBe(2);
      expect(s.stderr).toContain('E4005');
      expect(s.stderr).toContain(field);
      expect(s.stderr).toContain(`${name}.medct:6:`);
      expect(existsSync(out) || existsSync(join(dir, 'none'))).toBe(false);
    }
    const u = medctc('export', SPEC, '--target', 'tensorflow', '--out', out);
    expect(u.status).toBe(2);
    expect(u.stderr).toContain('E0001');
  }, 60_000);
});
