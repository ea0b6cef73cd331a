// A restricted unpickler: it interprets the pickle opcodes of protocols 0-5 as data and never
// executes anything. Python's unpickler resolves every GLOBAL to a live object and calls it
// (REDUCE, NEWOBJ, BUILD), which is how a malicious checkpoint runs `os.system`; here a GLOBAL
// is looked up in the caller's allow-list at the moment it is read, and a name outside it stops
// the whole load with E5582 before any later opcode is even decoded. Allowed globals are plain
// TypeScript functions from unpickled arguments to values (the same idea as
// `torch.load(weights_only=True)`). Python values map to: None -> null, bool -> boolean, int ->
// number (bigint past 2^53), float -> number, str -> string, bytes -> Uint8Array, list -> array,
// tuple -> PyTuple, dict -> PyDict; the caller's globals produce whatever values it defines.
import { DiagnosticError, fileDiagnostic } from '../../base/diagnostics/types.js';

export class PyTuple {
  constructor(readonly items: readonly unknown[]) {}
}

export class PyDict {
  readonly map = new Map<unknown, unknown>();
  /** Instance attributes a BUILD set (an OrderedDict state dict carries `_metadata` this way). */
  readonly attrs = new Map<string, unknown>();
}

export class PySet {
  readonly items: unknown[] = [];
}

/** A global the allow-list resolved: called by REDUCE / NEWOBJ / INST / OBJ with the unpickled arguments. */
export interface PyGlobal {
  readonly qualname: string;
  call?: (args: readonly unknown[]) => unknown;
}

export interface UnpickleOptions {
  /** The file, for the diagnostic's span. */
  file: string;
  /** How messages name it when that says more than the path, e.g. `ckpt.pt (archive/data.pkl)`. */
  label?: string;
  /** `module.name` -> value; anything absent is refused. */
  globals: ReadonlyMap<string, PyGlobal>;
  /** PERSID / BINPERSID; without it a persistent id is refused. */
  persistentLoad?: (pid: unknown) => unknown;
  /** Explains a refused global in the diagnostic's help. */
  refusalHelp?: (qualname: string) => string;
}

export interface UnpickleResult {
  value: unknown;
  /** Offset just past the STOP opcode (legacy checkpoints are several pickles back to back). */
  end: number;
}

function malformed(file: string, label: string, at: number, message: string): never {
  throw new DiagnosticError(fileDiagnostic('E5581', `${label}: pickle byte ${at}: ${message}`, file,
    { help: 'the file is probably truncated or corrupt' }));
}

function unsupported(file: string, label: string, at: number, message: string, help: string): never {
  throw new DiagnosticError(fileDiagnostic('E5583', `${label}: pickle byte ${at}: ${message}`, file, { help }));
}

const latin1 = new TextDecoder('latin1');
const utf8 = new TextDecoder('utf-8', { fatal: true });

/** Python's repr-quoted string literal as protocol 0's STRING opcode writes it. */
function unquote(text: string, file: string, label: string, at: number): string {
  const q = text[0];
  if (text.length < 2 || (q !== "'" && q !== '"') || text[text.length - 1] !== q) malformed(file, label, at, 'STRING argument is not quoted');
  return text.slice(1, -1).replace(/\\(x[0-9a-fA-F]{2}|[0-7]{1,3}|.)/g, (_, e: string) => {
    if (e[0] === 'x') return String.fromCharCode(parseInt(e.slice(1), 16));
    if (/^[0-7]/.test(e)) return String.fromCharCode(parseInt(e, 8));
    return ({ n: '\n', r: '\r', t: '\t', '\\': '\\', "'": "'", '"': '"', a: '\x07', b: '\b', f: '\f', v: '\v' } as Record<string, string>)[e] ?? `\\${e}`;
  });
}

/** raw-unicode-escape (protocol 0's UNICODE opcode): only \uXXXX and \UXXXXXXXX are escapes. */
function rawUnicode(text: string): string {
  return text.replace(/\\u([0-9a-fA-F]{4})|\\U([0-9a-fA-F]{8})/g, (_, u?: string, U?: string) => String.fromCodePoint(parseInt((u ?? U)!, 16)));
}

function intValue(n: bigint): number | bigint {
  return n >= BigInt(Number.MIN_SAFE_INTEGER) && n <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(n) : n;
}

