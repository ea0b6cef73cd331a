// `medctc run`: a build folder -> the run folder. The build (compiler/build.ts; `medctc run FILE`
// writes it into the run folder first) is read back and checked against its lock
// (./build-dir.ts), then: data (synthesised into the spec's data root when absent, preprocessed
// once into the cache), optional zero-shot baseline, training on the train plan, the PEFT adapter,
// evaluation on the eval plan with the trained adapter merged (baseline and final share one eval
// executor), metrics and scores, and run.json (what ran where, how long, with which seed, the
// memory each plan allocated against its plan, and the sha256 of every file). Everything is
// written into a staging folder and moved into the run folder only once the run has succeeded
// (./outputs.ts), so a failed or killed run leaves the previous results as they were.
import { pairedChange } from '../eval/paired.js';
import { appendFileSync, existsSync, readFileSync } from 'node:fs';
import { sha256, sha256File } from '../../base/hash.js';
import { assertCheckpointReplaceable, CHECKPOINT_FILE, checkpointDifferences, comparableIr, readCheckpoint, startOf, writeCheckpoint, type Checkpoint, type CheckpointMeta } from './checkpoint.js';
import { isAbsolute, join, relative, resolve } from 'node:path';
import { COMPILER_VERSION, canonicalJson, writeBuild, type Compiled } from '../../compiler/build.js';
import type { Plan } from '../../compiler/plan/types.js';
import { imageQuantizes } from '../../compiler/ir/experiment.js';
import { settingsFromLoraSpec, writeAdapter, type Adapter } from '../adapter/index.js';
import { dataLock, openDataSet, type DataSet } from '../data/index.js';
import { checkHuSample } from '../data/hu.js';
import { renderDiagnostics } from '../../base/diagnostics/render.js';
import type { ProgressMode } from '../data/progress.js';
import { openDevice, type Device } from '../device/index.js';
import { writeScoresCsv } from '../eval/index.js';
import { writeFileAtomic } from '../../base/atomic.js';
import { adapterTensors } from './adapter.js';
import { createExecutor, type MemoryReport } from '../exec/index.js';
import type { CreateExecutor, RunExecutor } from './executor.js';
import { readBuild, type BuiltExperiment } from './build-dir.js';
import { reportFeeds } from './feeds.js';
import { checkBeforeData, ensureOutputDir } from './preflight.js';
import { specAt, type SpecAt } from './spec-at.js';
import type { Sources } from '../../compiler/passes/provenance.js';
import { evaluateItems, type EvalRun } from './evaluate.js';
import { abandonRunFolder, ADAPTER_DIR, commitRunFolder, hashFolder, metricsJson, metricsMarkdown, openRunFolder, type MetricsFile, type RunFolderWrite } from './outputs.js';
import { DiagnosticError, fileDiagnostic } from '../../base/diagnostics/types.js';
import { diag } from '../../base/diagnostics/catalog.js';
import { startReporter, type RunProgressMode, type RunReporter } from './progress.js';
import { planTraining, stepBatch, trainedAdapter, trainLoop, lossSentence, type TrainSummary } from './train.js';
import { architectureMetadata, checkBaseWeights, loadBaseWeights, MODEL_WEIGHTS_FILE, trainedBaseWeights, writeModelWeights } from './weights.js';

export interface RunOptions {
  outDir: string;
  /** The spec file (or build folder), named by diagnostics and recorded in run.json. */
  source: string;
  progress: RunProgressMode;
  /** Skip training (evaluate the base model, or `adapter`). */
  train?: boolean;
  /** Skip the final evaluation. */
  evaluate?: boolean;
  /** Evaluate before training too; default: the spec's evaluate.baseline. */
  baseline?: boolean;
  /** LoRA tensors (graph names) to evaluate with instead of training, and where they came from. */
  adapter?: { tensors: Map<string, Float32Array>; from: string };
  /** Continue training from `outDir`'s checkpoint (./checkpoint.ts): 'required' fails with E5592
   *  when there is none; 'optional' (sweep variants that never started) then trains from the start. */
  resume?: 'required' | 'optional';
  /** Command-line overrides, recorded in run.json. */
  overrides?: Record<string, unknown>;
  /** The spec sources the CLI read (path -> text): diagnostics found at run time point into them. */
  sources?: Sources;
  device?: Device;
  createExecutor?: CreateExecutor;
  reporter?: RunReporter;
  /** Called with the staging folder once run.json is written, before the files move into place
   *  (the CLI writes report.html there, so the report moves with the results). */
  finish?: (dir: string) => void;
}

