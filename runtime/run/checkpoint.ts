// The training checkpoint: one file, `<run folder>/checkpoint.safetensors`, replaced atomically
// (base/atomic.ts: temp file + fsync + rename) every `train.checkpoint_every` steps and after the
// last step, so a kill at any moment leaves either the previous checkpoint or the new one. It lives
// in the run folder itself, not among the results a run writes only when it succeeds, because it
// must outlive a run that did not: `medctc train|run FILE --resume DIR` reads it from DIR.
//
// What it holds (everything the rest of the run depends on; the train log and run.json are not
// enough):
//   weight/<name>     every weight buffer a train kernel writes: the trainable parameters (LoRA
//                     matrices, modules_to_save, or the whole base with train_base), f32
//   optimizer/<name>  every optimizer buffer of the train plan (AdamW's first and second moments), f32
//   train_log         the train_log.jsonl lines of the steps done, as bytes (U8)
//   __metadata__      medctc.checkpoint: JSON with the position (steps done, epoch, batch within
//                     it, batches per epoch), the schedule position (next step's lr), the RNG
//                     streams, the first and last loss, the seconds trained, and what it must
//                     match to be resumed: the experiment IR and the build's lock.
// The RNG streams are counter-based (runtime/run/train.ts): the shuffle of epoch e is
// Rng(seed, 'shuffle', e), the dropout seed of step s is Rng(seed, 'dropout', s); the position
// is their whole state, recorded here so a reader sees it. Gradients are not saved: every step
// starts them at zero.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic } from '../../base/atomic.js';
import { DiagnosticError, fileDiagnostic } from '../../base/diagnostics/types.js';
import { canonicalJson } from '../../compiler/build.js';
import type { ResolvedExperiment } from '../../compiler/ir/experiment.js';
import type { Plan } from '../../compiler/plan/types.js';
import { safetensorsParts, withSafetensors, type Tensor } from '../io/index.js';
import type { RunExecutor } from './executor.js';
import type { TrainPosition, TrainStart } from './train.js';

export const CHECKPOINT_FILE = 'checkpoint.safetensors';
const META_KEY = 'medctc.checkpoint';

export interface CheckpointMeta {
  checkpointVersion: 1;
  experiment: string;
  position: TrainPosition;
  /** The learning rate of the next step (the schedule is a function of the step). */
  nextLr: number | null;
  rng: { seed: number; shuffle: { stream: 'shuffle'; epoch: number }; dropout: { stream: 'dropout'; nextStep: number } };
  /** What a resume must match: the resolved experiment (provenance left out) and the build's lock. */
  ir: unknown;
  lock: unknown;
  /** sha256 of the data root's manifest.json when the checkpoint was written (the lock's may be
   *  null: a synthetic set is generated after the build). */
  dataManifest: string | null;
}

/** Buffers of the train plan a checkpoint carries, by tensor name in the file. */
export function checkpointBuffers(plan: Plan): { key: string; name: string; shape: number[] }[] {
  const written = new Set(plan.kernels.flatMap((k) => k.outputs));
  const out: { key: string; name: string; shape: number[] }[] = [];
  for (const b of plan.buffers) {
    if (b.kind === 'weight' && written.has(b.id)) out.push({ key: `weight/${b.name}`, name: b.name, shape: b.shape });
    else if (b.kind === 'optimizer') out.push({ key: `optimizer/${b.name}`, name: b.name, shape: b.shape });
  }
  return out;
}

/** The experiment as a resume compares it: provenance (file:line:col of each value) and the
 *  source list change with layout and comments, which change nothing that runs. */
export function comparableIr(exp: ResolvedExperiment): unknown {
  const { provenance: _p, sources: _s, ...rest } = exp;
  return JSON.parse(canonicalJson(rest));
}

/** Before a run that checkpoints: a CHECKPOINT_FILE in `dir` that is not a medctc training
 *  checkpoint is the user's, and medctc never replaces it (E5590, as for other foreign files). */
export function assertCheckpointReplaceable(dir: string): void {
  const path = join(dir, CHECKPOINT_FILE);
  if (!existsSync(path)) return;
  let ours = false;
  try { ours = withSafetensors(path, (f) => f.metadata?.[META_KEY] !== undefined); } catch { ours = false; }
  if (!ours) {
    throw new DiagnosticError(fileDiagnostic('E5590', `${dir} holds a file medctc did not write and would overwrite: ${CHECKPOINT_FILE} (not a medctc training checkpoint)`, path,
      { help: 'choose another run folder (--out, outputs.dir) or move the file away; `checkpoint_every` writes the training checkpoint under that name' }));
  }
}

/** Writes the checkpoint after `pos.step` steps (atomic replace of CHECKPOINT_FILE). */
export async function writeCheckpoint(dir: string, exec: RunExecutor, meta: CheckpointMeta, trainLog: string): Promise<string> {
  const tensors: [string, Tensor][] = [];
  for (const b of checkpointBuffers(exec.plan)) tensors.push([b.key, { dtype: 'F32', shape: [...b.shape], data: await exec.readTensor(b.name) }]);
  const log = Buffer.from(trainLog, 'utf8');
  tensors.push(['train_log', { dtype: 'U8', shape: [log.length], data: new Uint8Array(log.buffer, log.byteOffset, log.length) }]);
  const path = join(dir, CHECKPOINT_FILE);
  writeFileAtomic(path, safetensorsParts(tensors, { [META_KEY]: JSON.stringify(meta) }));
  return path;
}

