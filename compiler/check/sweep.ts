// Sweeps: every `sweep [...]` in an experiment's (flattened) entries is one axis; the variants are
// the cartesian product, in source order of the axes with the first axis varying slowest.
import { posix } from 'node:path';
import type { Entry, Value } from '../../grammar/ast.js';
import { diag } from '../../base/diagnostics/catalog.js';
import type { Diagnostic } from '../../base/diagnostics/types.js';

/** More variants than this is a typo, not an experiment plan. */
export const MAX_VARIANTS = 4096;

export interface Axis { name: string; entry: Entry; sweep: Extract<Value, { kind: 'sweep' }>; path: string[] }

export interface Variant {
  entries: Entry[];
  bindings: Record<string, number | string | boolean>;
  /** The value each binding chose, for provenance. */
  chosen: Map<string, Value>;
}

export interface SweepTags {
  fileOf: WeakMap<object, string>;
  definedIn: WeakMap<Entry, string>;
  /** Values that a sweep chose (provenance kind `sweep`). */
  swept: WeakSet<object>;
}

export function findAxes(entries: Entry[], file: (n: object) => string, diags: Diagnostic[], silenced: WeakSet<object>, path: string[] = []): Axis[] {
  const axes: Axis[] = [];
  for (const e of entries) {
    for (const a of e.args) {
      if (a.kind === 'sweep') {
        const bad = a.items.find((i) => i.kind === 'sweep' || (i.kind === 'list' && i.items.some((j) => j.kind === 'sweep')));
        if (a.items.length === 0 || bad) silenced.add(a);
        if (a.items.length === 0) {
          diags.push(diag('E2050', 'a sweep needs at least one value', { file: file(e), start: a.start, end: a.end, label: 'empty sweep' }, { help: 'write `sweep [8, 16, 24]`' }));
        } else if (bad) {
          diags.push(diag('E2050', 'sweeps cannot be nested', { file: file(e), start: bad.start, end: bad.end, label: 'sweep inside a sweep' }, { help: 'write each axis as its own `sweep [...]` on its own field' }));
        } else axes.push({ name: e.key, entry: e, sweep: a, path: [...path, e.key] });
      } else if (a.kind === 'list') {
        const inner = a.items.find((i) => i.kind === 'sweep');
        if (inner) silenced.add(inner);
        if (inner) diags.push(diag('E2050', 'a sweep cannot sit inside a list', { file: file(e), start: inner.start, end: inner.end, label: 'sweep inside a list' }, { help: 'sweep the whole list instead: `sweep [[a, b], [c, d]]`' }));
      }
    }
    if (e.block) axes.push(...findAxes(e.block.entries, file, diags, silenced, [...path, e.key]));
  }
  // Two axes on the same key (`rank` in lora and in a target) are told apart by their path.
  const count = new Map<string, number>();
  for (const a of axes) count.set(a.name, (count.get(a.name) ?? 0) + 1);
  for (const a of axes) if (count.get(a.name)! > 1) a.name = a.path.join('.');
  const seen = new Map<string, number>();
  for (const a of axes) {
    const n = seen.get(a.name) ?? 0;
    seen.set(a.name, n + 1);
    if (n > 0) a.name = `${a.name}#${n + 1}`;
  }
  return axes;
}

export function bindingValue(v: Value, text: string): number | string | boolean {
  switch (v.kind) {
    case 'number': return v.value;
    case 'string': return v.value;
    case 'bool': return v.value;
    case 'ident': return v.name;
    default: return text.slice(v.start, v.end);
  }
}

/** All variants of `entries` over `axes` (a single variant with no bindings when there are none). */
export function expand(entries: Entry[], axes: Axis[], tags: SweepTags, sourceText: (n: object) => string): Variant[] {
  let combos: Map<Axis, Value>[] = [new Map()];
  for (const axis of axes) {
    const next: Map<Axis, Value>[] = [];
    for (const c of combos) for (const item of axis.sweep.items) next.push(new Map([...c, [axis, item]]));
    combos = next;
  }
  return combos.map((choice) => {
    const bySweep = new Map<Value, Value>();
    const bindings: Record<string, number | string | boolean> = {};
    const chosenBy = new Map<string, Value>();
    for (const [axis, item] of choice) {
      const chosen: Value = 'unit' in item && item.unit === null && axis.sweep.unit ? { ...item, unit: axis.sweep.unit } : item;
      tags.fileOf.set(chosen, tags.fileOf.get(item) ?? tags.fileOf.get(axis.entry)!);
      tags.swept.add(chosen);
      bySweep.set(axis.sweep, chosen);
      bindings[axis.name] = bindingValue(item, sourceText(axis.entry));
      chosenBy.set(axis.name, chosen);
    }
    return { entries: substitute(entries, bySweep, tags), bindings, chosen: chosenBy };
  });
}

function substitute(entries: Entry[], bySweep: Map<Value, Value>, tags: SweepTags): Entry[] {
  if (bySweep.size === 0) return entries;
  return entries.map((e) => {
    const args = e.args.map((a) => bySweep.get(a) ?? a);
    const block = e.block ? { ...e.block, entries: substitute(e.block.entries, bySweep, tags) } : null;
    if (args.every((a, i) => a === e.args[i]) && block?.entries === e.block?.entries) return e;
    const copy: Entry = { ...e, args, block };
    tags.fileOf.set(copy, tags.fileOf.get(e)!);
    tags.definedIn.set(copy, tags.definedIn.get(e)!);
    return copy;
  });
}

/** `medct-vlm@rank=8,alpha=16` */
export function variantName(base: string, bindings: Record<string, number | string | boolean>): string {
  const parts = Object.entries(bindings).map(([k, v]) => `${k}=${String(v)}`);
  return parts.length ? `${base}@${parts.join(',')}` : base;
}

export const relativeTo = (entry: string, file: string): string => posix.relative(posix.dirname(entry), file) || posix.basename(file);