export interface RunResult {
  dir: string;
  experiment: string;
  device: string;
  train: TrainSummary | null;
  metrics: MetricsFile | null;
  seconds: number;
}

const dataProgress = (m: RunProgressMode): ProgressMode => (m === 'json' ? 'json' : m === 'quiet' ? 'quiet' : 'auto');
const shown = (p: string): string => (isAbsolute(p) ? relative(process.cwd(), p) || '.' : p);

/** Writes the build of `c` into the run folder, then runs that folder (`runBuilt`). */
export async function runCompiled(c: Compiled, o: RunOptions & { baseDir: string }): Promise<RunResult> {
  const t0 = performance.now();
  ensureOutputDir(o.outDir, specAt(c.experiment, o.sources, o.source));
  const w = openRunFolder(o.outDir);
  let b: BuiltExperiment;
  try {
    await writeBuild(c, w.dir, { baseDir: o.baseDir, dataLock: (e) => dataLock(e.data, o.baseDir, { progress: dataProgress(o.progress) }) });
    b = readBuild(w.dir);
    freshBuilds.add(b);
  } catch (e) {
    throw withFailedRunNote(e, w);
  }
  return runBuilt(b, o, { build: (performance.now() - t0) / 1000 }, w);
}

/** Builds this process wrote into their run folder (runCompiled), whose lock it may still amend. */
const freshBuilds = new WeakSet<BuiltExperiment>();

/** A synthetic source is generated by openDataSet, after the run wrote its lock: the lock's data
 *  section then named no manifest, and `medctc verify` on the finished run listed the manifest as
 *  drift. Once the data exists, a lock this run wrote gets the data section as it is now (and
 *  run.json the lock's new hash). A build folder run as it is keeps its lock untouched. */
function relockSyntheticData(b: BuiltExperiment, out: string): void {
  const exp = b.experiment;
  if (!freshBuilds.has(b) || exp.data.source.kind !== 'synthetic' || resolve(b.dir) !== resolve(out)) return;
  const file = join(out, 'medctc.lock');
  const lock = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
  const data = dataLock(exp.data, b.baseDir, { progress: 'quiet' });
  if (canonicalJson(data) === canonicalJson(lock.data)) return;
  const text = canonicalJson({ ...lock, data });
  writeFileAtomic(file, text);
  b.lockSha256 = sha256(text);
}

/** After a failed run: its staging folder is abandoned, and a user error says where the run's
 *  training log is and that the previous results stand. */
function withFailedRunNote(e: unknown, w: RunFolderWrite): unknown {
  const note = abandonRunFolder(w);
  const d = e instanceof DiagnosticError ? e.diagnostics[0] : undefined;
  if (d && note) d.help = d.help ? `${d.help}; ${note}` : note;
  return e;
}

/** The device bytes an executor holds, per arena: what the plan planned and what was allocated. */
const memoryOf = (e: RunExecutor): MemoryReport => e.memory;

export async function runBuilt(b: BuiltExperiment, o: RunOptions, spent: Record<string, number> = {}, staging?: RunFolderWrite): Promise<RunResult> {
  if (!staging) ensureOutputDir(o.outDir, specAt(b.experiment, o.sources, o.source));
  const w = staging ?? openRunFolder(o.outDir);
  try {
    return await runInto(b, o, spent, w);
  } catch (e) {
    throw withFailedRunNote(e, w);
  }
}

