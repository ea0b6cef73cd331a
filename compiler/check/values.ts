// Reading typed values out of entries, with one diagnostic per mistake and provenance for each
// value read. A value that is wrong is reported once and then treated as absent, so the default
// takes its place and nothing downstream complains about it again.
import type { Entry, Value } from '../../grammar/ast.js';
import { diag } from '../../base/diagnostics/catalog.js';
import type { Diagnostic, Fix } from '../../base/diagnostics/types.js';
import type { Provenance } from '../ir/experiment.js';
import { lineCol } from '../../base/diagnostics/render.js';
import type { Program } from './program.js';
import { didYouMean } from './suggest.js';
import { COMMAND_LINE } from './overrides.js';
import type { LetDecl } from '../../grammar/ast.js';

export interface FieldRule { repeat?: boolean }

export class Reader {
  readonly prov: Record<string, Provenance> = {};
  readonly used = new Set<LetDecl>();
  /** The experiment's parent is checked in the same run (so it reports its own missing fields). */
  parentChecked = false;
  /** `where|field` for each unknown field whose suggestion is `field`: its "missing" would be the same mistake. */
  private readonly misspelled = new Set<string>();

  constructor(
    private readonly prog: Program,
    private readonly expName: string,
    private readonly definedIn: WeakMap<Entry, string>,
    private readonly swept: WeakSet<object>,
    readonly diags: Diagnostic[],
  ) {}

  file(n: object): string {
    return this.prog.fileOf.get(n) ?? this.prog.entry;
  }

  at(n: Value | Entry | { start: number; end: number }, label?: string, owner?: object) {
    return { file: this.file(owner ?? n), start: n.start, end: n.end, ...(label ? { label } : {}) };
  }

  /** Records where the value at `ptr` came from. `entry` is the entry that holds it (for inheritance). */
  note(ptr: string, v: Value, entry: Entry): void {
    const file = this.file(v);
    const text = this.prog.sources.get(file) ?? '';
    const { line, col } = lineCol(text, v.start);
    const from = this.definedIn.get(entry);
    if (this.swept.has(v)) this.prov[ptr] = { kind: 'sweep', file, line, col };
    else if (file === COMMAND_LINE) this.prov[ptr] = { kind: 'override', arg: (text.split('\n')[line - 1] ?? '').replace(/^--set /, ''), file, line, col };
    else if (from !== undefined && from !== this.expName) this.prov[ptr] = { kind: 'inherited', from, file, line, col };
    else this.prov[ptr] = { kind: 'source', file, line, col };
  }

  /** Groups a block's entries by key, reporting unknown keys (with a suggestion) and duplicates. */
  fields(entries: Entry[], rules: Record<string, FieldRule>, where: string): Map<string, Entry[]> {
    const out = new Map<string, Entry[]>();
    for (const e of entries) {
      const rule = rules[e.key];
      if (!rule) {
        const guess = didYouMean(e.key, Object.keys(rules));
        if (guess) this.misspelled.add(`${where}|${guess}`);
        const known = Object.keys(rules).map((k) => `\`${k}\``).join(', ');
        // An inherited entry is named after the experiment that wrote it (reported once, for all its children).
        const from = this.definedIn.get(e);
        const said = from !== undefined && from !== this.expName && where === `experiment \`${this.expName}\`` ? `experiment \`${from}\`` : where;
        this.diags.push(diag('E2001', `unknown field \`${e.key}\` in ${said}`, this.at(e.keyPos, guess ? `did you mean \`${guess}\`?` : 'unknown field', e),
          guess ? { help: `${said} accepts ${known}`, fix: this.replaceFix(e.keyPos, e, guess) } : { help: `${said} accepts ${known}` }));
        continue;
      }
      const list = out.get(e.key) ?? [];
      if (list.length && !rule.repeat) {
        this.diags.push(diag('E2003', `\`${e.key}\` is set twice in ${where}`, this.at(e.keyPos, 'set again here', e),
          { secondary: [this.at(list[0]!.keyPos, 'first set here', list[0]!)], help: 'remove one of them' }));
        continue;
      }
      list.push(e);
      out.set(e.key, list);
    }
    return out;
  }

