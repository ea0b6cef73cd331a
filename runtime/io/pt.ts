// PyTorch checkpoints (`torch.save`) read without Python and without running anything: the zip
// format of PyTorch >= 1.6 (`<archive>/data.pkl` + one `<archive>/data/<key>` entry of raw
// little-endian bytes per storage) and the legacy format before it (pickles back to back: magic
// number, protocol version, sys info, the object, the storage keys; then each storage as an
// int64 element count and its bytes). The object pickle goes through the restricted unpickler
// (./torch-pickle.ts) with an allow-list of what a tensor state dict needs; tensors come out of it
// as references (storage, offset, shape, stride) and their bytes are read only when asked for,
// by file offset, straight into the array that is returned: a 1.7 GB checkpoint costs its
// tensors' memory once, never a second copy of the file.
import { closeSync, fstatSync } from 'node:fs';
import { endianness } from 'node:os';
import { DiagnosticError, fileDiagnostic } from '../../base/diagnostics/types.js';
import type { RuntimeCode } from '../../base/diagnostics/codes/runtime.js';
import { DTYPE_SIZE, tensorData, toFloat32, type Dtype, type Tensor } from './safetensors.js';
import { PyDict, PyTuple, unpickle, type PyGlobal } from './torch-pickle.js';
import { readAt, readZipDirectory, readZipEntry, type ZipEntry } from './zip.js';
import { fileErrorText, openRegularFile } from '../../base/files.js';

if (endianness() !== 'LE') throw new Error('medctc PyTorch checkpoint I/O assumes a little-endian host');

export type TorchFormat = 'torch-zip' | 'torch-legacy';

export interface TorchOpenOptions {
  /** Path of the state dict inside a wrapping dict, keys joined by '/' (e.g. `state_dict`, `model/ema`). */
  key?: string;
  /** Removed from the front of every name that carries it (e.g. DataParallel's `module.`). */
  stripPrefix?: string;
}

/** A storage as a persistent id names it. Legacy views point into a root storage at an element offset. */
class StorageRef {
  constructor(readonly key: string, readonly dtype: Dtype, readonly numel: number, readonly rootOffset = 0) {}
}

/** What `_rebuild_tensor_v2` would build, without the bytes. */
class TensorRef {
  constructor(readonly storage: StorageRef, readonly offset: number, readonly shape: number[], readonly stride: number[]) {}
}

/** torch.<Name>Storage -> element type (UntypedStorage holds bytes). */
const STORAGE_DTYPES: Readonly<Record<string, Dtype>> = {
  FloatStorage: 'F32', HalfStorage: 'F16', BFloat16Storage: 'BF16', DoubleStorage: 'F64',
  LongStorage: 'I64', IntStorage: 'I32', ShortStorage: 'I16', CharStorage: 'I8', ByteStorage: 'U8', BoolStorage: 'BOOL',
  UntypedStorage: 'U8',
};

/** The wrapper keys training code commonly uses, most specific first. */
const WRAPPER_KEYS = ['state_dict', 'model_state_dict', 'model', 'module', 'net', 'network', 'weights', 'params'];

const LEGACY_MAGIC = 0x1950a86a20f9469cfc6cn;
const LEGACY_PROTOCOL = 1001;

const numel = (shape: readonly number[]): number => shape.reduce((a, b) => a * b, 1);

/** `where` is how the message names the place when it says more than the path (`f.pt (archive/data.pkl)`). */
function fail(code: RuntimeCode, file: string, message: string, help?: string, where = file): never {
  throw new DiagnosticError(fileDiagnostic(code, `${where}: ${message}`, file, help ? { help } : {}));
}

const isCount = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;

function countTuple(v: unknown, file: string, what: string): number[] {
  if (!(v instanceof PyTuple) || !v.items.every(isCount)) fail('E5581', file, `${what} is not a tuple of non-negative integers`);
  return [...(v.items as number[])];
}

