// One real CLI run (`medctc run SPEC --backend reference`, compiled CLI: build dist first) per option
// spec/language.md documents for training and evaluation, each checked against an expectation
// computed here, independently of the runtime:
//
//   train.loss            pair_mse, pair_ce   step-1 loss = the loss formula over the base model's
//                                             P(present) for the step's volumes (from a separate
//                                             evaluation of the train split)
//                         clip                step-1 loss = ln(batch) with a temperature that makes
//                                             every logit 0 (the symmetric image/report CE)
//   train.optimizer       adamw               the first update from the seeded adapter: every lora_B
//                                             entry moves by exactly lr (Adam's normalised step, eps
//                                             1e-20), lora_A (zero gradient while B = 0) shrinks by
//                                             lr·weight_decay (decoupled weight decay)
//   train.schedule        constant, cosine, linear with `warmup N steps`; linear with `warmup X epochs`
//                                             the lr column follows transformers'
//                                             get_*_schedule_with_warmup
//   evaluate.threshold    roc_corner, youden, fixed X
//                                             each label's threshold and accuracy recomputed from
//                                             scores.csv with the rule's definition
//
// Runs are tiny (ct_clip_tiny cut to 16^3 voxels and one layer per encoder, a 10-volume synthetic
// set, at most 6 steps) and go two at a time. MEDCTC_TEST_KEEP=1 keeps the run folders.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const CLI = resolve('dist/cli/medctc.js');
// Tests wait for each other's runs (two at a time) and for the shared weights file; under a full
// suite on 2 cores that is well past the default 120 s.
const RUN_TIMEOUT = 300_000;
const ROOT = mkdtempSync(join(tmpdir(), 'medctc-options-'));
const DATA = join(ROOT, 'data'), CACHE = join(ROOT, 'cache');
afterAll(() => { if (!process.env.MEDCTC_TEST_KEEP) rmSync(ROOT, { recursive: true, force: true }); });

// ---------------------------------------------------------------------------------------------
// Running the CLI, two processes at a time (2 cores; each run is single-threaded).

interface Result { status: number | null; stdout: string; stderr: string }
const waiting: (() => void)[] = [];
let running = 0;
async function medctc(...args: string[]): Promise<Result> {
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: build first with \`npx tsc -p tsconfig.json\``);
  if (running >= 2) await new Promise<void>((r) => waiting.push(r));
  running++;
  try {
    return await new Promise<Result>((done, fail) => {
      // MEDCTC_BACKTRACE: an internal error (exit 3) shows its cause in the failure message.
      const p = spawn(process.execPath, [CLI, ...args], { env: { ...process.env, NO_COLOR: '1', MEDCTC_BACKTRACE: '1' } });
      let stdout = '', stderr = '';
      p.stdout.on('data', (d: Buffer) => { stdout += d.toString(); });
      p.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
      p.on('error', fail);
      p.on('close', (status) => done({ status, stdout, stderr }));
    });
  } finally {
    running--;
    waiting.shift()?.();
  }
}

// ---------------------------------------------------------------------------------------------
// Specs.

const PATHOLOGIES = ['Medical material', 'Arterial wall calcification', 'Cardiomegaly', 'Pericardial effusion', 'Coronary artery wall calcification', 'Hiatal hernia'];
const LORA = `lora {
    rank 4
    alpha 8
    dropout 0
    target text "encoder.layer.*.attention.self.{query,key,value}"
    target image "visual_transformer.enc_*_transformer.layers.*.1.{to_q,to_kv}"
  }`;

interface Spec {
  /** The `train { ... }` body, or null for an evaluation-only run. */
  train: string | null;
  lora?: boolean;
  weights?: string;
  /** First N CT-RATE labels; all 18 when absent. */
  pathologies?: number;
  /** Volumes per split. */
  limit?: number;
  evalSplit?: 'train' | 'valid';
  threshold?: string;
}