  replaceFix(p: { start: number; end: number }, owner: object, replacement: string): Fix {
    return { description: `replace with \`${replacement}\``, edits: [{ span: { file: this.file(owner), start: p.start, end: p.end }, replacement }] };
  }

  /** Follows a constant reference (`rank r`) to the constant's value. */
  deref(v: Value): Value {
    let cur = v;
    for (let hops = 0; cur.kind === 'ident' && hops < 16; hops++) {
      const scope = this.prog.scopes.get(this.file(cur));
      const c = scope?.get(cur.name);
      if (!c) break;
      this.used.add(c.decl);
      cur = c.decl.value;
    }
    return cur;
  }

  unknownName(v: Extract<Value, { kind: 'ident' }>, expected: string, owner: Entry): void {
    const scope = this.prog.scopes.get(this.file(v));
    const guess = didYouMean(v.name, scope?.keys() ?? []);
    this.diags.push(diag('E2010', `unknown name \`${v.name}\``, this.at(v, `expected ${expected}`, owner),
      guess ? { help: `did you mean the constant \`${guess}\`?`, fix: this.replaceFix(v, owner, guess) } : { help: `write ${expected} here, or define it first: \`let ${v.name} = ...\`` }));
  }

  /** The entry's single argument; reports a missing or surplus one. */
  single(e: Entry, what: string, allowBlock = false): Value | undefined {
    if (e.block && !allowBlock) {
      this.diags.push(diag('E2004', `\`${e.key}\` does not take a block`, this.at(e.block, 'unexpected block', e), { help: writeHelp(e.key, what) }));
    }
    if (e.args.length === 0) {
      this.diags.push(diag('E2004', `\`${e.key}\` needs ${what}`, this.at(e.keyPos, 'value missing', e), { help: writeHelp(e.key, what) }));
      return undefined;
    }
    if (e.args.length > 1) {
      const extra = e.args[1]!;
      this.diags.push(diag('E2004', `\`${e.key}\` takes one value`, this.at({ start: extra.start, end: e.args[e.args.length - 1]!.end }, 'unexpected', e),
        { help: `${writeHelp(e.key, what)}; put several values in a list \`[a, b]\`; separate fields on one line with \`;\`` }));
    }
    return e.args[0];
  }

  /** Reports arguments on an entry that takes only a block (`prompts { ... }`), or more than `keep` of them. */
  onlyBlock(e: Entry | undefined, keep = 0, example = `${e?.key} { ... }`): void {
    const extra = e?.args[keep];
    if (!e || !extra) return;
    if (keep === 0) this.wrongType(extra, 'a block `{ ... }`', e);
    else this.diags.push(diag('E2004', `\`${e.key}\` takes ${keep} value${keep > 1 ? 's' : ''} before its block`, this.at({ start: extra.start, end: e.args[e.args.length - 1]!.end }, 'unexpected', e), { help: `write \`${example}\`` }));
  }

  wrongType(v: Value, what: string, owner: Entry, help?: string): void {
    if (v.kind === 'error' || this.prog.silenced.has(v)) return;
    if (v.kind === 'sweep') {
      this.diags.push(diag('E2050', 'a sweep is not allowed here', this.at(v, 'sweep', owner), { help: 'sweeps are written directly on a field, e.g. `rank sweep [8, 16]`' }));
      return;
    }
    const got = v.kind === 'ident' ? `name \`${v.name}\`` : v.kind === 'number' ? 'a number' : v.kind === 'string' ? 'a string' : v.kind === 'bool' ? 'a boolean' : 'a list';
    this.diags.push(diag('E2004', `\`${owner.key}\` expects ${what}, found ${got}`, this.at(v, `expected ${what}`, owner), { help: help ?? writeHelp(owner.key, what) }));
  }