/** Why a global was refused, in the words a user can act on. */
function refusalHelp(qualname: string): string {
  const module = qualname.slice(0, qualname.lastIndexOf('.'));
  if (/^(os|posix|nt|subprocess|sys|builtins|__builtin__|shutil|socket|importlib|runpy|pty|webbrowser|code|pickle|marshal|ctypes)(\.|$)/.test(module)) {
    return 'a checkpoint has no reason to name it: the file may be malicious; do not open it with torch.load (weights_only=False) either';
  }
  if (qualname.startsWith('__torch__')) return 'this is a TorchScript archive (torch.jit.save); in Python: torch.save(torch.jit.load(path).state_dict(), "state_dict.pt")';
  if (module.startsWith('torch.nn.')) return `the file pickles a whole module (torch.save(model)) rather than its state dict; in Python: torch.save(model.state_dict(), path)`;
  if (module.startsWith('torch')) return 'only dense tensors, parameters, storages and OrderedDict are read (quantized, sparse and other torch objects are not); in Python: torch.save({k: v.dense() ...}) or save the plain state dict';
  return `the file pickles a Python object of \`${qualname}\` (e.g. torch.save(model), or training state beside the weights); save only the tensors: torch.save(model.state_dict(), path)`;
}

/** Allowed globals (the weights_only idea): each maps its unpickled arguments to our own value. */
function allowList(file: string, where = file): Map<string, PyGlobal> {
  const bad: (message: string) => never = (message) => fail('E5581', file, message, undefined, where);
  const g = new Map<string, PyGlobal>();
  const add = (qualname: string, call?: (args: readonly unknown[]) => unknown): void => { g.set(qualname, call ? { qualname, call } : { qualname }); };
  const tensor = (args: readonly unknown[], fn: string): TensorRef => {
    const [storage, offset, size, stride] = args;
    if (!(storage instanceof StorageRef)) bad(`${fn} got something that is not a storage`);
    if (!isCount(offset)) bad(`${fn} got storage offset ${String(offset)}`);
    const shape = countTuple(size, file, `${fn} size`);
    const strides = countTuple(stride, file, `${fn} stride`);
    if (strides.length !== shape.length) bad(`${fn} got ${shape.length} sizes but ${strides.length} strides`);
    return new TensorRef(storage, offset, shape, strides);
  };
  add('collections.OrderedDict', (args) => {
    const d = new PyDict();
    const items = args[0];
    if (Array.isArray(items)) {
      for (const kv of items) {
        if (!(kv instanceof PyTuple) || kv.items.length !== 2) bad('OrderedDict items are not pairs');
        d.map.set(kv.items[0], kv.items[1]);
      }
    }
    return d;
  });
  add('torch._utils._rebuild_tensor', (a) => tensor(a, '_rebuild_tensor'));
  add('torch._utils._rebuild_tensor_v2', (a) => tensor(a, '_rebuild_tensor_v2'));
  const parameter = (a: readonly unknown[]): TensorRef => {
    if (!(a[0] instanceof TensorRef)) bad('_rebuild_parameter got something that is not a tensor');
    return a[0];
  };
  add('torch._utils._rebuild_parameter', parameter);
  add('torch._utils._rebuild_parameter_with_state', parameter);
  for (const name of Object.keys(STORAGE_DTYPES)) add(`torch.${name}`);
  // torch.Size appears when a shape is saved beside the weights; it is a tuple.
  add('torch.Size', (a) => (a[0] instanceof PyTuple ? a[0] : new PyTuple([])));
  // Protocol 2 has no bytes opcode: Python 3 pickles bytes as _codecs.encode(latin-1 text, 'latin1').
  add('_codecs.encode', (a) => {
    const [s, enc] = a;
    if (typeof s !== 'string' || (enc !== 'latin1' && enc !== 'latin-1')) bad('_codecs.encode with unexpected arguments');
    return Uint8Array.from(s, (c) => c.charCodeAt(0) & 0xff);
  });
  return g;
}