function writeSpec(name: string, s: Spec): string {
  const file = join(ROOT, `${name}.medct`);
  const data = [`root ${JSON.stringify(DATA)}`, `cache ${JSON.stringify(CACHE)}`, 'preprocess { size [16, 16, 16] voxels }'];
  if (s.limit) data.push(`limit ${s.limit}`);
  if (s.evalSplit) data.push(`eval "${s.evalSplit}"`);
  const text = `experiment "${name}" {
  seed 7
  model ct_clip_tiny {
    ${s.weights ? `weights ${JSON.stringify(s.weights)}` : ''}
    image { image_size 16; frames 16; spatial_depth 1; temporal_depth 1 }
    text { layers 1; max_length 16 }
  }
  ${s.lora === false ? '' : LORA}
  data ct_rate { ${data.join('; ')} }
  prompts { pathologies ${s.pathologies ? `[${PATHOLOGIES.slice(0, s.pathologies).map((p) => JSON.stringify(p)).join(', ')}]` : 'ct_rate.all'} }
  ${s.train === null ? '' : `train { ${s.train} }`}
  evaluate { metrics [auroc, accuracy]  threshold ${s.threshold ?? 'roc_corner'} }
}
`;
  writeFileSync(file, text);
  return file;
}

interface LogLine { step: number; epoch: number; loss: number; lr: number; volumes: string[] }
interface LabelResult { label: string; positives: number; negatives: number; metrics: { threshold: number | null; accuracy: number | null; auroc: number | null } }
interface Metrics { split: string; volumes: number; final: { threshold: { kind: string; value?: number }; labels: LabelResult[] } }
interface Run { out: string; log: LogLine[]; metrics: Metrics; scores: Scores }

/** Every number in a JSON value is finite (undefined metrics are null, never NaN). */
function finiteNumbers(v: unknown, path = '$'): string[] {
  if (typeof v === 'number') return Number.isFinite(v) ? [] : [path];
  if (Array.isArray(v)) return v.flatMap((x, i) => finiteNumbers(x, `${path}[${i}]`));
  if (v && typeof v === 'object') return Object.entries(v).flatMap(([k, x]) => finiteNumbers(x, `${path}.${k}`));
  return [];
}

/** Runs a spec and checks what every run must give: exit 0, metrics.json with finite values, a finite loss per step. */
async function runSpec(name: string, s: Spec): Promise<Run> {
  const file = writeSpec(name, s);
  const out = join(ROOT, name);
  const r = await medctc('run', file, '--out', out, '--backend', 'reference', '--quiet');
  expect(r.status, `${name}: ${r.stderr}`).toBe(0);
  const raw: unknown = JSON.parse(readFileSync(join(out, 'metrics.json'), 'utf8'));
  expect(finiteNumbers(raw), `${name}: non-finite metrics`).toEqual([]);
  const metrics = raw as Metrics;
  expect(metrics.final.labels.length).toBe(s.pathologies ?? 18);
  const log = s.train === null ? [] : readFileSync(join(out, 'train_log.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as LogLine);
  if (s.train !== null) {
    expect(log.length).toBeGreaterThan(0);
    for (const l of log) expect(Number.isFinite(l.loss) && Number.isFinite(l.lr), `${name} step ${l.step}`).toBe(true);
  }
  return { out, log, metrics, scores: readScores(join(out, 'scores.csv')) };
}

// ---------------------------------------------------------------------------------------------
// Independent readers: scores.csv and safetensors.

/** Per label: P(present) and truth per volume, in file order. */
type Scores = Map<string, { volume: string; p: number; truth: number }[]>;
function readScores(path: string): Scores {
  const [head, ...rows] = readFileSync(path, 'utf8').trim().split('\n').map((l) => l.split(','));
  const labels = head!.slice(1).filter((_, i) => i % 2 === 0);
  const out: Scores = new Map(labels.map((l) => [l, []]));
  for (const row of rows) {
    labels.forEach((l, i) => {
      expect(head![2 + 2 * i]).toBe(`${l} (truth)`);
      out.get(l)!.push({ volume: row[0]!, p: Number(row[1 + 2 * i]), truth: Number(row[2 + 2 * i]) });
    });
  }
  return out;
}

/** The F32 tensors of a safetensors file (8-byte little-endian header length, JSON header, data). */
function readSafetensors(path: string): Map<string, Float32Array> {
  const b = readFileSync(path);
  const n = Number(b.readBigUInt64LE(0));
  const header = JSON.parse(b.subarray(8, 8 + n).toString('utf8')) as Record<string, { dtype: string; data_offsets: [number, number] }>;
  const out = new Map<string, Float32Array>();
  for (const [name, t] of Object.entries(header)) {
    if (name === '__metadata__') continue;
    expect(t.dtype, name).toBe('F32');
    const bytes = b.subarray(8 + n + t.data_offsets[0], 8 + n + t.data_offsets[1]);
    out.set(name, new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length)));
  }
  return out;
}

