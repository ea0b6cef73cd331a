// Command-line overrides: `--set PATH=VALUE` (repeatable) laid over an experiment's entries after
// `extends` merging and before sweeps expand, so an override is checked exactly like the file:
// VALUE is parsed with the grammar's value syntax (units, lists, constants of the entry file,
// even `sweep [...]`) and read by the same checker, and a mistake is a diagnostic pointing into
// the command line (shown as the source `<command line>`, one line per `--set`).
//
// PATH is a dotted list of entry keys as written in a spec: `lora.rank`, `train.optimizer.lr`,
// `train.schedule.warmup`, `evaluate.threshold`. The last key's values are replaced (its block, if
// any, is kept: `--set train.schedule=cosine` keeps the warmup); keys on the way are descended into
// whatever their arguments (`optimizer adamw { ... }`), and created when the experiment lacks them.
// A key that is repeatable in the block (`target`, `layers`) cannot be chosen from the command
// line (E0013). Values an override sets have provenance `override` ("command line").
import type { Entry, Value } from '../../grammar/ast.js';
import { parseMedct } from '../../grammar/parse.js';
import { diag } from '../../base/diagnostics/catalog.js';
import type { Diagnostic } from '../../base/diagnostics/types.js';
import type { Program } from './program.js';

/** The source name under which the command line's overrides are shown and recorded. */
export const COMMAND_LINE = '<command line>';

export interface Override {
  /** As typed: `lora.rank=16`. */
  arg: string;
  path: { key: string; start: number; end: number }[];
  value: Value;
  /** Offset of this override's line in the command-line source. */
  lineStart: number;
}

export interface ParsedOverrides {
  overrides: Override[];
  /** The command-line source: one `--set ARG` per line. */
  text: string;
  diagnostics: Diagnostic[];
}

const PREFIX = '--set ';

/** Parses every `--set` argument into a path and a grammar value, tagging the value's nodes with
 *  the command-line source (fileOf) so the checker's spans and provenance point there. */
export function parseOverrides(args: readonly string[], prog: Pick<Program, 'fileOf' | 'sources' | 'scopes' | 'entry'>): ParsedOverrides {
  const lines = args.map((a) => PREFIX + a);
  const text = lines.join('\n');
  const diagnostics: Diagnostic[] = [];
  const overrides: Override[] = [];
  let lineStart = 0;
  for (const [i, arg] of args.entries()) {
    const base = lineStart;
    lineStart += lines[i]!.length + 1;
    const eq = arg.indexOf('=');
    const pathText = eq < 0 ? arg : arg.slice(0, eq);
    const at = (s: number, e: number, label: string) => ({ file: COMMAND_LINE, start: base + PREFIX.length + s, end: base + PREFIX.length + Math.max(e, s + 1), label });
    if (eq < 0 || !/^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$/.test(pathText) || arg.slice(eq + 1).trim() === '') {
      const why = eq < 0 ? 'no `=`' : arg.slice(eq + 1).trim() === '' ? 'no value after `=`' : 'not a dotted path of field names';
      diagnostics.push(diag('E0013', `invalid override \`--set ${arg}\`: ${why}`, at(eq < 0 || arg.slice(eq + 1).trim() !== '' ? 0 : eq, eq < 0 ? arg.length : eq + 1, why),
        { help: 'write `--set PATH=VALUE` with PATH the fields as a spec nests them, e.g. `--set lora.rank=16`, `--set train.optimizer.lr=3e-4`, `--set train.schedule.warmup="2 epochs"`; quote strings: `--set \'model.weights="w.safetensors"\'`' }));
      continue;
    }
    // The value is parsed as the value of a constant, `let _=VALUE`, padded so that every offset
    // the parser reports is the value's offset in the command-line line.
    const valueAt = PREFIX.length + eq + 1;
    const head = 'let _=';
    const padded = ' '.repeat(base) + head + ' '.repeat(valueAt - head.length) + arg.slice(eq + 1);
    const parsed = parseMedct(padded, COMMAND_LINE);
    if (parsed.diagnostics.length) { diagnostics.push(...parsed.diagnostics); continue; }
    const item = parsed.ast.items[0];
    if (parsed.ast.items.length !== 1 || item?.kind !== 'let') {
      diagnostics.push(diag('E0013', `invalid override \`--set ${arg}\`: the value is not one value`, at(eq + 1, arg.length, 'one value expected'), { help: 'a value is a number (with a unit), a string in quotes, a name, `true`/`false`, a list or `sweep [...]`' }));
      continue;
    }
    tag(item.value, prog.fileOf);
    const path: Override['path'] = [];
    let s = 0;
    for (const key of pathText.split('.')) { path.push({ key, start: base + PREFIX.length + s, end: base + PREFIX.length + s + key.length }); s += key.length + 1; }
    overrides.push({ arg, path, value: item.value, lineStart: base });
  }
  // Constant names in a value are those the entry file sees.
  const scope = prog.scopes.get(prog.entry);
  if (scope) prog.scopes.set(COMMAND_LINE, scope);
  return { overrides, text, diagnostics };
}

function tag(v: Value, fileOf: WeakMap<object, string>): void {
  fileOf.set(v, COMMAND_LINE);
  if (v.kind === 'list' || v.kind === 'sweep') for (const x of v.items) tag(x, fileOf);
}

const REPEATABLE_KEYS = new Set(['target', 'layers']);

/** `entries` with the overrides laid over them (copies along each path; the AST is not touched). */
export function applyOverrides(entries: Entry[], overrides: readonly Override[], tagCopy: (copy: Entry, from: Entry | null) => void, diags: Diagnostic[]): Entry[] {
  let out = entries;
  for (const o of overrides) {
    const next = setPath(out, o, 0, tagCopy, diags);
    if (next) out = next;
  }
  return out;
}

function setPath(entries: Entry[], o: Override, depth: number, tagCopy: (copy: Entry, from: Entry | null) => void, diags: Diagnostic[]): Entry[] | null {
  const seg = o.path[depth]!;
  const last = depth === o.path.length - 1;
  const found = entries.filter((e) => e.key === seg.key);
  if (found.length > 1 || REPEATABLE_KEYS.has(seg.key)) {
    diags.push(diag('E0013', `\`${o.path.slice(0, depth + 1).map((p) => p.key).join('.')}\` is repeatable; --set cannot choose one of its entries`,
      { file: COMMAND_LINE, start: seg.start, end: seg.end, label: 'repeatable entry' },
      { help: 'change it in the spec (or in an experiment that `extends` it)' }));
    return null;
  }
  const old = found[0] ?? null;
  const span = { start: seg.start, end: seg.end };
  let copy: Entry;
  if (last) {
    copy = { kind: 'entry', key: seg.key, keyPos: span, args: [o.value], block: old?.block ?? null, start: seg.start, end: o.value.end };
  } else {
    const inner = setPath(old?.block?.entries ?? [], o, depth + 1, tagCopy, diags);
    if (!inner) return null;
    copy = old
      ? { ...old, block: { ...(old.block ?? { start: old.end, end: old.end }), entries: inner } }
      : { kind: 'entry', key: seg.key, keyPos: span, args: [], block: { start: seg.end, end: seg.end, entries: inner }, start: seg.start, end: seg.end };
  }
  // The new leaf, and a created entry, belong to the command line; a copy keeps its original's origin.
  tagCopy(copy, last ? null : old);
  if (!old) return [...entries, copy];
  return entries.map((e) => (e === old ? copy : e));
}