/** The storage type of a persistent id: a torch.<Name>Storage global. */
function storageDtype(t: unknown, file: string, where = file): Dtype {
  const q = typeof t === 'object' && t !== null && 'qualname' in t ? (t as PyGlobal).qualname : null;
  const name = q?.startsWith('torch.') ? q.slice(6) : null;
  const dtype = name ? STORAGE_DTYPES[name] : undefined;
  if (!dtype) fail('E5585', file, `storage type ${q ?? String(t)} is not read`, `supported: ${Object.keys(STORAGE_DTYPES).map((n) => `torch.${n}`).join(', ')}`, where);
  return dtype;
}

function describe(v: unknown): string {
  if (v instanceof PyDict) {
    const keys = [...v.map.keys()].slice(0, 8).map((k) => JSON.stringify(k)).join(', ');
    return `a dict with ${v.map.size} keys (${keys}${v.map.size > 8 ? ', ...' : ''})`;
  }
  if (v instanceof TensorRef) return 'a single tensor';
  if (Array.isArray(v)) return `a list of ${v.length}`;
  if (v instanceof PyTuple) return `a tuple of ${v.items.length}`;
  return v === null ? 'None' : `a ${typeof v}`;
}

const isTensorDict = (v: unknown): v is PyDict =>
  v instanceof PyDict && v.map.size > 0 && [...v.map].every(([k, x]) => typeof k === 'string' && x instanceof TensorRef);

const showPath = (path: readonly string[]): string => `checkpoint${path.map((k) => `[${JSON.stringify(k)}]`).join('')}`;

/** The tensor dict inside what the file pickled, and a note when it was not the top level. */
function findStateDict(root: unknown, key: string | undefined, file: string): { dict: PyDict; path: string[] } {
  if (key !== undefined) {
    const path = key.split('/').filter((k) => k.length > 0);
    let v = root;
    for (let i = 0; i < path.length; i++) {
      // An integer segment also matches an int key (an optimizer's per-parameter state).
      const k = v instanceof PyDict && !v.map.has(path[i]) && /^-?\d+$/.test(path[i]!) ? Number(path[i]) : path[i];
      if (!(v instanceof PyDict) || !v.map.has(k)) {
        fail('E5584', file, `${showPath(path.slice(0, i + 1))} does not exist`, `${showPath(path.slice(0, i))} is ${describe(v)}`);
      }
      v = v.map.get(k);
    }
    if (!isTensorDict(v)) fail('E5584', file, `${showPath(path)} is ${describe(v)}, not a dict of tensors`);
    return { dict: v, path };
  }
  if (isTensorDict(root)) return { dict: root, path: [] };
  const found: { dict: PyDict; path: string[] }[] = [];
  const walk = (v: unknown, path: string[]): void => {
    if (!(v instanceof PyDict) || path.length >= 3) return;
    for (const [k, x] of v.map) {
      if (typeof k !== 'string') continue;
      if (isTensorDict(x)) found.push({ dict: x, path: [...path, k] });
      else walk(x, [...path, k]);
    }
  };
  walk(root, []);
  if (found.length === 1) return found[0]!;
  for (const k of WRAPPER_KEYS) {
    const hit = found.find((f) => f.path.length === 1 && f.path[0] === k);
    if (hit) return hit;
  }
  if (found.length === 0) fail('E5584', file, `holds no dict of tensors: the pickled object is ${describe(root)}`, 'save a state dict: torch.save(model.state_dict(), path)');
  fail('E5584', file, `holds ${found.length} dicts of tensors: ${found.map((f) => `${showPath(f.path)} (${f.dict.map.size})`).join(', ')}`,
    `name the one to read: --key ${found[0]!.path.join('/')} (medctc convert / inspect)`);
}

interface StorageLocation {
  /** Absolute file offset of the storage's first byte, or -1 for a compressed zip entry. */
  offset: number;
  bytes: number;
  entry?: ZipEntry;
}

/** A PyTorch checkpoint opened for lazy reads. Same reading surface as SafetensorsFile. */
export class TorchCheckpoint {
  /** Things the user should know about how the state dict was found (a wrapper, a prefix). */
  readonly notes: string[] = [];
  private readonly tensors = new Map<string, TensorRef>();
  private inflated: { key: string; bytes: Uint8Array } | null = null;