/** A copy of a safetensors file with the scalar `temperature` (CT-CLIP's log logit scale) replaced. */
function withTemperature(src: string, dst: string, value: number): string {
  const b = Buffer.from(readFileSync(src));
  const n = Number(b.readBigUInt64LE(0));
  const header = JSON.parse(b.subarray(8, 8 + n).toString('utf8')) as Record<string, { dtype: string; shape: number[]; data_offsets: [number, number] }>;
  const t = header.temperature!;
  expect([t.dtype, t.shape]).toEqual(['F32', []]);
  b.writeFloatLE(value, 8 + n + t.data_offsets[0]);
  writeFileSync(dst, b);
  return dst;
}

// ---------------------------------------------------------------------------------------------
// Shared inputs.

beforeAll(() => {
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: build first with \`npx tsc -p tsconfig.json\``);
  // 10 volumes: 8 train, 2 valid (80/20).
  const r = spawnSync(process.execPath, [CLI, 'synth', '--out', DATA, '--volumes', '10', '--seed', '7'], { encoding: 'utf8' });
  expect(r.status, r.stderr).toBe(0);
});

const once = <T>(f: () => Promise<T>): (() => Promise<T>) => { let p: Promise<T> | null = null; return () => (p ??= f()); };

/** The seeded base model as a weights file: train_base with one step at lr 0 (warmup) leaves it unchanged. */
const baseWeights = once(async () => {
  const file = writeSpec('base-weights', { lora: false, limit: 1, pathologies: 1, train: 'loss pair_mse  optimizer adamw { lr 1e-3 }  schedule constant { warmup 1 steps }  epochs 1  batch 1  train_base true' });
  const out = join(ROOT, 'base-weights');
  const r = await medctc('train', file, '--out', out, '--backend', 'reference', '--quiet');
  expect(r.status, r.stderr).toBe(0);
  return join(out, 'model.safetensors');
});
/** exp(8)·cosine: P(present) spread over (0, 1), so the threshold rules have something to choose. */
const hotWeights = once(async () => withTemperature(await baseWeights(), join(ROOT, 'hot.safetensors'), 8));
/** exp(-30)·cosine: every logit 0 to within 1e-13. */
const coldWeights = once(async () => withTemperature(await baseWeights(), join(ROOT, 'cold.safetensors'), -30));

// ---------------------------------------------------------------------------------------------
// train.loss

const LOSS_RUN = { pathologies: 3, limit: 4 } as const;
const lossTrain = (loss: string, batch = 2) => `loss ${loss}  optimizer adamw { lr 1e-3 }  schedule constant { warmup 1 steps }  epochs 1  batch ${batch}`;
/** The base model's P(present) on the first 4 train volumes: what the step-1 forward sees (lora_B = 0). */
const trainScores = once(async () => (await runSpec('loss-reference', { ...LOSS_RUN, train: null, evalSplit: 'train' })).scores);

/** Mean over the step's volumes and labels of the pair loss term, from P(present) = softmax over (present, absent). */
function expectedPairLoss(scores: Scores, volumes: string[], term: (p: number, t: number) => number): number {
  let sum = 0, n = 0;
  for (const rows of scores.values()) {
    for (const v of volumes) {
      const row = rows.find((r) => r.volume === v);
      expect(row, v).toBeDefined();
      sum += term(row!.p, row!.truth);
      n++;
    }
  }
  return sum / n;
}