/** Two's-complement little-endian integer of any width (LONG1 / LONG4). */
function longLE(bytes: Uint8Array): number | bigint {
  if (bytes.length === 0) return 0;
  let n = 0n;
  for (let i = bytes.length - 1; i >= 0; i--) n = (n << 8n) | BigInt(bytes[i]!);
  if (bytes[bytes.length - 1]! & 0x80) n -= 1n << BigInt(8 * bytes.length);
  return intValue(n);
}

/** Unpickles the pickle starting at `start` in `bytes`. */
export function unpickle(bytes: Uint8Array, start: number, opts: UnpickleOptions): UnpickleResult {
  const { file } = opts;
  const label = opts.label ?? file;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let p = start;
  let op = start;
  const stack: unknown[] = [];
  const marks: number[] = [];
  const memo = new Map<number, unknown>();

  const need = (n: number): number => {
    if (!Number.isSafeInteger(n) || n < 0 || p + n > bytes.length) malformed(file, label, op, `opcode 0x${(bytes[op] ?? 0).toString(16)} wants ${n} bytes, ${bytes.length - p} remain`);
    const at = p;
    p += n;
    return at;
  };
  const u8 = (): number => bytes[need(1)]!;
  const u16 = (): number => view.getUint16(need(2), true);
  const u32 = (): number => view.getUint32(need(4), true);
  const u64 = (): number => {
    const n = view.getBigUint64(need(8), true);
    if (n > BigInt(Number.MAX_SAFE_INTEGER)) malformed(file, label, op, `length ${n} is absurd`);
    return Number(n);
  };
  const take = (n: number): Uint8Array => { const at = need(n); return bytes.subarray(at, at + n); };
  const line = (): string => {
    const nl = bytes.indexOf(0x0a, p);
    if (nl < 0) malformed(file, label, op, 'text argument has no terminating newline');
    const s = latin1.decode(bytes.subarray(p, nl));
    p = nl + 1;
    return s;
  };
  const text = (b: Uint8Array): string => {
    try { return utf8.decode(b); } catch { return malformed(file, label, op, 'string is not valid UTF-8'); }
  };
  const pop = (): unknown => {
    if (stack.length === 0 || (marks.length > 0 && stack.length <= marks[marks.length - 1]!)) malformed(file, label, op, 'stack underflow');
    return stack.pop();
  };
  const top = (): unknown => {
    if (stack.length === 0) malformed(file, label, op, 'stack underflow');
    return stack[stack.length - 1];
  };
  const popMark = (): unknown[] => {
    const m = marks.pop();
    if (m === undefined) malformed(file, label, op, 'no MARK to pop to');
    return stack.splice(m);
  };
  const memoGet = (i: number): unknown => {
    if (!memo.has(i)) malformed(file, label, op, `memo slot ${i} is empty`);
    return memo.get(i);
  };
  const findGlobal = (module: string, name: string): PyGlobal => {
    const qualname = `${module}.${name}`;
    const g = opts.globals.get(qualname);
    if (g) return g;
    throw new DiagnosticError(fileDiagnostic('E5582', `${label}: the pickle refers to \`${qualname}\`, which is not allowed in a checkpoint (nothing was run)`, file,
      { help: opts.refusalHelp?.(qualname) ?? 'only tensors, storages and OrderedDict are allowed' }));
  };
  const call = (fn: unknown, args: unknown, what: string): unknown => {
    if (typeof fn !== 'object' || fn === null || !('qualname' in fn)) malformed(file, label, op, `${what} on something that is not a global`);
    const g = fn as PyGlobal;
    if (!(args instanceof PyTuple)) malformed(file, label, op, `${what} arguments for \`${g.qualname}\` are not a tuple`);
    if (!g.call) unsupported(file, label, op, `\`${g.qualname}\` is called, which a tensor state dict never does`, 'the file is not a plain state dict');
    return g.call(args.items);
  };
  const setItems = (d: unknown, kv: unknown[]): void => {
    if (!(d instanceof PyDict)) malformed(file, label, op, 'SETITEM(S) on something that is not a dict');
    if (kv.length % 2) malformed(file, label, op, 'SETITEMS with an odd number of items');
    for (let i = 0; i < kv.length; i += 2) d.map.set(kv[i], kv[i + 1]);
  };
  const append = (l: unknown, items: unknown[]): void => {
    if (!Array.isArray(l)) malformed(file, label, op, 'APPEND(S) on something that is not a list');
    for (const x of items) l.push(x);
  };
  const persistent = (pid: unknown): unknown => {
    if (!opts.persistentLoad) unsupported(file, label, op, 'a persistent id where none is expected', 'the file is not a PyTorch checkpoint');
    return opts.persistentLoad(pid);
  };

  for (;;) {
    op = p;
    const code = u8();
    switch (code) {
      case 0x80: { // PROTO
        const v = u8();
        if (v > 5) unsupported(file, label, op, `pickle protocol ${v}`, 'protocols 0-5 are read');
        break;
      }
      case 0x95: need(8); break; // FRAME: framing is only a read-ahead hint
      case 0x2e: // STOP
        if (stack.length !== 1 || marks.length) malformed(file, label, op, `STOP with ${stack.length} values on the stack`);
        return { value: stack[0], end: p };
      case 0x28: marks.push(stack.length); break; // MARK
      case 0x30: pop(); break; // POP
      case 0x31: popMark(); break; // POP_MARK
      case 0x32: stack.push(top()); break; // DUP
      // ---- constants and numbers
      case 0x4e: stack.push(null); break; // NONE
      case 0x88: stack.push(true); break; // NEWTRUE
      case 0x89: stack.push(false); break; // NEWFALSE
      case 0x4a: stack.push(view.getInt32(need(4), true)); break; // BININT
      case 0x4b: stack.push(u8()); break; // BININT1
      case 0x4d: stack.push(u16()); break; // BININT2
      case 0x8a: stack.push(longLE(take(u8()))); break; // LONG1
      case 0x8b: { // LONG4
        const n = view.getInt32(need(4), true);
        if (n < 0) malformed(file, label, op, 'LONG4 with a negative length');
        stack.push(longLE(take(n)));
        break;
      }
      case 0x49: { // INT (text); protocol 0 writes booleans as 00 / 01
        const s = line().trim();
        if (s === '00') stack.push(false);
        else if (s === '01') stack.push(true);
        else if (/^[+-]?\d+$/.test(s)) stack.push(intValue(BigInt(s)));
        else malformed(file, label, op, `INT argument "${s}"`);
        break;
      }
      case 0x4c: { // LONG (text, trailing L)
        const s = line().trim().replace(/L$/, '');
        if (!/^[+-]?\d+$/.test(s)) malformed(file, label, op, `LONG argument "${s}"`);
        stack.push(intValue(BigInt(s)));
        break;
      }
      case 0x46: { // FLOAT (text)
        const v = Number(line().trim());
        stack.push(v);
        break;
      }
      case 0x47: stack.push(view.getFloat64(need(8), false)); break; // BINFLOAT (big-endian)
      // ---- strings and bytes
      case 0x53: stack.push(unquote(line(), file, label, op)); break; // STRING
      case 0x54: stack.push(latin1.decode(take(view.getInt32(need(4), true)))); break; // BINSTRING
      case 0x55: stack.push(latin1.decode(take(u8()))); break; // SHORT_BINSTRING
      case 0x56: stack.push(rawUnicode(line())); break; // UNICODE
      case 0x58: stack.push(text(take(u32()))); break; // BINUNICODE
      case 0x8c: stack.push(text(take(u8()))); break; // SHORT_BINUNICODE
      case 0x8d: stack.push(text(take(u64()))); break; // BINUNICODE8
      case 0x42: stack.push(take(u32()).slice()); break; // BINBYTES
      case 0x43: stack.push(take(u8()).slice()); break; // SHORT_BINBYTES
      case 0x8e: case 0x96: stack.push(take(u64()).slice()); break; // BINBYTES8, BYTEARRAY8
      case 0x97: case 0x98: // NEXT_BUFFER, READONLY_BUFFER
        unsupported(file, label, op, 'out-of-band buffers (protocol 5)', 'torch.save never writes them; re-save the state dict with torch.save');
      // ---- containers
      case 0x29: stack.push(new PyTuple([])); break; // EMPTY_TUPLE
      case 0x74: stack.push(new PyTuple(popMark())); break; // TUPLE
      case 0x85: stack.push(new PyTuple([pop()])); break; // TUPLE1
      case 0x86: { const b = pop(); const a = pop(); stack.push(new PyTuple([a, b])); break; } // TUPLE2
      case 0x87: { const c = pop(); const b = pop(); const a = pop(); stack.push(new PyTuple([a, b, c])); break; } // TUPLE3
      case 0x5d: stack.push([]); break; // EMPTY_LIST
      case 0x6c: stack.push(popMark()); break; // LIST
      case 0x61: { const x = pop(); append(top(), [x]); break; } // APPEND
      case 0x65: { const items = popMark(); append(top(), items); break; } // APPENDS
      case 0x7d: stack.push(new PyDict()); break; // EMPTY_DICT
      case 0x64: { const d = new PyDict(); setItems(d, popMark()); stack.push(d); break; } // DICT
      case 0x73: { const v = pop(); const k = pop(); setItems(top(), [k, v]); break; } // SETITEM
      case 0x75: { const kv = popMark(); setItems(top(), kv); break; } // SETITEMS
      case 0x8f: stack.push(new PySet()); break; // EMPTY_SET
      case 0x90: { // ADDITEMS
        const items = popMark();
        const s = top();
        if (!(s instanceof PySet)) malformed(file, label, op, 'ADDITEMS on something that is not a set');
        s.items.push(...items);
        break;
      }
      case 0x91: { const s = new PySet(); s.items.push(...popMark()); stack.push(s); break; } // FROZENSET
      // ---- memo
      case 0x70: memo.set(Number(line()), top()); break; // PUT
      case 0x71: memo.set(u8(), top()); break; // BINPUT
      case 0x72: memo.set(u32(), top()); break; // LONG_BINPUT
      case 0x94: memo.set(memo.size, top()); break; // MEMOIZE
      case 0x67: stack.push(memoGet(Number(line()))); break; // GET
      case 0x68: stack.push(memoGet(u8())); break; // BINGET
      case 0x6a: stack.push(memoGet(u32())); break; // LONG_BINGET
      // ---- globals and calls: the only way a pickle reaches code, all through the allow-list
      case 0x63: { const module = line(); const name = line(); stack.push(findGlobal(module, name)); break; } // GLOBAL
      case 0x93: { // STACK_GLOBAL
        const name = pop(), module = pop();
        if (typeof module !== 'string' || typeof name !== 'string') malformed(file, label, op, 'STACK_GLOBAL operands are not strings');
        stack.push(findGlobal(module, name));
        break;
      }
      case 0x82: case 0x83: case 0x84: { // EXT1/2/4: the copyreg extension registry names globals by number
        const n = code === 0x82 ? u8() : code === 0x83 ? u16() : view.getInt32(need(4), true);
        throw new DiagnosticError(fileDiagnostic('E5582', `${label}: the pickle refers to extension code ${n} (a registered global), which is not allowed in a checkpoint (nothing was run)`, file,
          { help: 'only tensors, storages and OrderedDict are allowed' }));
      }
      case 0x52: { const args = pop(); const fn = pop(); stack.push(call(fn, args, 'REDUCE')); break; } // REDUCE
      case 0x81: { const args = pop(); const cls = pop(); stack.push(call(cls, args, 'NEWOBJ')); break; } // NEWOBJ
      case 0x92: { // NEWOBJ_EX
        const kwargs = pop(); const args = pop(); const cls = pop();
        if (!(kwargs instanceof PyDict) || kwargs.map.size > 0) unsupported(file, label, op, 'NEWOBJ_EX with keyword arguments', 'the file is not a plain state dict');
        stack.push(call(cls, args, 'NEWOBJ_EX'));
        break;
      }
      case 0x69: { // INST: module and name inline, arguments since the mark
        const module = line(); const name = line();
        const g = findGlobal(module, name);
        stack.push(call(g, new PyTuple(popMark()), 'INST'));
        break;
      }
      case 0x6f: { // OBJ: class then arguments since the mark
        const items = popMark();
        if (items.length === 0) malformed(file, label, op, 'OBJ without a class');
        stack.push(call(items[0], new PyTuple(items.slice(1)), 'OBJ'));
        break;
      }
      case 0x62: { // BUILD: __setstate__; kept as data on dicts, ignored on our own values
        const state = pop();
        const target = top();
        if (target instanceof PyDict) {
          if (state instanceof PyDict) for (const [k, v] of state.map) target.attrs.set(String(k), v);
          else if (state !== null) unsupported(file, label, op, 'BUILD on a dict with a non-dict state', 'the file is not a plain state dict');
        } else if (typeof target !== 'object' || target === null || Array.isArray(target) || target instanceof PyTuple) {
          malformed(file, label, op, 'BUILD on a value that takes no state');
        }
        break;
      }
      case 0x50: stack.push(persistent(line())); break; // PERSID
      case 0x51: stack.push(persistent(pop())); break; // BINPERSID
      default:
        unsupported(file, label, op, `unknown pickle opcode 0x${code.toString(16).padStart(2, '0')}`, 'the file is not a pickle of protocol 0-5, or is corrupt');
    }
  }
}
