// `medctc export --target pytorch`: the experiment as a self-contained PyTorch program (train.py,
// the asset beside this file) plus everything it reads: experiment.json (every resolved value the
// program needs: sizes, the base tensors with their official names, shapes and initialisers, the
// LoRA adapters with their resolved ranks, alphas, scaling and A init, the trainable set and
// medctc's count, prompts, loss, optimizer, schedule, seed, evaluation), PEFT's
// adapter_config.json, the medctc build with its lock (build/, so both runs trace to one
// configuration), the data bundle (data/: preprocessed volumes, labels and token ids, as medctc
// feeds them) and a README. Same inputs, same bytes: every file is canonical JSON, a
// deterministic safetensors file or a fixed asset.
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeFileAtomic, writeFileAtomicFrom } from '../../base/atomic.js';
import { diag } from '../../base/diagnostics/catalog.js';
import { DiagnosticError } from '../../base/diagnostics/types.js';
import { sha256 } from '../../base/hash.js';
import { COMPILER_VERSION, canonicalJson, writeBuild, type Compiled } from '../../compiler/build.js';
import { spanFor, type Sources } from '../../compiler/passes/provenance.js';
import { buildPeftConfig, configJson, settingsFromLoraSpec } from '../adapter/peft-config.js';
import { dataLock, openDataSet, tokenizerFor, type DataItem, type DataSplit } from '../data/index.js';
import type { ProgressMode } from '../data/progress.js';
import { safetensorsHeader, safetensorsParts, type Tensor } from '../io/safetensors.js';
import { reportFeeds, textFeeds } from '../run/feeds.js';

export const PYTORCH_EXPORT_VERSION = 1;

/** The program, found next to this module when run from source, or in the source tree from dist/. */
export function pytorchProgramPath(): string {
  const here = dirname(fileURLToPath(import.meta.url));
  const candidates = [join(here, 'pytorch', 'train.py'), join(here, '..', '..', '..', 'runtime', 'export', 'pytorch', 'train.py')];
  const found = candidates.find((p) => existsSync(p));
  if (!found) throw new Error(`the PyTorch export program is missing; looked in ${candidates.join(', ')}`);
  return found;
}

export interface PytorchExportOptions {
  /** Folder the experiment's relative paths (weights, data root) are relative to. */
  baseDir: string;
  sources?: Sources;
  progress?: ProgressMode;
}

export interface PytorchExport {
  dir: string;
  files: string[];
  trainable: number;
  volumes: { train: number; eval: number };
}

/** What the exported program cannot do yet: a diagnostic at the spec value, before anything is written. */
function refuse(c: Compiled, sources: Sources | undefined): void {
  const exp = c.experiment;
  if (exp.train?.trainBase) {
    throw new DiagnosticError(diag('E4005', '`train_base true` cannot be exported to PyTorch yet: the program trains and saves LoRA adapters (and modules_to_save) only',
      spanFor(exp, sources, '/train/trainBase'), { help: 'export a LoRA experiment, or train the base with `medctc train`' }));
  }
  if (exp.train?.sentences) {
    throw new DiagnosticError(diag('E4005', '`train.sentences` cannot be exported to PyTorch yet: the program trains on whole reports',
      spanFor(exp, sources, '/train/sentences/rate', '/train/sentences/afterSteps', '/train/sentences/afterEpochs', '/train/loss'), { help: 'remove `sentences` for the export, or train with `medctc train`' }));
  }
  if (exp.train?.augment) {
    throw new DiagnosticError(diag('E4005', '`train.augment` cannot be exported to PyTorch yet: the program trains on the volumes as preprocessed',
      spanFor(exp, sources, '/train/augment/shiftVoxels', '/train/augment/zCoverage'), { help: 'remove `augment` for the export, or train with `medctc train`' }));
  }
}