  private constructor(readonly path: string, private fd: number | null, readonly format: TorchFormat, readonly size: number,
    private readonly storages: Map<string, StorageLocation>) {}

  static open(path: string, opts: TorchOpenOptions = {}): TorchCheckpoint {
    let fd: number;
    try {
      fd = openRegularFile(path);
    } catch (e) {
      return fail('E5580', path, `it ${fileErrorText(e)}`);
    }
    try {
      const size = fstatSync(fd).size;
      const head = readAt(fd, new Uint8Array(Math.min(size, 4)), 0, path);
      // Legacy files start with PROTO (protocol >= 2) or, at protocol 1, the magic number as text (`L1195...`).
      const zip = head.length === 4 && head[0] === 0x50 && head[1] === 0x4b && head[2] === 0x03 && head[3] === 0x04;
      const legacy = head.length > 0 && (head[0] === 0x80 || head[0] === 0x4c);
      if (!zip && !legacy) fail('E5580', path, 'is neither a PyTorch zip archive nor a legacy PyTorch pickle');
      const { root, storages } = zip ? openZip(fd, size, path) : openLegacy(fd, size, path);
      const ckpt = new TorchCheckpoint(path, fd, zip ? 'torch-zip' : 'torch-legacy', size, storages);
      ckpt.collect(root, opts);
      return ckpt;
    } catch (e) {
      closeSync(fd);
      throw e;
    }
  }

  private collect(root: unknown, opts: TorchOpenOptions): void {
    const { dict, path } = findStateDict(root, opts.key, this.path);
    if (path.length > 0 && opts.key === undefined) {
      const others = root instanceof PyDict ? [...root.map.keys()].filter((k) => k !== path[0]).map(String) : [];
      this.notes.push(`the state dict is ${showPath(path)} (a training checkpoint${others.length ? `; also holds ${others.slice(0, 6).join(', ')}${others.length > 6 ? ', ...' : ''}` : ''})`);
    }
    for (const [k, t] of dict.map) {
      let name = k as string;
      if (opts.stripPrefix && name.startsWith(opts.stripPrefix)) name = name.slice(opts.stripPrefix.length);
      if (this.tensors.has(name)) fail('E5584', this.path, `two tensors are named "${name}" after removing the prefix "${opts.stripPrefix}"`);
      const ref = t as TensorRef;
      this.check(name, ref);
      this.tensors.set(name, ref);
    }
    const names = [...this.tensors.keys()];
    if (!opts.stripPrefix && names.length > 0 && names.every((n) => n.startsWith('module.'))) {
      this.notes.push('every name starts with "module." (saved from DataParallel / DistributedDataParallel): convert with --strip-prefix module.');
    }
  }

  /** The view must lie inside its storage, and the storage inside the file. */
  private check(name: string, t: TensorRef): void {
    const s = this.storages.get(t.storage.key);
    if (!s) fail('E5581', this.path, `tensor "${name}" points at storage "${t.storage.key}", which the file does not contain`);
    const n = numel(t.shape);
    if (n === 0) return;
    const last = t.offset + t.shape.reduce((a, d, i) => a + (d - 1) * t.stride[i]!, 0);
    if (last >= t.storage.numel) {
      fail('E5586', this.path, `tensor "${name}" (offset ${t.offset}, size [${t.shape.join(', ')}], stride [${t.stride.join(', ')}]) reaches element ${last} of a ${t.storage.numel}-element storage`);
    }
    const es = DTYPE_SIZE[t.storage.dtype];
    if ((t.storage.rootOffset + t.storage.numel) * es > s.bytes) {
      fail('E5581', this.path, `storage "${t.storage.key}" holds ${s.bytes} bytes, ${(t.storage.rootOffset + t.storage.numel) * es} are declared`);
    }
  }

  names(): string[] { return [...this.tensors.keys()]; }
  has(name: string): boolean { return this.tensors.has(name); }