  num(e: Entry, v0: Value | undefined, ptr: string, c: NumRule): number | undefined {
    if (!v0) return undefined;
    const v = this.deref(v0);
    const what = c.what ?? (c.int ? 'an integer' : 'a number');
    if (v.kind === 'ident') { this.unknownName(v, what, e); return undefined; }
    if (v.kind !== 'number') {
      // A number in quotes ("42", or "2 epochs" where --set kept the shell's quotes): say so, and fix it.
      const t = v.kind === 'string' ? v.value.trim() : '';
      const quoted = v.kind === 'string' ? QUOTED_NUMBER.exec(t) : null;
      if (quoted && !this.prog.silenced.has(v)) {
        // A field that needs a unit gets it in the fix (`warmup "8"` -> `warmup 8 steps`, not `warmup 8`, which is E2007).
        const plain = c.unit && !quoted[3] ? `${t} ${c.unit}` : t;
        this.diags.push(diag('E2004', `\`${e.key}\` expects ${what}, found a string`, this.at(v, 'a number in quotes', e), {
          help: `write it without quotes: \`${e.key} ${plain}\``,
          fix: { description: 'remove the quotes', edits: [{ span: { file: this.file(e), start: v.start, end: v.end }, replacement: plain }] },
        }));
        return undefined;
      }
      this.wrongType(v, what, e, c.unit ? `write \`${e.key} ${c.int ? 8 : 0.5} ${c.unit}\`` : undefined);
      return undefined;
    }
    if (!this.unit(e, v, c.unit ?? null, c.units)) return undefined;
    const bad = rangeProblem(v.value, c);
    if (bad) {
      this.diags.push(diag('E2006', `\`${e.key}\` must be ${bad}, found ${v.raw}`, this.at(v, `must be ${bad}`, e), { help: c.help ?? `choose a value that is ${bad}` }));
      return undefined;
    }
    this.note(ptr, v, e);
    return v.value;
  }