describe.concurrent('train.loss', { timeout: RUN_TIMEOUT }, () => {
  it('pair_mse: step-1 loss = mean (P(present) - target)^2', async () => {
    const [run, scores] = await Promise.all([runSpec('loss-pair_mse', { ...LOSS_RUN, train: lossTrain('pair_mse') }), trainScores()]);
    expect(run.log.map((l) => l.step)).toEqual([1, 2]);
    const want = expectedPairLoss(scores, run.log[0]!.volumes, (p, t) => (p - t) ** 2);
    expect(Math.abs(run.log[0]!.loss - want), `got ${run.log[0]!.loss}, want ${want}`).toBeLessThan(2e-6);
  });

  it('pair_ce: step-1 loss = mean cross-entropy of the (present, absent) pair', async () => {
    const [run, scores] = await Promise.all([runSpec('loss-pair_ce', { ...LOSS_RUN, train: lossTrain('pair_ce') }), trainScores()]);
    const want = expectedPairLoss(scores, run.log[0]!.volumes, (p, t) => -(t * Math.log(p) + (1 - t) * Math.log(1 - p)));
    expect(Math.abs(run.log[0]!.loss - want), `got ${run.log[0]!.loss}, want ${want}`).toBeLessThan(5e-6);
    // Not the MSE of the same probabilities.
    const mse = expectedPairLoss(scores, run.log[0]!.volumes, (p, t) => (p - t) ** 2);
    expect(Math.abs(run.log[0]!.loss - mse)).toBeGreaterThan(0.1);
  });

  // Known bug (issue 9): exit 3 "train plan takes 4 texts, the prompts make 36" until runtime/run
  // takes the number of texts from the plan. Kept failing on purpose.
  it('clip: step-1 loss = ln(batch) when every image/report logit is equal', async () => {
    const run = await runSpec('loss-clip', { ...LOSS_RUN, limit: 6, weights: await coldWeights(), train: lossTrain('clip', 3) });
    expect(run.log.map((l) => l.step)).toEqual([1, 2]);
    // Symmetric CE over the 3x3 logits: each row and column a uniform softmax, -ln(1/3). pair_ce
    // would give ln 2, pair_mse 1/4 + 0 here.
    expect(run.log[0]!.loss).toBeCloseTo(Math.log(3), 5);
  });
});

// ---------------------------------------------------------------------------------------------
// train.optimizer

describe.concurrent('train.optimizer', { timeout: RUN_TIMEOUT }, () => {
  it('adamw: the first step moves every lora_B entry by exactly lr and decays lora_A by lr·weight_decay', async () => {
    const lr = 0.01, wd = 0.5;
    const base = { pathologies: 1, limit: 1 } as const;
    // eps far below every gradient, so Adam's first step is exactly ±lr.
    const adamw = `adamw { lr ${lr}; eps 1e-20; weight_decay ${wd} }`;
    const [init, step] = await Promise.all([
      // One step at lr 0 (warmup): the adapter as initialised.
      runSpec('adamw-init', { ...base, train: `loss pair_mse  optimizer ${adamw}  schedule constant { warmup 1 steps }  epochs 1  batch 1` }),
      runSpec('adamw-step', { ...base, train: `loss pair_mse  optimizer ${adamw}  schedule constant { warmup 0 steps }  epochs 1  batch 1` }),
    ]);
    expect(init.log.map((l) => l.lr)).toEqual([0]);
    expect(step.log.map((l) => l.lr)).toEqual([lr]);
    const a0 = readSafetensors(join(init.out, 'adapter', 'adapter_model.safetensors'));
    const a1 = readSafetensors(join(step.out, 'adapter', 'adapter_model.safetensors'));
    expect([...a1.keys()]).toEqual([...a0.keys()]);
    // First AdamW step from m = v = 0: m̂ = g, v̂ = g², so p1 = p0·(1 - lr·wd) - lr·g/(|g| + eps).
    // lora_B starts at 0 (PEFT init), so p1 = ±lr wherever g != 0 (plain SGD would give lr·g);
    // lora_A's gradient (scaling·dy·B)ᵀ·dropout(x) is 0 while B = 0, so only the decay moves it.
    let bEntries = 0, aMoved = 0, aEntries = 0;
    for (const [name, p0] of a0) {
      const p1 = a1.get(name)!;
      if (name.endsWith('lora_B.weight')) {
        expect(p0.every((x) => x === 0), `${name} starts at 0`).toBe(true);
        p1.forEach((x, i) => expect(Math.abs(Math.abs(x) / lr - 1), `${name}[${i}] = ${x}`).toBeLessThan(1e-6));
        bEntries += p1.length;
      } else {
        expect(name).toMatch(/lora_A\.weight$/);
        p1.forEach((x, i) => expect(x, `${name}[${i}]`).toBeCloseTo(p0[i]! * (1 - lr * wd), 7));
        aMoved += p1.filter((x, i) => Math.abs(x - p0[i]!) > 1e-5).length;
        aEntries += p1.length;
      }
    }
    expect(bEntries).toBeGreaterThan(0);
    // The decay is visible: without it lora_A would not have moved at all.
    expect(aMoved / aEntries).toBeGreaterThan(0.5);
  });
});

