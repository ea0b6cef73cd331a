// Base weights of a run: read from the spec's weights file — safetensors or a PyTorch checkpoint
// (`torch.save`, read without running any pickle code: runtime/io/state-dict.ts) — by state-dict
// name, strictly: a real checkpoint that silently falls back to seeded values for a misnamed tensor
// would produce a plausible-looking but meaningless evaluation. The one exception is the VQ's
// EMA-only buffers, which the forward never reads and whose presence depends on the
// vector-quantize-pytorch version that wrote the file. When the base itself trains, it is written
// back as a full state dict that a later experiment can name in `model ... { weights "..." }`.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { PlanModel, PlanWeight } from '../../compiler/plan/types.js';
import { DiagnosticError } from '../../base/diagnostics/types.js';
import { diag } from '../../base/diagnostics/catalog.js';
import { didYouMean } from '../../compiler/check/suggest.js';
import { fromFloat32, writeSafetensors } from '../io/safetensors.js';
import { withStateDict, type StateDictFile } from '../io/state-dict.js';
import { toSpecAt, type SpecAt } from './spec-at.js';
import { EMA_ONLY_BUFFERS } from '../../compiler/models/match.js';
import { initWeights } from '../exec/init.js';
import { describeNonFinite, nonFinite } from '../util/finite.js';

export const MODEL_WEIGHTS_FILE = 'model.safetensors';

const numel = (shape: readonly number[]): number => shape.reduce((a, b) => a * b, 1);
const baseTensors = (model: PlanModel): PlanWeight[] => model.weights.filter((t) => !t.lora);

/** What a medctc-written state dict records of the architecture beyond its tensors' names and
 *  shapes: whether CTViT's quantiser ran. A base pretrained with `image { quantize false }` keeps
 *  the (untrained) codebook buffers, so a spec that forgets the setting would load cleanly and
 *  quantise every token through a random codebook. Files without the key (CT-CLIP's releases,
 *  PyTorch checkpoints) are not checked. */
export const QUANTIZE_METADATA_KEY = 'medctc.image.quantize';

export function architectureMetadata(quantize: boolean): Record<string, string> {
  return { [QUANTIZE_METADATA_KEY]: String(quantize) };
}

/** A key prefix that, stripped from the file's names, makes them the model's (DDP's `module.`, a
 *  Lightning `model.`...), to say so in the error instead of leaving the user to guess. */
function strippablePrefix(fileNames: readonly string[], wanted: ReadonlySet<string>): string | null {
  for (const f of fileNames) {
    const dot = f.indexOf('.');
    if (dot <= 0) continue;
    const prefix = f.slice(0, dot + 1);
    const hits = fileNames.filter((n) => n.startsWith(prefix) && wanted.has(n.slice(prefix.length))).length;
    if (hits >= Math.min(wanted.size, 3)) return prefix;
  }
  return null;
}

/** The base tensors the file must hold, after the checks that need only its header (names and
 *  shapes): a tensor the model needs but the file lacks, a shape that differs, or a recorded
 *  quantiser setting that differs from the spec's is E5566 at the spec's `weights` field (or its
 *  `quantize`). `run` calls this before any volume is preprocessed. */
function checkHeader(f: StateDictFile, all: readonly PlanWeight[], file: string, at: SpecAt, opts: HeaderOptions): { need: PlanWeight[]; absentEma: Set<string> } {
  const { onUnused, quantize } = opts;
  const recorded = f.metadata?.[QUANTIZE_METADATA_KEY];
  if (quantize !== undefined && (recorded === 'true' || recorded === 'false') && recorded !== String(quantize)) {
    throw new DiagnosticError(diag('E5566',
      `${file} was trained ${recorded === 'false' ? 'without' : 'with'} CTViT's vector quantiser (its metadata: ${QUANTIZE_METADATA_KEY} = ${recorded}); the spec ${quantize ? 'quantises (quantize true, the default)' : 'does not (quantize false)'}`,
      at(['/model/image/quantize', '/model/weights'], 'the model as the spec builds it'),
      { help: `build the model as it was trained: model ... { image { quantize ${recorded} } }` }));
  }
  const names = f.names();
  // EMA-only buffers the file lacks take their initial values (the forward never reads them).
  const absentEma = new Set(all.filter((t) => EMA_ONLY_BUFFERS.includes(t.name) && !f.has(t.name)).map((t) => t.name));
  const need = all.filter((t) => !absentEma.has(t.name));
  const known = new Set(all.map((t) => t.name));
  const unused = names.filter((n) => !known.has(n));
  if (unused.length) onUnused?.(unused);
  const span = at(['/model/weights'], 'the base weights');
  const missing = need.filter((t) => !f.has(t.name)).map((t) => t.name);
  if (missing.length > 0) {
    const prefix = strippablePrefix(names, new Set(missing));
    const near = didYouMean(missing[0]!, names);
    throw new DiagnosticError(diag('E5566',
      `${file} lacks ${missing.length} of the ${need.length} base tensors the model needs, e.g. ${missing.slice(0, 3).map((n) => `"${n}"`).join(', ')}`, span,
      { help: prefix ? `the file's names carry the prefix "${prefix}": save the state dict without it (e.g. {k.removeprefix("${prefix}"): v for k, v in sd.items()})`
        : near ? `did you mean "${near}"? (the file's nearest name to "${missing[0]}"); is this a checkpoint of this architecture?`
        : 'the file has no similar names: is this a checkpoint of this architecture?' }));
  }
  for (const t of need) {
    const info = f.info(t.name);
    if (info.shape.length !== t.shape.length || info.shape.some((d, i) => d !== t.shape[i])) {
      throw new DiagnosticError(diag('E5566',
        `tensor "${t.name}" in ${file} has shape [${info.shape.join(', ')}], the model expects [${t.shape.join(', ')}]`, span,
        { help: 'the model sizes in the spec (or the preset) differ from the checkpoint\'s: set them to the checkpoint\'s values' }));
    }
  }
  return { need, absentEma };
}