/** The program's configuration (experiment.json). */
export function exportConfig(c: Compiled, opts: { outDir: string; baseDir: string; lock: string; volumes: { train: number; eval: number } }): Record<string, unknown> {
  const exp = c.experiment, g = c.graph;
  const tensors = g.tensors.filter((t) => (t.role === 'param' || t.role === 'buffer') && !t.lora)
    .map((t) => ({ name: t.name, shape: [...t.shape], role: t.role, init: t.init ?? null }));
  const lora = g.lora && exp.lora ? {
    adapters: g.lora.adapters.map((a) => ({
      module: a.module, rank: a.rank, alpha: a.alpha, scaling: a.scaling, in: a.inFeatures, out: a.outFeatures,
      initA: g.tensors[a.a]!.init, target: a.target,
      // false: a module CT-CLIP's forward never runs (W3008): its adapter gets no gradient (DDP must be told).
      used: g.modules.find((m) => m.path === a.module)?.used ?? true,
      encoder: exp.lora!.targets[a.target]!.encoder,
      // The adapter's dropout stream in the train graph (its own mask, runtime/device/cpu/rng.ts).
      stream: dropoutStream(c.graphs.train ?? g, a.module),
    })),
    dropout: g.lora.dropout, init: exp.lora.init, rslora: exp.lora.rslora, modulesToSave: [...g.lora.modulesToSave],
  } : null;
  const weights = exp.model.weights ? relative(resolve(opts.outDir), resolve(opts.baseDir, exp.model.weights)).split('\\').join('/') : null;
  return {
    exportVersion: PYTORCH_EXPORT_VERSION,
    medctc: COMPILER_VERSION,
    experiment: exp.name,
    seed: exp.seed,
    lock: { file: 'build/medctc.lock', sha256: sha256(opts.lock) },
    model: { architecture: exp.model.architecture, image: exp.model.image, text: exp.model.text, latentDim: exp.model.latentDim, weights },
    tensors,
    lora,
    // Graph names of every trainable tensor, and medctc's count (PEFT's print_trainable_parameters).
    trainable: g.tensors.filter((t) => t.role === 'param' && t.trainable).map((t) => t.name),
    parameters: { trainable: c.report.parameters.trainable, total: c.report.parameters.total },
    prompts: { positive: exp.prompts.positive, negative: exp.prompts.negative, pathologies: exp.prompts.pathologies },
    preprocess: exp.data.preprocess,
    train: exp.train,
    evaluate: exp.evaluate,
    data: { bundle: 'data', train: opts.volumes.train, eval: opts.volumes.eval },
  };
}

function dropoutStream(g: Compiled['graph'], module: string): number | null {
  const op = g.ops.find((o) => o.kind === 'dropout' && o.module === `${module}.lora_A`);
  return op ? (op.attrs as { stream: number }).stream : null;
}

/** One split as data/<name>.safetensors (volumes [N, 1, D, H, W] f32, labels [N, P] u8, with the
 *  clip loss the reports' token ids) and data/<name>.json (volume names in order). The volumes are
 *  streamed into the file one at a time (CT-RATE's are 221 MB each): never all in memory. */
async function writeSplit(file: string, split: DataSplit, reports: ((items: readonly DataItem[]) => { input_ids: Int32Array; attention_mask: Float32Array }) | null): Promise<void> {
  const items = split.items;
  const [d, h, w] = split.shape;
  const p = items[0]?.labels.length ?? 0;
  const labels = new Uint8Array(items.length * p);
  items.forEach((it, i) => labels.set(it.labels, i * p));
  const small = new Map<string, Tensor>([['labels', { dtype: 'U8', shape: [items.length, p], data: labels }]]);
  if (reports && items.length) {
    const r = reports(items);
    const len = r.input_ids.length / items.length;
    small.set('report_input_ids', { dtype: 'I32', shape: [items.length, len], data: r.input_ids });
    small.set('report_attention_mask', { dtype: 'F32', shape: [items.length, len], data: r.attention_mask });
  }
  const volumes = { dtype: 'F32' as const, shape: [items.length, 1, d, h, w] };
  const { head, order } = safetensorsHeader([['volumes', volumes], ...[...small].map(([n, t]): [string, Tensor] => [n, t])], { format: 'medctc-data' });
  async function* parts(): AsyncGenerator<Uint8Array> {
    yield* head;
    for (const name of order) {
      if (name !== 'volumes') {
        const t = small.get(name)!.data;
        yield new Uint8Array(t.buffer, t.byteOffset, t.byteLength);
        continue;
      }
      for (const it of items) {
        const v = await it.load();
        if (v.length !== d * h * w) throw new Error(`internal: ${it.volumeName} has ${v.length} voxels, the split ${d * h * w}`);
        yield new Uint8Array(v.buffer, v.byteOffset, v.byteLength);
      }
    }
  }
  await writeFileAtomicFrom(file, parts(), { sync: false });
  writeFileAtomic(file.replace(/\.safetensors$/, '.json'), canonicalJson({ split: split.name, shape: [1, d, h, w], volumes: items.map((it) => it.volumeName) }), { sync: false });
}