  info(name: string): { dtype: Dtype; shape: number[]; contiguous: boolean; storage: string } {
    const t = this.ref(name);
    return { dtype: t.storage.dtype, shape: [...t.shape], contiguous: isContiguous(t), storage: t.storage.key };
  }

  /** The tensor's elements in row-major order (a strided view is gathered). */
  read(name: string): Tensor {
    const t = this.ref(name);
    const dtype = t.storage.dtype, es = DTYPE_SIZE[dtype], n = numel(t.shape);
    const out = new Uint8Array(n * es);
    if (n > 0) {
      const first = t.storage.rootOffset + t.offset;
      if (isContiguous(t)) {
        this.readStorage(t.storage.key, first * es, out);
      } else {
        const span = t.shape.reduce((a, d, i) => a + (d - 1) * t.stride[i]!, 0) + 1;
        const src = this.readStorage(t.storage.key, first * es, new Uint8Array(span * es));
        gather(src, out, es, t.shape, t.stride);
      }
    }
    return { dtype, shape: [...t.shape], data: tensorData(dtype, out) };
  }

  /** A floating-point tensor as float32 (F16/BF16/F64 widened or narrowed); integer dtypes are E5513. */
  readF32(name: string): Float32Array {
    return toFloat32(this.read(name), this.path, name);
  }

  close(): void {
    if (this.fd !== null) closeSync(this.fd);
    this.fd = null;
    this.inflated = null;
  }

  private ref(name: string): TensorRef {
    const t = this.tensors.get(name);
    if (!t) fail('E5587', this.path, `no tensor named "${name}"`, `the state dict holds ${this.tensors.size} tensors`);
    return t;
  }

  private readStorage(key: string, byteOffset: number, into: Uint8Array): Uint8Array {
    if (this.fd === null) throw new Error(`TorchCheckpoint ${this.path} is closed`);
    const s = this.storages.get(key)!;
    if (s.entry && s.entry.method !== 0) {
      // A deflated entry has no random access: inflate it once and keep the latest one, since
      // tensors sharing a storage are usually read one after another.
      if (this.inflated?.key !== key) this.inflated = { key, bytes: readZipEntry(this.fd, s.entry, this.path) };
      into.set(this.inflated.bytes.subarray(byteOffset, byteOffset + into.length));
      return into;
    }
    return readAt(this.fd, into, s.offset + byteOffset, this.path);
  }
}

function isContiguous(t: TensorRef): boolean {
  let expected = 1;
  for (let i = t.shape.length - 1; i >= 0; i--) {
    if (t.shape[i] !== 1 && t.stride[i] !== expected) return false;
    expected *= t.shape[i]!;
  }
  return true;
}

/** Copies a strided view (strides in elements, from `src`'s first element) into row-major `dst`. */
function gather(src: Uint8Array, dst: Uint8Array, es: number, shape: readonly number[], stride: readonly number[]): void {
  // Eight-byte elements move as two 32-bit words so no float canonicalises a NaN payload.
  const w = es === 8 ? 4 : es, k = es / w;
  const S = w === 1 ? src : w === 2 ? new Uint16Array(src.buffer, src.byteOffset, src.length / 2) : new Uint32Array(src.buffer, src.byteOffset, src.length / 4);
  const D = w === 1 ? dst : w === 2 ? new Uint16Array(dst.buffer, dst.byteOffset, dst.length / 2) : new Uint32Array(dst.buffer, dst.byteOffset, dst.length / 4);
  const rank = shape.length, n = numel(shape);
  const idx = new Array<number>(rank).fill(0);
  let at = 0;
  for (let o = 0; o < n; o++) {
    for (let j = 0; j < k; j++) D[o * k + j] = S[at * k + j]!;
    for (let d = rank - 1; d >= 0; d--) {
      if (++idx[d]! < shape[d]!) { at += stride[d]!; break; }
      at -= (shape[d]! - 1) * stride[d]!;
      idx[d] = 0;
    }
  }
}

// ---------------------------------------------------------------- zip format (PyTorch >= 1.6)