interface HeaderOptions {
  onUnused?: (names: string[]) => void;
  /** The spec's `model.image.quantize`, checked against the file's record of it when it has one. */
  quantize?: boolean;
}

/** A weights file that cannot be opened at all is reported at the spec's `weights` field too. */
function openAt<T>(file: string, at: SpecAt, fn: (f: StateDictFile) => T): T {
  if (!existsSync(file)) {
    throw new DiagnosticError(diag('E5501', `the base weights ${file} do not exist`, at(['/model/weights'], 'named here'),
      { help: 'the path is relative to the spec file\'s folder' }));
  }
  return withStateDict(file, fn);
}

/** The header checks of `loadBaseWeights` alone (names, shapes), without reading any tensor. */
export function checkBaseWeights(model: PlanModel, file: string, source: string | SpecAt, opts: HeaderOptions = {}): void {
  openAt(file, toSpecAt(source), (f) => { checkHeader(f, baseTensors(model), file, toSpecAt(source), opts); });
}

/**
 * Every base parameter and buffer of the model (the plan's `model.weights`) from the safetensors `file` (any float dtype, read as
 * f32). A tensor the model needs but the file lacks, a shape that differs, or a non-finite value is
 * an error naming the tensor; tensors the model does not use (e.g. BERT's `position_ids`) are ignored.
 */
export function loadBaseWeights(model: PlanModel, file: string, source: string | SpecAt, opts: HeaderOptions & { seed?: number } = {}): Map<string, Float32Array> {
  const all = baseTensors(model);
  const at = toSpecAt(source);
  return openAt(file, at, (f) => {
    const { need, absentEma } = checkHeader(f, all, file, at, opts);
    const out = new Map<string, Float32Array>();
    for (const t of need) {
      const v = f.readF32(t.name);
      const bad = nonFinite(v);
      if (bad) {
        throw new DiagnosticError(diag('E5567',
          `tensor "${t.name}" in ${file} holds ${describeNonFinite(bad, v.length)}`, at(['/model/weights'], 'the base weights'),
          { help: 'the checkpoint is corrupt or was saved after training diverged' }));
      }
      out.set(t.name, v);
    }
    const init = initWeights(all.filter((t) => absentEma.has(t.name)), opts.seed ?? 0);
    for (const [n, v] of init) out.set(n, v);
    return out;
  });
}

/** The full base state dict after the base trained: what the train executor holds, and for tensors
 *  the train plan never allocated (unused heads, VQ statistics) the values it started from. */
export async function trainedBaseWeights(model: PlanModel, read: (name: string) => Promise<Float32Array>,
  start: ReadonlyMap<string, Float32Array> | undefined, seed: number): Promise<Map<string, Float32Array>> {
  const init = start ? null : initWeights(model.weights, seed);
  const out = new Map<string, Float32Array>();
  for (const t of baseTensors(model)) {
    const v = t.buffer !== null ? await read(t.name) : (start?.get(t.name) ?? init?.get(t.name));
    if (!v || v.length !== numel(t.shape)) throw new Error(`internal: no value of size ${numel(t.shape)} for base tensor ${t.name}`);
    out.set(t.name, v);
  }
  return out;
}

/** Writes the state dict as `model.safetensors` (f32, sorted names, atomic). */
export function writeModelWeights(dir: string, model: PlanModel, weights: ReadonlyMap<string, Float32Array>, metadata: Record<string, string>): string {
  const shapes = new Map(model.weights.map((t) => [t.name, [...t.shape]]));
  const entries = [...weights.keys()].sort().map((n) => [n, fromFloat32(weights.get(n)!, shapes.get(n)!)] as [string, ReturnType<typeof fromFloat32>]);
  const path = join(dir, MODEL_WEIGHTS_FILE);
  writeSafetensors(path, entries, metadata);
  return path;
}
