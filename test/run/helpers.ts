// Shared by test/run: temp folders, a small spec for runs, data items without files, and a
// stand-in for the plan executor that records what the loops feed it. The stand-in exists only
// here, to test the loops' own logic (order, schedule, scalars, failure paths) independently of
// the real executor; end-to-end tests use the real one.
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect } from 'vitest';
import { DiagnosticError } from '../../base/diagnostics/types.js';
import type { Plan } from '../../compiler/plan/types.js';
import type { DataItem } from '../../runtime/data/dataset.js';
import type { Feeds, RunExecutor, RunScalars } from '../../runtime/run/executor.js';
import type { MemoryReport } from '../../runtime/exec/arena.js';
import type { RunOptions as ExecRunOptions } from '../../runtime/exec/types.js';

const made: string[] = [];
afterAll(() => { for (const d of made.splice(0)) rmSync(d, { recursive: true, force: true }); });

/** Every file under `dir` (relative path -> bytes as base64), to compare a folder before and after. */
export function snapshot(dir: string, prefix = ''): Record<string, string> {
  const out: Record<string, string> = {};
  for (const e of readdirSync(join(dir, prefix), { withFileTypes: true })) {
    const rel = prefix ? `${prefix}/${e.name}` : e.name;
    if (e.isDirectory()) Object.assign(out, snapshot(dir, rel));
    else out[rel] = readFileSync(join(dir, rel)).toString('base64');
  }
  return out;
}

export function tempDir(tag: string): string {
  const d = mkdtempSync(join(tmpdir(), `medctc-${tag}-`));
  made.push(d);
  return d;
}

export async function expectDiagnostic(fn: () => unknown, code: string, mentions: string[] = []): Promise<DiagnosticError> {
  let err: unknown = null;
  try { await fn(); } catch (e) { err = e; }
  expect(err, `expected ${code}`).toBeInstanceOf(DiagnosticError);
  const d = (err as DiagnosticError).diagnostics[0]!;
  expect(d.code, d.message).toBe(code);
  for (const m of mentions) expect(d.message).toContain(m);
  return err as DiagnosticError;
}

/** Items whose volume is filled with its index (so a feed shows which volume went where). */
export function fakeItems(labels: number[][], voxels = 8): DataItem[] {
  return labels.map((l, i) => ({
    volumeName: `v${i}.nii.gz`, path: `/nowhere/v${i}.nii.gz`, labels: Uint8Array.from(l), reportText: '',
    load: async () => new Float32Array(voxels).fill(i),
  }));
}

/** A plan skeleton with only the inputs the feed checks read. */
export function planWithInputs(mode: 'eval' | 'train', inputs: Record<string, { shape: number[]; dtype: 'f32' | 'i32' }>): Plan {
  const buffers = Object.entries(inputs).map(([name, b], id) => ({
    id, name, shape: b.shape, dtype: b.dtype, bytes: 4 * b.shape.reduce((x, y) => x * y, 1), kind: 'input' as const, arena: 'work' as const, offset: 0, tensor: null, live: null,
  }));
  return {
    planVersion: 3, mode, experiment: 'x', architecture: 'ct_clip_tiny', batch: { images: 1, texts: inputs.input_ids?.shape[0] ?? 1 },
    inputs: Object.fromEntries(buffers.map((b) => [b.name, b.id])), outputs: {}, buffers, kernels: [],
    memory: { alignment: 256, weightsBytes: 0, stateBytes: 0, workPeakBytes: 0, workNaiveBytes: 0, workLowerBoundBytes: 0 },
    model: { weights: [], lora: null },
  };
}

/** One run() call, and how many tensors had been written (writeTensor) and prepare() calls made before it. */
export interface Recorded { feeds: Feeds; scalars: Partial<RunScalars> | undefined; written: number; prepared: number; opts?: ExecRunOptions }