function openZip(fd: number, size: number, file: string): { root: unknown; storages: Map<string, StorageLocation> } {
  const entries = readZipDirectory(fd, size, file);
  // The archive folder is whatever name the file had when it was saved (PyTorch uses the file's
  // stem, and a rename does not change it): find it by its data.pkl.
  const pkls = [...entries.keys()].filter((n) => /^[^/]+\/data\.pkl$/.test(n));
  if (pkls.length === 0) {
    const torchscript = [...entries.keys()].some((n) => /^[^/]+\/constants\.pkl$/.test(n));
    fail('E5580', file, torchscript ? 'is a TorchScript archive (torch.jit.save), not a torch.save checkpoint' : 'is a zip archive without <archive>/data.pkl, so not a PyTorch checkpoint',
      torchscript ? 'in Python: torch.save(torch.jit.load(path).state_dict(), "state_dict.pt")' : undefined);
  }
  if (pkls.length > 1) fail('E5581', file, `holds ${pkls.length} data.pkl entries (${pkls.join(', ')})`);
  const prefix = pkls[0]!.slice(0, -'data.pkl'.length);
  const byteorder = entries.get(`${prefix}byteorder`);
  if (byteorder) {
    const order = new TextDecoder().decode(readZipEntry(fd, byteorder, file)).trim();
    if (order !== 'little') fail('E5585', file, `storages are ${order}-endian`, 'save the checkpoint on a little-endian machine');
  }
  const storages = new Map<string, StorageLocation>();
  const refs = new Map<string, StorageRef>();
  const where = `${file} (${pkls[0]})`;
  const pickle = readZipEntry(fd, entries.get(pkls[0]!)!, file);
  const { value } = unpickle(pickle, 0, {
    file, label: where,
    globals: allowList(file, where),
    refusalHelp,
    persistentLoad: (pid) => {
      if (!(pid instanceof PyTuple) || pid.items[0] !== 'storage' || pid.items.length < 5) fail('E5583', file, `persistent id ${describe(pid)} is not a storage`, 'the file is not a plain state dict', where);
      const [, type, key, , count] = pid.items;
      if (typeof key !== 'string' || !isCount(count)) fail('E5581', file, 'a storage persistent id has no key or size', undefined, where);
      const dtype = storageDtype(type, file, where);
      const known = refs.get(key);
      if (known) {
        if (known.dtype !== dtype) fail('E5581', file, `storage "${key}" is named as ${known.dtype} and as ${dtype}`, undefined, where);
        return known;
      }
      const entry = entries.get(`${prefix}data/${key}`);
      if (!entry) fail('E5581', file, `storage "${key}" has no entry ${prefix}data/${key}`, 'the file is probably truncated');
      storages.set(key, { offset: entry.method === 0 ? entry.dataOffset : -1, bytes: entry.size, entry });
      const ref = new StorageRef(key, dtype, count);
      refs.set(key, ref);
      return ref;
    },
  });
  return { root: value, storages };
}

// ---------------------------------------------------------------- legacy format (PyTorch < 1.6)

function openLegacy(fd: number, size: number, file: string): { root: unknown; storages: Map<string, StorageLocation> } {
  // The pickles are small and come first; the storages after them can be gigabytes. Read a
  // growing prefix until the five pickles parse, then only record where each storage lies.
  let window = Math.min(size, 1 << 20);
  for (;;) {
    const head = readAt(fd, new Uint8Array(window), 0, file);
    try {
      return parseLegacy(fd, head, size, file);
    } catch (e) {
      const short = e instanceof DiagnosticError && e.diagnostics[0]!.code === 'E5581' && /wants \d+ bytes|no terminating newline/.test(e.message);
      if (!short || window === size) throw e;
      window = Math.min(size, window * 4);
    }
  }
}

