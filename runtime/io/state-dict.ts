// One way to open a weights file whatever wrote it: safetensors, or a PyTorch checkpoint (zip or
// legacy `torch.save`). The format is told by the file's first bytes, never by its extension:
// CT-CLIP's releases are `.pt`, Hugging Face's `.bin` files are torch pickles too, and a renamed
// file must not be misread. Every reader has the SafetensorsFile reading surface, so code written
// against safetensors (names / has / info / read / readF32 / close) takes any of them.
import { closeSync, readSync } from 'node:fs';
import { DiagnosticError, fileDiagnostic } from '../../base/diagnostics/types.js';
import { SafetensorsFile, type Dtype, type Tensor } from './safetensors.js';
import { TorchCheckpoint, type TorchOpenOptions } from './pt.js';
import { fileErrorText, openRegularFile } from '../../base/files.js';

export type WeightsFormat = 'safetensors' | 'torch-zip' | 'torch-legacy';

export interface StateDictFile {
  readonly path: string;
  readonly format: WeightsFormat;
  /** How the tensors were found, when that is worth telling (a training-checkpoint wrapper, a prefix). */
  readonly notes: readonly string[];
  /** The safetensors `__metadata__` strings (empty for a PyTorch checkpoint). */
  readonly metadata?: Readonly<Record<string, string>>;
  /** In file order. */
  names(): string[];
  has(name: string): boolean;
  info(name: string): { dtype: Dtype; shape: number[] };
  /** Row-major elements in the stored dtype. */
  read(name: string): Tensor;
  /** Floating-point tensors as float32; an integer tensor is E5513. */
  readF32(name: string): Float32Array;
  close(): void;
}

export type StateDictOptions = TorchOpenOptions;

const FLOAT_DTYPES: ReadonlySet<Dtype> = new Set(['F64', 'F32', 'F16', 'BF16']);

/** The format by magic bytes: a zip local header, a pickle PROTO opcode, else safetensors (whose
 *  own reader then says precisely what is wrong with a file that is none of them). */
export function detectWeightsFormat(path: string): WeightsFormat {
  let fd: number;
  try {
    fd = openRegularFile(path);
  } catch (e) {
    throw new DiagnosticError(fileDiagnostic('E5501', `${path}: it ${fileErrorText(e)}`, path));
  }
  const head = new Uint8Array(9);
  let n: number;
  try { n = readSync(fd, head, 0, 9, 0); } finally { closeSync(fd); }
  if (n >= 4 && head[0] === 0x50 && head[1] === 0x4b && head[2] === 0x03 && head[3] === 0x04) return 'torch-zip';
  // A pickle starts with PROTO 2-5 (torch.save writes 2), but so can a safetensors header length
  // (0x0280 is 640 bytes); safetensors always has its JSON's "{" at byte 8, the magic-number
  // pickle never does.
  if (n >= 2 && head[0] === 0x80 && head[1]! >= 2 && head[1]! <= 5 && !(n === 9 && head[8] === 0x7b)) return 'torch-legacy';
  // At protocol 0-1 (torch.save(..., pickle_protocol=1)) the magic number is a text LONG opcode.
  if (n === 9 && new TextDecoder('latin1').decode(head) === 'L11954703') return 'torch-legacy';
  return 'safetensors';
}

class SafetensorsStateDict implements StateDictFile {
  readonly format = 'safetensors' as const;
  readonly notes: readonly string[];
  private readonly rename: Map<string, string>;
  private readonly order: string[];
  constructor(private readonly f: SafetensorsFile, stripPrefix: string | undefined) {
    this.rename = new Map(f.names().map((n) => [stripPrefix && n.startsWith(stripPrefix) ? n.slice(stripPrefix.length) : n, n]));
    if (this.rename.size !== f.names().length) {
      throw new DiagnosticError(fileDiagnostic('E5507', `${f.path}: two tensors have the same name after removing the prefix "${stripPrefix}"`, f.path));
    }
    this.order = [...this.rename.keys()];
    this.notes = !stripPrefix && this.order.length > 0 && this.order.every((n) => n.startsWith('module.'))
      ? ['every name starts with "module." (saved from DataParallel / DistributedDataParallel): convert with --strip-prefix module.'] : [];
  }
  get path(): string { return this.f.path; }
  get metadata(): Readonly<Record<string, string>> { return this.f.metadata ?? {}; }
  names(): string[] { return [...this.order]; }
  has(name: string): boolean { return this.rename.has(name); }
  private real(name: string): string { return this.rename.get(name) ?? name; }
  info(name: string): { dtype: Dtype; shape: number[] } { const i = this.f.info(this.real(name)); return { dtype: i.dtype, shape: [...i.shape] }; }
  read(name: string): Tensor { return this.f.read(this.real(name)); }
  readF32(name: string): Float32Array { return this.f.readF32(this.real(name)); }
  close(): void { this.f.close(); }
}

/** Opens `path` for lazy reads in whichever format it is. `key` applies to PyTorch checkpoints only. */
export function openStateDict(path: string, opts: StateDictOptions = {}): StateDictFile {
  const format = detectWeightsFormat(path);
  if (format === 'safetensors') return new SafetensorsStateDict(SafetensorsFile.open(path), opts.stripPrefix);
  return TorchCheckpoint.open(path, opts);
}

export function withStateDict<T>(path: string, fn: (f: StateDictFile) => T, opts: StateDictOptions = {}): T {
  const f = openStateDict(path, opts);
  try { return fn(f); } finally { f.close(); }
}

/** Every floating-point tensor of a file as float32, by name; integer and bool tensors (BERT's
 *  `position_ids`, an optimizer's step) are left out, as no model weight is one. For big
 *  checkpoints prefer `withStateDict` and read only what is needed. */
export function readStateDict(path: string, opts: StateDictOptions = {}): Map<string, { dtype: Dtype; shape: number[]; data: Float32Array }> {
  return withStateDict(path, (f) => new Map(f.names().filter((n) => FLOAT_DTYPES.has(f.info(n).dtype)).map((n) => {
    const { dtype, shape } = f.info(n);
    return [n, { dtype, shape, data: f.readF32(n) }];
  })), opts);
}