export interface Checkpoint {
  path: string;
  meta: CheckpointMeta;
  tensors: Map<string, Float32Array>;
  trainLog: string;
}

const bad = (path: string, what: string, help = 'resume from the run folder the checkpoint was written in, or start the run again without --resume'): never => {
  throw new DiagnosticError(fileDiagnostic('E5592', `${path}: ${what}`, path, { help }));
};

/** Reads DIR's checkpoint against the train plan it is to be loaded into; E5592 when there is none
 *  or it cannot be read (E55xx safetensors diagnostics pass through). */
export function readCheckpoint(dir: string, plan: Plan): Checkpoint {
  const path = join(dir, CHECKPOINT_FILE);
  if (!existsSync(path)) {
    bad(path, 'there is no checkpoint to resume from', 'checkpoints are written only with `train { checkpoint_every N }`; without one, start the run again without --resume');
  }
  return withSafetensors(path, (f) => {
    let meta: CheckpointMeta;
    try {
      meta = JSON.parse(f.metadata?.[META_KEY] ?? 'null') as CheckpointMeta;
    } catch {
      return bad(path, `its ${META_KEY} metadata is not JSON`);
    }
    if (!meta || meta.checkpointVersion !== 1) bad(path, `not a medctc training checkpoint this version reads (no ${META_KEY} metadata of version 1)`);
    const tensors = new Map<string, Float32Array>();
    const want = checkpointBuffers(plan);
    for (const b of want) {
      if (!f.has(b.key)) bad(path, `holds no tensor ${b.key}, which the train plan needs`);
      const info = f.info(b.key);
      if (info.shape.length !== b.shape.length || info.shape.some((d, i) => d !== b.shape[i])) bad(path, `tensor ${b.key} is [${info.shape.join(', ')}], the train plan's is [${b.shape.join(', ')}]`);
      tensors.set(b.name, f.readF32(b.key));
    }
    const extra = f.names().filter((n) => n !== 'train_log' && !want.some((b) => b.key === n));
    if (extra.length) bad(path, `holds tensors the train plan does not have: ${extra.slice(0, 3).join(', ')}`);
    const log = f.has('train_log') ? Buffer.from(f.read('train_log').data as Uint8Array).toString('utf8') : bad(path, 'holds no train_log');
    return { path, meta, tensors, trainLog: log };
  });
}

/** A difference between a checkpoint and the run now: a JSON Pointer into the IR (null for the
 *  lock and data), and the difference in words. */
export interface CheckpointDifference { pointer: string | null; text: string }

/** What differs between a checkpoint's experiment and lock and the ones now, with both values. */
export function checkpointDifferences(meta: CheckpointMeta, ir: unknown, lock: unknown, dataManifest: string | null): CheckpointDifference[] {
  const out: CheckpointDifference[] = [];
  const show = (v: unknown): string => (v === undefined ? '(absent)' : JSON.stringify(v));
  const walk = (a: unknown, b: unknown, path: string[], inIr: boolean): void => {
    if (out.length >= 8) return;
    const isObj = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);
    if (isObj(a) && isObj(b)) {
      for (const k of [...new Set([...Object.keys(a), ...Object.keys(b)])].sort()) walk(a[k], b[k], [...path, k], inIr);
      return;
    }
    if (JSON.stringify(a) !== JSON.stringify(b)) out.push({ pointer: inIr ? `/${path.join('/')}` : null, text: `${path.join('.')}: ${show(a)} in the checkpoint, ${show(b)} now` });
  };
  walk(meta.ir, ir, [], true);
  if (out.length === 0) walk(lockForResume(meta.lock), lockForResume(lock), ['medctc.lock'], false);
  if (out.length === 0 && meta.dataManifest !== dataManifest) out.push({ pointer: null, text: `data manifest.json: sha256 ${show(meta.dataManifest)} in the checkpoint, ${show(dataManifest)} now` });
  return out;
}

/** The parts of a lock that decide what a resumed run computes: the compiler, the weights it
 *  reads, the plans and kernels. The spec files' hashes and the report are left out (the IR
 *  comparison covers what the spec says; layout and comments change nothing that runs), and so is
 *  the data manifest, compared as the run saw it (CheckpointMeta.dataManifest). */
function lockForResume(lock: unknown): unknown {
  const l = (lock ?? {}) as { compiler?: unknown; weights?: unknown; plans?: unknown; outputs?: Record<string, string> };
  const kernels = Object.fromEntries(Object.entries(l.outputs ?? {}).filter(([k]) => k.startsWith('kernels/')));
  return { compiler: l.compiler, weights: l.weights, plans: l.plans, kernels };
}

/** The loop's start from a checkpoint. */
export function startOf(c: Checkpoint): TrainStart {
  const p = c.meta.position, e = p.epochLoss;
  // JSON writes an epoch mean not yet taken (NaN) as null.
  const num = (v: unknown): number => (typeof v === 'number' ? v : NaN);
  return { step: p.step, firstLoss: p.firstLoss, lastLoss: p.lastLoss, elapsed: p.elapsed,
    ...(e ? { epochLoss: { first: num(e.first), last: num(e.last), sum: e.sum, count: e.count } } : {}) };
}