function parseLegacy(fd: number, head: Uint8Array, size: number, file: string): { root: unknown; storages: Map<string, StorageLocation> } {
  const plain = { file, globals: new Map<string, PyGlobal>(), refusalHelp };
  const magic = unpickle(head, 0, plain);
  if (magic.value !== LEGACY_MAGIC) {
    fail('E5580', file, 'starts with a pickle that is not PyTorch\'s magic number', 'a bare pickle is not a torch.save checkpoint');
  }
  const protocol = unpickle(head, magic.end, plain);
  if (protocol.value !== LEGACY_PROTOCOL) fail('E5585', file, `legacy format version ${String(protocol.value)} (only ${LEGACY_PROTOCOL} is read)`);
  const sysInfo = unpickle(head, protocol.end, plain);
  if (sysInfo.value instanceof PyDict && sysInfo.value.map.get('little_endian') === false) {
    fail('E5585', file, 'storages are big-endian', 'save the checkpoint on a little-endian machine');
  }
  const refs = new Map<string, StorageRef>();
  const roots = new Map<string, { dtype: Dtype; numel: number }>();
  const globals = allowList(file);
  const object = unpickle(head, sysInfo.end, {
    file, globals, refusalHelp,
    persistentLoad: (pid) => {
      if (!(pid instanceof PyTuple) || typeof pid.items[0] !== 'string') fail('E5583', file, `persistent id ${describe(pid)} is not a storage`, 'the file is not a plain state dict');
      if (pid.items[0] === 'module') fail('E5583', file, 'the file pickles a whole nn.Module (torch.save(model))', 'save only the tensors: torch.save(model.state_dict(), path)');
      if (pid.items[0] !== 'storage' || pid.items.length < 6) fail('E5583', file, `persistent id ${describe(pid)} is not a storage`, 'the file is not a plain state dict');
      const [, type, key, , count, viewMeta] = pid.items;
      if (typeof key !== 'string' || !isCount(count)) fail('E5581', file, 'a storage persistent id has no key or size');
      const dtype = storageDtype(type, file);
      const root = roots.get(key);
      if (root && root.dtype !== dtype) fail('E5581', file, `storage "${key}" is named as ${root.dtype} and as ${dtype}`);
      if (!root) roots.set(key, { dtype, numel: count });
      if (viewMeta === null || viewMeta === undefined) {
        const known = refs.get(key);
        if (known) return known;
        const ref = new StorageRef(key, dtype, count);
        refs.set(key, ref);
        return ref;
      }
      // Storage views (PyTorch < 0.4): (view key, element offset into the root, view size).
      if (!(viewMeta instanceof PyTuple) || !isCount(viewMeta.items[1]) || !isCount(viewMeta.items[2])) fail('E5581', file, 'a storage view has malformed metadata');
      const [, offset, viewSize] = viewMeta.items as [unknown, number, number];
      return new StorageRef(key, dtype, viewSize, offset);
    },
  });
  const keys = unpickle(head, object.end, plain);
  if (!Array.isArray(keys.value) || !keys.value.every((k) => typeof k === 'string')) fail('E5581', file, 'the storage key list is not a list of strings');
  const storages = new Map<string, StorageLocation>();
  let at = keys.end;
  const count = new Uint8Array(8);
  for (const key of keys.value as string[]) {
    const root = roots.get(key);
    if (!root) fail('E5581', file, `storage "${key}" is listed but no tensor uses it, so its element size is unknown`);
    readAt(fd, count, at, file);
    const n = new DataView(count.buffer).getBigInt64(0, true);
    if (n !== BigInt(root.numel)) fail('E5581', file, `storage "${key}" holds ${n} elements at byte ${at}, the pickle says ${root.numel}`);
    const bytes = root.numel * DTYPE_SIZE[root.dtype];
    if (at + 8 + bytes > size) fail('E5581', file, `storage "${key}" [${at + 8}, ${at + 8 + bytes}) runs past the end of the ${size}-byte file`, 'the file is probably truncated');
    storages.set(key, { offset: at + 8, bytes });
    at += 8 + bytes;
  }
  // Views carry their root's key, so the root's location serves them too.
  for (const key of roots.keys()) if (!storages.has(key)) fail('E5581', file, `storage "${key}" is used but not in the storage key list`);
  return { root: object.value, storages };
}