  /** Checks a value's unit against the one the field needs; reports with a machine-applicable fix. */
  unit(e: Entry, v: Extract<Value, { unit: unknown }>, want: string | null, accepted?: string): boolean {
    const got = v.unit?.name ?? null;
    if (got === want) return true;
    const owner = e;
    if (want === null) {
      this.diags.push(diag('E2008', `\`${e.key}\` takes no unit, found \`${got}\``, this.at(v.unit!, 'unexpected unit', owner),
        { help: `write the plain value`, fix: { description: `remove \`${got}\``, edits: [{ span: { file: this.file(owner), start: v.unit!.start - 1, end: v.unit!.end }, replacement: '' }] } }));
      return false;
    }
    if (got === null) {
      this.diags.push(diag('E2007', `\`${e.key}\` needs a unit: ${accepted ?? want}`, this.at(v, `add \`${want}\` after this value`, owner),
        { help: `units make the intent explicit: write \`${e.key} ${this.textOf(v, owner)} ${want}\``, fix: { description: `add \`${want}\``, edits: [{ span: { file: this.file(owner), start: v.end, end: v.end }, replacement: ` ${want}` }] } }));
      return false;
    }
    const which = accepted ?? want;
    this.diags.push(diag('E2008', `\`${e.key}\` is measured in ${which}, not ${got}`, this.at(v.unit!, `expected ${accepted ?? `\`${want}\``}`, owner),
      { help: `medctc does not convert units; write the value in ${which}`, fix: this.replaceFix(v.unit!, owner, want) }));
    return false;
  }

  textOf(v: { start: number; end: number }, owner: object): string {
    const text = this.prog.sources.get(this.file(owner)) ?? '';
    const s = text.slice(v.start, v.end);
    return s.replace(/\s+(HU|mm|voxels|steps|epochs)$/, '');
  }

  int(e: Entry, ptr: string, c: NumRule = {}): number | undefined {
    return this.num(e, this.single(e, 'an integer'), ptr, { ...c, int: true });
  }

  number(e: Entry, ptr: string, c: NumRule = {}): number | undefined {
    return this.num(e, this.single(e, c.unit ? `a number in ${c.unit}` : 'a number'), ptr, c);
  }

  str(e: Entry, ptr: string, v0: Value | undefined = this.single(e, 'a string')): string | undefined {
    if (!v0) return undefined;
    const v = this.deref(v0);
    if (v.kind === 'ident') { this.unknownName(v, 'a string in double quotes', e); return undefined; }
    if (v.kind !== 'string') { this.wrongType(v, 'a string', e); return undefined; }
    this.note(ptr, v, e);
    return v.value;
  }

  bool(e: Entry, ptr: string): boolean | undefined {
    const v0 = this.single(e, '`true` or `false`');
    if (!v0) return undefined;
    const v = this.deref(v0);
    if (v.kind !== 'bool') {
      if (v.kind === 'ident') {
        const guess = didYouMean(v.name, ['true', 'false']);
        if (guess) {
          this.diags.push(diag('E2005', `\`${v.name}\` is not a boolean`, this.at(v, 'expected `true` or `false`', e), { help: `did you mean \`${guess}\`?`, fix: this.replaceFix(v, e, guess) }));
          return undefined;
        }
        this.unknownName(v, '`true` or `false`', e);
        return undefined;
      }
      this.wrongType(v, '`true` or `false`', e);
      return undefined;
    }
    this.note(ptr, v, e);
    return v.value;
  }

  /** An identifier from a fixed set (`threshold roc_corner`). */
  enumOf<T extends string>(e: Entry, v0: Value | undefined, ptr: string | null, options: readonly T[], aliases: Readonly<Record<string, { use: T; why: string }>> = {}): T | undefined {
    if (!v0) return undefined;
    let v = v0;
    if (v.kind === 'ident' && !options.includes(v.name as T)) v = this.deref(v);
    if (v.kind === 'string' && options.includes(v.value as T)) {
      this.diags.push(diag('E2004', `\`${e.key}\` takes a name, not a string`, this.at(v, 'remove the quotes', e), { help: `write \`${e.key} ${v.value}\``, fix: this.replaceFix(v, e, v.value) }));
      return undefined;
    }
    if (v.kind !== 'ident') { this.wrongType(v, `one of ${list(options)}`, e); return undefined; }
    const alias = Object.hasOwn(aliases, v.name) ? aliases[v.name] : undefined;
    if (!options.includes(v.name as T) && alias) {
      this.diags.push(diag('E2005', `unknown value \`${v.name}\` for \`${e.key}\``, this.at(v, `did you mean \`${alias.use}\`?`, e),
        { help: `${alias.why}; \`${e.key}\` accepts ${list(options)}`, fix: this.replaceFix(v, e, alias.use) }));
      return undefined;
    }
    if (!options.includes(v.name as T)) {
      const guess = didYouMean(v.name, options);
      this.diags.push(diag('E2005', `unknown value \`${v.name}\` for \`${e.key}\``, this.at(v, guess ? `did you mean \`${guess}\`?` : `expected one of ${list(options)}`, e),
        guess ? { help: `\`${e.key}\` accepts ${list(options)}`, fix: this.replaceFix(v, e, guess) } : { help: `\`${e.key}\` accepts ${list(options)}` }));
      return undefined;
    }
    if (ptr) this.note(ptr, v, e);
    return v.name as T;
  }

  /** A list of exactly `n` numbers (when n is given) with a unit. */
  numList(e: Entry, v0: Value | undefined, ptr: string, c: NumRule & { n?: number }): number[] | undefined {
    if (!v0) return undefined;
    const v = this.deref(v0);
    if (v.kind === 'ident') { this.unknownName(v, 'a list of numbers', e); return undefined; }
    if (v.kind !== 'list') { this.wrongType(v, c.n ? `a list of ${c.n} numbers` : 'a list of numbers', e); return undefined; }
    if (c.n !== undefined && v.items.length !== c.n) {
      this.diags.push(diag('E2009', `\`${e.key}\` needs ${c.n} values, found ${v.items.length}`, this.at(v, `expected ${c.n} values`, e), { help: `write \`${e.key} ${example(`${c.n} numbers`)}${c.unit ? ' ' + c.unit : ''}\`` }));
      return undefined;
    }
    if (!this.unit(e, v, c.unit ?? null)) return undefined;
    const out: number[] = [];
    for (const [i, item0] of v.items.entries()) {
      const item = this.deref(item0);
      if (item.kind !== 'number') { if (item.kind === 'ident') this.unknownName(item, 'a number', e); else this.wrongType(item, 'a number', e); return undefined; }
      if (item.unit) { this.unit(e, item, null); return undefined; }
      const bad = rangeProblem(item.value, c);
      if (bad) {
        this.diags.push(diag('E2006', `each value of \`${e.key}\` must be ${bad}, found ${item.raw}`, this.at(item, `must be ${bad}`, e), { help: c.help ?? `choose values that are ${bad}` }));
        return undefined;
      }
      this.note(`${ptr}/${i}`, item, e);
      out.push(item.value);
    }
    this.note(ptr, v, e);
    return out;
  }

  missing(owner: { start: number; end: number }, ownerNode: object, field: string, where: string, example: string): void {
    if (this.misspelled.has(`${where}|${field}`)) return; // E2001 already says "did you mean `field`?", with a fix
    this.diags.push(diag('E2002', `${where} is missing \`${field}\``, this.at(owner, `\`${field}\` required`, ownerNode), { help: `add \`${example}\`` }));
  }
}