/** Writes the export of one compiled experiment into `outDir`. */
export async function exportPytorch(c: Compiled, outDir: string, opts: PytorchExportOptions): Promise<PytorchExport> {
  refuse(c, opts.sources);
  const exp = c.experiment;
  const progress = opts.progress ?? 'auto';
  const ds = await openDataSet(exp.data, exp.prompts, { baseDir: opts.baseDir, progress });
  await ds.train.prepare({ progress });
  await ds.eval.prepare({ progress });
  const vocab = exp.model.text.vocab === null ? null : resolve(opts.baseDir, exp.model.text.vocab);
  const tok = tokenizerFor({ ...exp.model.text, vocab }, exp.model.architecture);
  const maxLength = exp.model.text.maxLength;
  const prompts = textFeeds(tok, exp.prompts, maxLength);

  const written: string[] = [];
  const put = (rel: string, data: string | Uint8Array | Uint8Array[]): void => {
    writeFileAtomic(join(outDir, rel), data, { sync: false });
    written.push(rel);
  };
  // The medctc build: plans, kernels, report and the lock that names the spec sources, weights and data.
  const lock = await writeBuild(c, join(outDir, 'build'), { baseDir: opts.baseDir, dataLock: (e) => dataLock(e.data, opts.baseDir, { progress }) });
  written.push('build/medctc.lock');
  const reports = exp.train?.loss === 'clip' ? (items: readonly DataItem[]) => reportFeeds(tok, items.map((it) => it.reportText), maxLength) : null;
  for (const [stem, split, rep] of [['train', ds.train, reports], ['eval', ds.eval, null]] as const) {
    await writeSplit(join(outDir, 'data', `${stem}.safetensors`), split, rep);
    written.push(`data/${stem}.safetensors`, `data/${stem}.json`);
  }
  const texts = 2 * exp.prompts.pathologies.length;
  put('data/prompts.safetensors', safetensorsParts([
    ['input_ids', { dtype: 'I32', shape: [texts, maxLength], data: prompts.input_ids }],
    ['attention_mask', { dtype: 'F32', shape: [texts, maxLength], data: prompts.attention_mask }],
  ], { format: 'medctc-data' }));

  const volumes = { train: ds.train.items.length, eval: ds.eval.items.length };
  put('experiment.json', canonicalJson(exportConfig(c, { outDir, baseDir: opts.baseDir, lock, volumes })));
  if (c.graph.lora && exp.lora) {
    const modules = c.graph.lora.adapters.map((a) => ({ path: a.module, rank: a.rank, alpha: a.alpha, inFeatures: a.inFeatures, outFeatures: a.outFeatures, A: new Float32Array(0), B: new Float32Array(0) }));
    put('adapter_config.json', configJson(buildPeftConfig(settingsFromLoraSpec(exp.lora, exp.model.weights ?? exp.model.architecture), modules, c.graph.lora.modulesToSave)));
  }
  put('train.py', readFileSync(pytorchProgramPath()));
  put('README.md', readme(c, volumes));
  return { dir: outDir, files: written.sort(), trainable: c.report.parameters.trainable, volumes };
}