// ---------------------------------------------------------------------------------------------
// train.schedule

/** transformers' get_{constant,linear,cosine}_schedule_with_warmup lr_lambda, times the base lr. */
function transformersLr(kind: string, base: number, step: number, warmup: number, total: number): number {
  if (step < warmup) return base * (step / Math.max(1, warmup));
  const progress = (step - warmup) / Math.max(1, total - warmup);
  if (kind === 'constant') return base;
  if (kind === 'linear') return base * Math.max(0, (total - step) / Math.max(1, total - warmup));
  return base * Math.max(0, 0.5 * (1 + Math.cos(Math.PI * 0.5 * 2 * progress)));
}

describe.concurrent('train.schedule', { timeout: RUN_TIMEOUT }, () => {
  const lr = 0.01;
  // 5 train volumes, batch 1: 5 steps per epoch.
  const cases: { name: string; schedule: string; epochs: number; kind: string; warmup: number }[] = [
    { name: 'constant', schedule: 'constant { warmup 2 steps }', epochs: 1, kind: 'constant', warmup: 2 },
    { name: 'cosine', schedule: 'cosine { warmup 2 steps }', epochs: 1, kind: 'cosine', warmup: 2 },
    { name: 'linear', schedule: 'linear { warmup 2 steps }', epochs: 1, kind: 'linear', warmup: 2 },
    // round(0.65 · 5 batches per epoch) = 3 warmup steps, over 2 epochs = 10 steps.
    { name: 'linear-epochs', schedule: 'linear { warmup 0.65 epochs }', epochs: 2, kind: 'linear', warmup: 3 },
  ];
  for (const c of cases) {
    it(`${c.schedule}: the lr column is transformers' schedule`, async () => {
      const run = await runSpec(`schedule-${c.name}`, { pathologies: 1, limit: 5, train: `loss pair_mse  optimizer adamw { lr ${lr} }  schedule ${c.schedule}  epochs ${c.epochs}  batch 1` });
      const total = 5 * c.epochs;
      expect(run.log.map((l) => l.step)).toEqual(Array.from({ length: total }, (_, i) => i + 1));
      // Step s (1-based) uses the schedule at optimizer step s - 1.
      const want = run.log.map((l) => transformersLr(c.kind, lr, l.step - 1, c.warmup, total));
      run.log.forEach((l, i) => expect(l.lr, `step ${l.step}: ${JSON.stringify(run.log.map((x) => x.lr))}`).toBeCloseTo(want[i]!, 12));
    });
  }
});

// ---------------------------------------------------------------------------------------------
// evaluate.threshold

/** numpy.linspace(0, 1, 100): i·(1/99), the last point exactly 1. */
const GRID = Array.from({ length: 100 }, (_, i) => (i === 99 ? 1 : i * (1 / 99)));

/** roc_corner: the rule over the grid, predicting present when P > t; ties to the larger t. youden:
 *  scikit-learn's roc_curve, literally: every distinct score as a threshold (P >= t) from the top,
 *  +inf first, the first maximum of TPR - FPR (+inf is null in metrics.json). 0 for a one-class
 *  label (CT-CLIP's loop never updates). */