/** A recording stand-in: `outputs(name, run)` answers output(); tensors answer readTensor(). */
export class RecordingExecutor implements RunExecutor {
  runs: Recorded[] = [];
  written = new Map<string, Float32Array>();
  prepared = 0;
  destroyed = false;
  loaded: { seed: number; tensors?: ReadonlyMap<string, Float32Array> } | null = null;
  readonly memory: MemoryReport = { weights: { plannedBytes: 0, allocatedBytes: 0, allocations: 0 }, state: { plannedBytes: 0, allocatedBytes: 0, allocations: 0 }, work: { plannedBytes: 0, allocatedBytes: 0, allocations: 0 } };
  constructor(readonly plan: Plan, private outputs: (name: string, run: Recorded, index: number) => Float32Array, private tensors: Map<string, Float32Array> = new Map()) {}
  async loadWeights(o: { seed: number; tensors?: ReadonlyMap<string, Float32Array> }) { this.loaded = o; }
  async prepare() { this.prepared++; }
  async run(feeds: Feeds, scalars?: Partial<RunScalars>, opts?: ExecRunOptions) { this.runs.push({ feeds, scalars, written: this.written.size, prepared: this.prepared, opts }); }
  async output(name: string) { return this.outputs(name, this.runs.at(-1)!, this.runs.length - 1); }
  async readTensor(name: string) {
    const t = this.written.get(name) ?? this.tensors.get(name);
    if (!t) throw new Error(`no tensor ${name}`);
    return t;
  }
  async writeTensor(name: string, data: Float32Array) { this.written.set(name, data); }
  destroy() { this.destroyed = true; }
}

export function writeSpec(dir: string, text: string): string {
  const f = join(dir, 'exp.medct');
  writeFileSync(f, text);
  return f;
}

export interface SmallSpec {
  volumes?: number; epochs?: number; batch?: number; baseline?: boolean;
  /** A prefix of the CT-RATE labels (fewer prompts: the text encoder dominates a tiny step). */
  pathologies?: number; lr?: number; dropout?: number; schedule?: string; warmup?: number;
  /** train.accumulate and train.checkpoint_every (absent: the spec's defaults). */
  accumulate?: number; checkpointEvery?: number;
  /** train.optimizer.eps. */
  eps?: number;
}

/** The quickstart spec resized for tests, with its data and cache inside `dir`. */
export function smallSpec(dir: string, o: SmallSpec = {}): string {
  const labels = ['Medical material', 'Arterial wall calcification', 'Cardiomegaly', 'Pericardial effusion', 'Coronary artery wall calcification', 'Hiatal hernia'];
  let text = readFileSync('test/run/fixtures/small.medct', 'utf8')
    .replace(/root "[^"]*"/, `root "${join(dir, 'data')}"`)
    .replace(/cache "[^"]*"/, `cache "${join(dir, 'cache')}"`)
    .replace(/volumes \d+/, `volumes ${o.volumes ?? 10}`)
    .replace(/epochs \d+/, `epochs ${o.epochs ?? 2}`)
    .replace(/batch \d+/, `batch ${o.batch ?? 2}`)
    .replace(/schedule \w+ \{ warmup \d+ steps \}/, `schedule ${o.schedule ?? 'cosine'} { warmup ${o.warmup ?? 1} steps }`)
    .replace(/bootstrap \d+/, 'bootstrap 20')
    .replace(/\n\s*baseline \w+/, '')
    .replace(/threshold roc_corner/, `threshold roc_corner${o.baseline ? '\n    baseline true' : ''}`);
  if (o.pathologies) text = text.replace('pathologies ct_rate.all', `pathologies [${labels.slice(0, o.pathologies).map((l) => JSON.stringify(l)).join(', ')}]`);
  if (o.lr !== undefined) text = text.replace(/lr [0-9.e-]+;/, `lr ${o.lr};`);
  if (o.eps !== undefined) text = text.replace(/(lr [0-9.e-]+;)/, `$1 eps ${o.eps};`);
  if (o.dropout !== undefined) text = text.replace(/dropout [0-9.]+/, `dropout ${o.dropout}`);
  if (o.accumulate !== undefined) text = text.replace(/\n(\s*)batch (\d+)/, `\n$1batch $2\n$1accumulate ${o.accumulate}`);
  if (o.checkpointEvery !== undefined) text = text.replace(/\n(\s*)batch (\d+)/, `\n$1batch $2\n$1checkpoint_every ${o.checkpointEvery}`);
  return writeSpec(dir, text);
}