function readme(c: Compiled, volumes: { train: number; eval: number }): string {
  const exp = c.experiment;
  const tr = exp.train;
  const lines = [
    `# ${exp.name}: exported to PyTorch by medctc ${COMPILER_VERSION}`,
    '',
    `\`medctc export --target pytorch\` wrote this folder from the experiment \`${exp.name}\` (${exp.model.architecture},`,
    `${c.report.parameters.trainable.toLocaleString('en-US')} trainable of ${c.report.parameters.total.toLocaleString('en-US')} parameters; data: ${volumes.train} train / ${volumes.eval} eval volumes).`,
    'Needs Python 3 with PyTorch (1.13 or newer) and numpy; `peft` is used when importable, otherwise a',
    'built-in LoRA with the same key names. Nothing is downloaded.',
    '',
    '```sh',
    'python3 train.py                        # train, then evaluate: runs/adapter/, runs/scores.csv, runs/metrics.json',
    'torchrun --nproc_per_node 4 train.py    # DistributedDataParallel: nccl on GPUs, gloo on CPUs',
    'RANK=0 WORLD_SIZE=2 MASTER_ADDR=127.0.0.1 MASTER_PORT=29500 python3 train.py &   # any launcher',
    'RANK=1 WORLD_SIZE=2 MASTER_ADDR=127.0.0.1 MASTER_PORT=29500 python3 train.py',
    'python3 train.py --evaluate-only [--adapter DIR]',
    '```',
    '',
    'Debian 12\'s python3-torch 1.13 cannot run `torchrun` / `python3 -m torch.distributed.run` on',
    'Python 3.11 (its bundled launcher fails on start-up); set RANK, WORLD_SIZE, MASTER_ADDR and',
    'MASTER_PORT yourself and start one process per rank, as above. Newer PyTorch has no such problem.',
    '',
    '## Files',
    '',
    '- `train.py`: the program (the model with CT-CLIP\'s official module paths, LoRA, losses, schedule, metrics).',
    '- `experiment.json`: every resolved value it reads; `adapter_config.json`: PEFT\'s LoRA config for the adapters it saves.',
    '- `build/`: the medctc build of the same experiment; `build/medctc.lock` hashes the spec sources, the base',
    '  weights\' header, the data manifest and the plans (`medctc verify build`); `experiment.json` records its sha256.',
    '- `data/`: the inputs exactly as medctc feeds them: `train.safetensors` / `eval.safetensors` (`volumes`',
    '  [N, 1, D, H, W] float32, preprocessed; `labels` [N, P] uint8; with the clip loss the reports\' token ids),',
    '  `train.json` / `eval.json` (volume names in order), `prompts.safetensors` (`input_ids`, `attention_mask`',
    '  of the prompts, (present, absent) per pathology).',
    '',
    '## What matches medctc, and what does not',
    '',
    '- The forward (eval) matches medctc\'s to float rounding (tested: 1e-4) with the same weights.',
    '- Same seed: the per-epoch data order, the initial LoRA A (B starts at 0) and the LoRA dropout masks are',
    '  medctc\'s (its RNG and counter-based mask, ported), so training follows medctc\'s to float rounding.',
    '- Loss, AdamW, learning-rate schedule (stepped by hand, 0-based as medctc), grad clip and drop-last',
    '  batching are medctc\'s. Under DDP each rank takes an equal share of every global batch (the batch',
    '  must divide by WORLD_SIZE) with the dropout masks of its rows, so the averaged gradient is the',
    '  single-process one. The clip loss (all volumes against all reports) runs in one process only.',
    '- Base dropouts (CXR-BERT\'s 0.25) are left out, as in medctc: the base is frozen.',
    '- Metrics: AUROC, the threshold rule (CT-CLIP\'s roc_corner, youden or fixed), accuracy, precision,',
    '  recall, specificity, F1, weighted F1; no bootstrap here: `medctc metrics --scores runs/scores.csv`',
    '  computes the intervals from the scores this program writes.',
    '- The adapter it saves (`runs/adapter/`) loads back into medctc: `medctc evaluate SPEC --adapter runs/adapter`.',
    '',
  ];
  if (tr) lines.splice(lines.length - 1, 0, `- Training: ${tr.loss}, AdamW lr ${tr.optimizer.lr}, ${tr.schedule.kind} schedule, ${tr.epochs} epochs of batch ${tr.batchSize}${tr.gradClip !== null ? `, grad clip ${tr.gradClip}` : ''}.`);
  if (tr && tr.precision !== 'fp32') {
    lines.splice(lines.length - 1, 0, `- Precision ${tr.precision}: the forward runs under \`torch.autocast\` (${tr.precision === 'fp16' ? 'with a GradScaler, on CUDA only' : 'CPU or CUDA'}); `
      + 'weights, gradients and AdamW state stay fp32, LayerNorm computes in fp32. medctc stores frozen weights and activations in 16 bits with fp32 arithmetic: '
      + 'the two round at different points and agree to 16-bit tolerance (tested: text latents within 2e-2 at bf16), not to 1e-4.');
  }
  return lines.join('\n');
}