async function runInto(b: BuiltExperiment, o: RunOptions, spent: Record<string, number>, w: RunFolderWrite): Promise<RunResult> {
  const out = w.dir;
  const exp = b.experiment;
  const t0 = performance.now() - 1000 * Object.values(spent).reduce((x, y) => x + y, 0);
  const started = new Date().toISOString();
  const rep = o.reporter ?? startReporter(o.progress);
  const times: Record<string, number> = { ...spent };
  const timed = async <T>(key: string, fn: () => Promise<T>): Promise<T> => {
    const s = performance.now();
    try { return await fn(); } finally { times[key] = (performance.now() - s) / 1000; }
  };
  const trainPlan: Plan | null = b.plans.train;
  const evalPlan = b.plans.eval;
  const doTrain = (o.train ?? true) && trainPlan !== null && !o.adapter;
  const doEval = o.evaluate ?? true;
  const doBaseline = doEval && doTrain && (o.baseline ?? exp.evaluate.baseline);
  const baseDir = b.baseDir;

  // Everything that can be checked without reading a volume is checked before the data is
  // prepared (a full CT-RATE preprocessing pass takes hours), each at the spec field it concerns.
  const at = specAt(exp, o.sources, o.source);
  ensureOutputDir(o.outDir, at);
  const { tokenizer, text } = checkBeforeData(b, { at, sources: o.sources, train: doTrain });
  // The checkpoint to continue from, checked against this build before any data or device work.
  const resumed = o.resume ? resumeCheckpoint(b, o, doTrain, at) : null;
  if (doTrain && exp.train!.checkpointEvery != null && !resumed) assertCheckpointReplaceable(o.outDir);
  const weightsFile = exp.model.weights ? resolve(baseDir, exp.model.weights) : null;
  const quantize = imageQuantizes(exp.model.image);
  if (weightsFile) {
    checkBaseWeights(evalPlan.model, weightsFile, at, {
      quantize,
      onUnused: (names) => rep.note(`warning: ${exp.model.weights} holds ${names.length} tensor(s) the model does not use, e.g. ${names.slice(0, 3).join(', ')}`, { warning: 'unused tensors', names }),
    });
  }
  const device = o.device ?? await timed('device', () => openDevice(exp.backend, (line) => rep.note(line, { notice: line })));
  rep.note(`${exp.name}: ${device.description}`, { device: device.description, backend: device.backend });
  const kernels = b.kernels(device.target);

  let ds!: DataSet;
  let trainPlanned: ReturnType<typeof planTraining> | null = null;
  await timed('data', async () => {
    ds = await openDataSet(exp.data, exp.prompts, { baseDir, progress: dataProgress(o.progress) });
    relockSyntheticData(b, out);
    // The split sizes are known once the tables are read and the volumes listed, before any is read.
    if (doTrain) {
      trainPlanned = planTraining(ds.train.items.length, exp.train!, at);
      if (resumed && resumed.meta.position.totalSteps !== trainPlanned.totalSteps) {
        throw new DiagnosticError(diag('E5593', `the checkpoint in ${shown(o.outDir)} is for ${resumed.meta.position.totalSteps} training steps, this run has ${trainPlanned.totalSteps} (the train split has ${ds.train.items.length} volumes)`, at(['/data/limit', '/train/epochs'], 'the split size decides the steps'),
          { help: 'resume with the data the run started with (the same data.limit / --limit), or start the run again without --resume' }));
      }
    }
    for (const split of [doTrain ? ds.train : null, doEval ? ds.eval : null]) {
      const first = split?.items[0];
      const w = first ? checkHuSample(ds.root, split!.name, first, exp.data.preprocess, shown) : null;
      if (w) rep.note(renderDiagnostics([w], new Map()), { warning: w.code, message: w.message, help: w.help });
    }
    if (doTrain) await ds.train.prepare({ progress: dataProgress(o.progress) });
    if (doEval) await ds.eval.prepare({ progress: dataProgress(o.progress) });
  });
  rep.note(`data: ${ds.train.items.length} train / ${ds.eval.items.length} eval volumes from ${shown(ds.root)}`,
    { train: ds.train.items.length, eval: ds.eval.items.length, root: ds.root });

  const weights = weightsFile ? loadBaseWeights(evalPlan.model, weightsFile, at, { seed: exp.seed, quantize }) : undefined;
  // After a run that trains the base, evaluation uses the trained base.
  let evalBase = weights;
  const create = o.createExecutor ?? createExecutor;
  const memory: Record<string, MemoryReport> = {};

  // One eval executor for the baseline and the final evaluation (weights reloaded in between).
  let evalExec: RunExecutor | null = null;
  const evaluateWith = async (what: string, lora: Map<string, Float32Array> | null): Promise<EvalRun> => {
    evalExec ??= await create(evalPlan, device, { kernels });
    memory.eval = memoryOf(evalExec);
    await evalExec.loadWeights({ seed: exp.seed, tensors: evalBase });
    for (const [name, data] of lora ?? []) await evalExec.writeTensor(name, data);
    await evalExec.prepare();
    return evaluateItems({
      exec: evalExec, items: ds.eval.items, text, pathologies: exp.prompts.pathologies, evaluate: exp.evaluate, source: o.adapter?.from ?? o.outDir,
      onVolume: (done, total) => rep.count(`evaluating (${what})`, done, total),
    });
  };

  try {
    const baseline = doBaseline ? await timed('baseline', () => evaluateWith('before training', null)) : null;
    if (baseline) rep.note(`before training: ${summaryLine(baseline)}`, { phase: 'baseline', mean: baseline.results.mean });

    let trained: Adapter | null = null;
    let trainedBase: Map<string, Float32Array> | null = null;
    let trainSummary: TrainSummary | null = null;
    if (doTrain) {
      const log = join(out, 'train_log.jsonl');
      // The log of the steps done so far, also kept in every checkpoint.
      let logText = resumed?.trainLog ?? '';
      if (resumed) writeFileAtomic(log, logText);
      const exec = await create(trainPlan!, device, { kernels });
      memory.train = memoryOf(exec);
      try {
        await exec.loadWeights({ seed: exp.seed, tensors: weights });
        for (const [name, data] of resumed?.tensors ?? []) await exec.writeTensor(name, data);
        if (resumed) rep.note(`resuming after step ${resumed.meta.position.step} of ${resumed.meta.position.totalSteps} from ${shown(resumed.path)}`, { phase: 'resume', step: resumed.meta.position.step });
        const maxLength = exp.model.text.maxLength;
        const lock = readLock(b);
        trainSummary = await timed('train', () => trainLoop({
          exec, items: ds.train.items, train: exp.train!, seed: exp.seed, source: at, preprocess: exp.data.preprocess,
          text: exp.train!.loss === 'clip' ? (texts) => reportFeeds(tokenizer, texts, maxLength) : text,
          ...(resumed ? { start: startOf(resumed) } : {}),
          onStep: (r) => {
            rep.step(r);
            const line = JSON.stringify({ step: r.step, epoch: r.epoch, batch: r.batch, loss: r.loss, lr: r.lr, gradNorm: r.gradNorm, dropoutSeed: r.dropoutSeed, elapsed: r.elapsed, volumes: r.volumes }) + '\n';
            logText += line;
            appendFileSync(log, line);
          },
          // Into the run folder itself, not the staging folder: a killed run's staging is abandoned.
          onCheckpoint: async (pos) => {
            const meta: CheckpointMeta = {
              checkpointVersion: 1, experiment: exp.name, position: pos,
              nextLr: pos.step < pos.totalSteps ? trainPlanned!.lrAt(pos.step) : null,
              rng: { seed: exp.seed, shuffle: { stream: 'shuffle', epoch: Math.min(exp.train!.epochs, Math.floor(pos.step / pos.batchesPerEpoch) + 1) }, dropout: { stream: 'dropout', nextStep: pos.step + 1 } },
              ir: comparableIr(exp), lock, dataManifest: dataManifestHash(b),
            };
            const file = await writeCheckpoint(o.outDir, exec, meta, logText);
            rep.note(`checkpoint after step ${pos.step} of ${pos.totalSteps}: ${shown(file)}`, { phase: 'checkpoint', step: pos.step, file: CHECKPOINT_FILE });
          },
        }));
        if (exp.train!.trainBase) {
          trainedBase = await trainedBaseWeights(trainPlan!.model, (n) => exec.readTensor(n), weights, exp.seed);
          evalBase = trainedBase;
        }
        if (exp.lora) trained = await trainedAdapter(exec, trainPlan!.model, settingsFromLoraSpec(exp.lora, exp.model.weights ?? exp.model.architecture));
      } finally {
        exec.destroy();
      }
      rep.note(`trained ${trainSummary.steps} steps in ${trainSummary.seconds.toFixed(1)} s: ${lossSentence(trainSummary)}`,
        { phase: 'trained', ...trainSummary });
    }

    const lora = trained ? adapterTensors(trained) : o.adapter?.tensors ?? null;
    const final = doEval ? await timed('evaluate', () => evaluateWith(lora ? 'with the adapter' : 'base model', lora)) : null;

    // Everything ran: write the results.
    if (trained && exp.outputs.adapter) writeAdapter(join(out, ADAPTER_DIR), trained);
    if (trainedBase) {
      writeModelWeights(out, trainPlan!.model, trainedBase, { format: 'pt', medctc: COMPILER_VERSION, architecture: exp.model.architecture, experiment: exp.name, ...architectureMetadata(quantize) });
      rep.note(`wrote the trained base weights: ${shown(join(o.outDir, MODEL_WEIGHTS_FILE))}`, { phase: 'weights', file: MODEL_WEIGHTS_FILE });
    }
    let metrics: MetricsFile | null = null;
    if (final) {
      metrics = {
        metricsVersion: 1, experiment: exp.name, split: exp.data.evalSplit, volumes: final.volumes.length, metrics: [...exp.evaluate.metrics],
        finalModel: lora ? 'adapted' : 'base', baseline: baseline?.results ?? null, final: final.results,
        change: baseline && exp.evaluate.bootstrap
          ? pairedChange(baseline.scores, final.scores, final.truth, exp.evaluate.threshold, exp.evaluate.bootstrap)
          : null,
        // The build report's count (PEFT's print_trainable_parameters: LoRA included, buffers not).
        parameters: trainSummary ? { trainable: b.report.parameters.trainable, total: b.report.parameters.total, fraction: b.report.parameters.trainableFraction } : null,
      };
      writeFileAtomic(join(out, 'metrics.json'), metricsJson(metrics));
      const notes = [`- model: ${exp.model.architecture}${exp.model.weights ? ` (${exp.model.weights})` : ' (seeded init)'}${trainedBase ? ', base trained in this run' : ''}; ${lora ? (trained ? 'trained adapter' : `adapter ${o.adapter!.from}`) : 'no adapter'}`,
        `- device: ${device.description}; seed ${exp.seed}`, ''];
      writeFileAtomic(join(out, 'metrics.md'), metricsMarkdown(metrics, notes));
      if (exp.outputs.scores) {
        writeScoresCsv(join(out, 'scores.csv'), final.volumes, exp.prompts.pathologies, final.scores, final.truth);
        if (baseline) writeScoresCsv(join(out, 'scores.baseline.csv'), baseline.volumes, exp.prompts.pathologies, baseline.scores, baseline.truth);
      }
    }
    const seconds = (performance.now() - t0) / 1000;
    const run = {
      runVersion: 2,
      medctc: COMPILER_VERSION,
      experiment: exp.name,
      spec: o.source,
      build: { dir: b.dir === out ? '.' : relative(o.outDir, b.dir) || '.', lock: b.lockSha256 },
      started,
      finished: new Date().toISOString(),
      seconds: { total: seconds, ...times },
      backend: device.backend,
      device: device.description,
      // The native backend's C compiler, flags and thread count (results are bit-reproducible for them).
      ...('compiler' in device ? { compiler: { ...(device as { compiler: object }).compiler, threads: (device as { threads?: number }).threads ?? null } } : {}),
      seed: exp.seed,
      overrides: o.overrides ?? {},
      memory,
      data: { root: ds.root, train: doTrain ? ds.train.items.length : null, eval: doEval ? ds.eval.items.length : null, shape: ds.eval.shape },
      train: trainSummary && exp.train ? { ...trainSummary, batchSize: exp.train.batchSize, accumulate: exp.train.accumulate ?? 1, droppedPerEpoch: ds.train.items.length % stepBatch(exp.train), resumedAfter: resumed?.meta.position.step ?? null } : null,
      adapter: trained && exp.outputs.adapter ? ADAPTER_DIR : o.adapter?.from ?? null,
      files: hashFolder(out),
    };
    writeFileAtomic(join(out, 'run.json'), canonicalJson(run));
    o.finish?.(out);
    // An evaluate-only run keeps the adapter it may have read from this folder.
    commitRunFolder(w, { keep: doTrain ? undefined : (rel) => rel.startsWith(`${ADAPTER_DIR}/`) });
    rep.stop();
    return { dir: o.outDir, experiment: exp.name, device: device.description, train: trainSummary, metrics, seconds };
  } finally {
    (evalExec as RunExecutor | null)?.destroy();
  }
}