function expectedThreshold(rows: { p: number; truth: number }[], rule: 'roc_corner' | 'youden'): number | null {
  const P = rows.filter((r) => r.truth === 1).length, N = rows.length - P;
  if (P === 0 || N === 0) return 0;
  if (rule === 'youden') {
    let best = Infinity, bestJ = 0;
    for (const t of [...new Set(rows.map((r) => r.p))].sort((a, b) => b - a)) {
      const j = rows.filter((r) => r.truth === 1 && r.p >= t).length / P - rows.filter((r) => r.truth === 0 && r.p >= t).length / N;
      if (j > bestJ) { bestJ = j; best = t; }
    }
    return Number.isFinite(best) ? best : null;
  }
  let best = 0, bestValue = Infinity;
  for (const t of GRID) {
    const tpr = rows.filter((r) => r.truth === 1 && r.p > t).length / P;
    const fpr = rows.filter((r) => r.truth === 0 && r.p > t).length / N;
    const d = Math.hypot(1 - tpr, fpr);
    if (d <= bestValue) { bestValue = d; best = t; }
  }
  return best;
}
const accuracyAt = (rows: { p: number; truth: number }[], t: number | null, inclusive = false) =>
  rows.filter((r) => ((t === null ? false : inclusive ? r.p >= t : r.p > t) ? 1 : 0) === r.truth).length / rows.length;

describe.concurrent('evaluate.threshold', { timeout: RUN_TIMEOUT }, () => {
  // The base model with spread scores, evaluated on the 8 train volumes (all 18 labels), no training.
  const evalRun = once(async () => ({ hot: await hotWeights() }));
  const thresholds = new Map<string, Promise<Run>>();
  const runRule = (rule: string) => {
    if (!thresholds.has(rule)) thresholds.set(rule, evalRun().then(({ hot }) => runSpec(`threshold-${rule.replace(/\W+/g, '_')}`, { lora: false, weights: hot, evalSplit: 'train', train: null, threshold: rule })));
    return thresholds.get(rule)!;
  };

  for (const rule of ['roc_corner', 'youden'] as const) {
    it(`${rule}: every label's threshold and accuracy follow the rule (${rule === 'youden' ? 'exact ROC, P >= t' : 'linspace(0, 1, 100), P > t'})`, async () => {
      const run = await runRule(rule);
      expect(run.metrics.final.threshold).toEqual({ kind: rule });
      expect(run.metrics.volumes).toBe(8);
      const spread = [...run.scores.values()].flat().map((r) => r.p);
      expect(Math.max(...spread) - Math.min(...spread)).toBeGreaterThan(0.5);
      for (const l of run.metrics.final.labels) {
        const rows = run.scores.get(l.label)!;
        const t = expectedThreshold(rows, rule);
        expect(l.metrics.threshold, l.label).toBe(t);
        expect(l.metrics.accuracy, l.label).toBeCloseTo(accuracyAt(rows, t, rule === 'youden'), 12);
      }
    });
  }

  it('roc_corner and youden choose different thresholds on these scores', async () => {
    const [roc, youden] = await Promise.all([runRule('roc_corner'), runRule('youden')]);
    const t = (r: Run) => r.metrics.final.labels.map((l) => l.metrics.threshold);
    // Same model and data: the scores agree, so any difference is the rule's.
    expect([...youden.scores]).toEqual([...roc.scores]);
    const differ = t(roc).filter((x, i) => x !== t(youden)[i]).length;
    expect(differ, `${t(roc)} vs ${t(youden)}`).toBeGreaterThan(0);
  });

  it('fixed 0.45: every label uses 0.45, accuracy = fraction with (P > 0.45) = truth', async () => {
    const run = await runRule('fixed 0.45');
    expect(run.metrics.final.threshold).toEqual({ kind: 'fixed', value: 0.45 });
    for (const l of run.metrics.final.labels) {
      expect(l.metrics.threshold, l.label).toBe(0.45);
      expect(l.metrics.accuracy, l.label).toBeCloseTo(accuracyAt(run.scores.get(l.label)!, 0.45), 12);
    }
  });
});