/** A string that holds a number, optionally followed by a unit word: `42`, `3e-4`, `2 epochs`. */
const QUOTED_NUMBER = /^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?(\s+[A-Za-z_]\w*)?$/;

export interface NumRule {
  int?: boolean;
  min?: number;
  /** Exclusive lower bound. */
  gt?: number;
  max?: number;
  /** Exclusive upper bound. */
  lt?: number;
  unit?: string | null;
  /** How messages name the accepted units when there are several (`\`steps\` or \`epochs\``); `unit` is the one a fix inserts. */
  units?: string;
  help?: string;
  /** How messages name what the field takes, where 'an integer' / 'a number' would mislead (a duration). */
  what?: string;
}

function rangeProblem(x: number, c: NumRule): string | null {
  const parts: string[] = [];
  if (c.int) parts.push('an integer');
  if (c.min !== undefined) parts.push(`>= ${c.min}`);
  if (c.gt !== undefined) parts.push(`> ${c.gt}`);
  if (c.max !== undefined) parts.push(`<= ${c.max}`);
  if (c.lt !== undefined) parts.push(`< ${c.lt}`);
  const ok = (!c.int || Number.isSafeInteger(x)) && (c.min === undefined || x >= c.min) && (c.gt === undefined || x > c.gt) &&
    (c.max === undefined || x <= c.max) && (c.lt === undefined || x < c.lt);
  return ok ? null : parts.join(' and ').replace(/^an integer and /, 'an integer ');
}

const list = (xs: readonly string[]): string => xs.map((x) => `\`${x}\``).join(', ');

/** "write `rank 8`": the field with an example value, or, where `what` has no example, a description. */
function writeHelp(key: string, what: string): string {
  const ex = example(what);
  return ex === what && /^an? /.test(what) ? `write \`${key}\` followed by ${what}` : `write \`${key} ${ex}\``;
}

function example(what: string): string {
  if (what.startsWith('a list of 2')) return '[lo, hi]';
  if (what.startsWith('a list of 3') || what.startsWith('3 numbers')) return '[a, b, c]';
  if (what.startsWith('2 numbers')) return '[lo, hi]';
  if (what.includes('integer')) return '8';
  if (what.includes('number')) return '0.5';
  if (what.includes('string')) return '"..."';
  if (what.startsWith('one of')) return what.replace(/^one of `([^`]*)`.*$/, '$1');
  if (what.includes('in quotes')) return '"..."';
  if (what.includes('list of module patterns')) return '["module.path.*"]';
  if (what.includes('list of pathology names')) return '["Name"]';
  if (what.includes('list of metrics')) return '[auroc]';
  if (what.includes('count')) return '1000';
  // `kaiming` or `gaussian`, a block `{ ... }`, a duration: `N steps` or `X epochs`: the first written form.
  const quoted = /`([^`]+)`/.exec(what);
  if (quoted) return quoted[1]!;
  return what;
}