const readLock = (b: BuiltExperiment): unknown => JSON.parse(readFileSync(join(b.dir, 'medctc.lock'), 'utf8'));

/** sha256 of the data set's manifest.json (as the lock names it), or null when there is none. */
const dataManifestHash = (b: BuiltExperiment): string | null => sha256File(join(resolve(b.baseDir, b.experiment.data.source.root), 'manifest.json'));

/** The checkpoint a resumed run continues from (./checkpoint.ts), or null when 'optional' and
 *  there is none; E5592 / E5593 when it cannot be used for this build. */
function resumeCheckpoint(b: BuiltExperiment, o: RunOptions, doTrain: boolean, at: SpecAt): Checkpoint | null {
  const trainPlan = b.plans.train;
  if (!doTrain || !trainPlan) {
    throw new DiagnosticError(fileDiagnostic('E5592', `--resume continues training, and this run trains nothing${o.adapter ? ' (it evaluates a given adapter)' : ''}`, o.source,
      { help: 'drop --resume, or resume with `medctc train` / `medctc run` on an experiment with a `train` block' }));
  }
  if (o.resume === 'optional' && !existsSync(join(o.outDir, CHECKPOINT_FILE))) return null;
  const c = readCheckpoint(o.outDir, trainPlan);
  const diffs = checkpointDifferences(c.meta, comparableIr(b.experiment), readLock(b), dataManifestHash(b));
  if (diffs.length) {
    // At the first differing value the spec writes (defaults have no position).
    const pointers = diffs.flatMap((d) => (d.pointer === null ? [] : [d.pointer]));
    throw new DiagnosticError(diag('E5593', `the checkpoint in ${shown(o.outDir)} was written for another experiment: ${diffs.map((d) => d.text).join('; ')}`, at(pointers, pointers.length ? 'differs from the checkpoint' : undefined),
      { help: 'resume with the spec, overrides (--set, --limit, --epochs, --backend), weights and data the run started with, or start the run again without --resume' }));
  }
  return c;
}

export function summaryLine(e: EvalRun): string {
  const m = e.results.mean;
  const p = (x: number | null) => (x === null ? '—' : `${(100 * x).toFixed(1)}%`);
  return `mean AUROC ${p(m.auroc)}, accuracy ${p(m.accuracy)}, macro-F1 ${p(m.macroF1)} over ${e.volumes.length} volumes`;
}

