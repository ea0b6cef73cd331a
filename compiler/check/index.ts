// The checker's public surface: `.medct` file(s) -> resolved experiments (one per sweep variant)
// plus diagnostics. Hermetic: the only I/O is reading the entry file and what it imports.
import type { Entry, LetDecl } from '../../grammar/ast.js';
import { diag } from '../../base/diagnostics/catalog.js';
import type { Diagnostic } from '../../base/diagnostics/types.js';
import type { ResolvedExperiment } from '../ir/experiment.js';
import { validateExperiment } from '../ir/validate.js';
import { lineCol } from '../../base/diagnostics/render.js';
import { flatten, FlattenMemo } from './inherit.js';
import { importRootFor, loadProgram, type ReadFile } from './program.js';
import { resolveExperiment } from './resolve.js';
import { expand, findAxes, MAX_VARIANTS, relativeTo, variantName } from './sweep.js';
import { Reader } from './values.js';
import { applyOverrides, COMMAND_LINE, parseOverrides, type Override } from './overrides.js';

export { validateExperiment } from '../ir/validate.js';
export { readSpecFile, specReadDiagnostic } from './program.js';
export { DEFAULT_POSITIVE, DEFAULT_NEGATIVE } from './resolve.js';

export interface CheckOptions {
  /** Reads a file by path (default: fs.readFileSync utf8). Throwing means "not found". */
  readFile?: ReadFile;
  /** Command-line overrides, `PATH=VALUE` as typed after `--set` (compiler/check/overrides.ts). */
  overrides?: readonly string[];
  /** Folder imports may not leave (default: MEDCTC_IMPORT_ROOT, else the entry file's folder). */
  importRoot?: string;
}

export interface CheckResult {
  /** Empty when any error was reported. In entry-file order, sweep variants in expansion order. */
  experiments: ResolvedExperiment[];
  diagnostics: Diagnostic[];
  /** Every file read, by the path used in spans and provenance. */
  sources: Map<string, string>;
}

// One mistake, one message: a span reported under a code once, even when a parent's entry is
// checked again for each experiment that `extends` it (the message then names the parent).
const key = (d: Diagnostic): string => (d.primary ? `${d.code}|${d.primary.file}|${d.primary.start}|${d.primary.end}` : `${d.code}||${d.message}`);

export function checkFiles(entry: string, opts: CheckOptions = {}): CheckResult {
  const prog = loadProgram(entry, opts.readFile, importRootFor(entry, opts.importRoot));
  const diagnostics = [...prog.diagnostics];
  const sources = prog.sources;
  const entryFile = prog.files[0];
  if (!entryFile) return { experiments: [], diagnostics, sources };
  // Syntax errors would surface again as confusing check errors; stop at the parse.
  if (diagnostics.some((d) => d.code.startsWith('E1'))) return { experiments: [], diagnostics: inReadingOrder(prog, diagnostics), sources };
  let overrides: Override[] = [];
  if (opts.overrides?.length) {
    const o = parseOverrides(opts.overrides, prog);
    sources.set(COMMAND_LINE, o.text);
    if (o.diagnostics.length) return { experiments: [], diagnostics: o.diagnostics, sources };
    overrides = o.overrides;
  }

  const experiments: ResolvedExperiment[] = [];
  const used = new Set<LetDecl>();
  const flattened = new FlattenMemo();
  const seen = new Set(diagnostics.map(key));
  const push = (ds: Diagnostic[]) => { for (const d of ds) { const k = key(d); if (!seen.has(k)) { seen.add(k); diagnostics.push(d); } } };
  const fileSources = prog.files.map((f) => relativeTo(prog.entry, f.path));

  const decls = entryFile.ast.items.filter((i) => i.kind === 'experiment');
  if (decls.length === 0) {
    push([diag('E2025', `\`${prog.entry}\` declares no experiment`, { file: prog.entry, start: 0, end: 0 }, { help: 'add `experiment "name" { ... }` (files that only hold shared settings are imported, not checked on their own)' })]);
  }
  const checked = new Set(decls);
  for (const decl of decls) {
    if (prog.experiments.get(decl.name)?.decl !== decl) continue; // a duplicate name, already reported
    const local: Diagnostic[] = [];
    const flat = flatten(prog, decl.name, local, flattened);
    if (!flat) { push(local); continue; }
    const fileOf = (n: object) => prog.fileOf.get(n) ?? prog.entry;
    if (overrides.length) {
      flat.entries = applyOverrides(flat.entries, overrides, (copy, from) => {
        flat.definedIn.set(copy, from ? flat.definedIn.get(from)! : decl.name);
        prog.fileOf.set(copy, from ? fileOf(from) : COMMAND_LINE);
      }, local);
    }
    const axes = findAxes(flat.entries, fileOf, local, prog.silenced);
    const count = axes.reduce((n, a) => n * a.sweep.items.length, 1);
    if (count > MAX_VARIANTS) {
      const a = axes[0]!;
      local.push(diag('E2050', `the sweeps expand to ${count} variants (at most ${MAX_VARIANTS})`, { file: fileOf(a.entry), start: a.sweep.start, end: a.sweep.end, label: 'first sweep' }, { help: 'split the sweep into several experiments' }));
      push(local);
      continue;
    }
    const swept = new WeakSet<object>();
    const variants = expand(flat.entries, axes, { fileOf: prog.fileOf, definedIn: flat.definedIn, swept }, (n) => sources.get(fileOf(n)) ?? '');
    for (const v of variants) {
      const reader = new Reader(prog, decl.name, flat.definedIn as WeakMap<Entry, string>, swept, local);
      // A required field the child lacks, its parent lacks too; when the parent is checked in this
      // run it says so itself, and the child stays silent about it.
      const parent = decl.parent && prog.experiments.get(decl.parent.name);
      reader.parentChecked = Boolean(parent && checked.has(parent.decl));
      const name = variantName(decl.name, v.bindings);
      const ir = resolveExperiment(reader, {
        decl, entries: v.entries, name,
        variant: axes.length ? { base: decl.name, bindings: v.bindings } : null,
        sources: fileSources,
      });
      for (const c of reader.used) used.add(c);
      const at = (file: string, offset: number) => { const { line, col } = lineCol(sources.get(file) ?? '', offset); return { file, line, col }; };
      ir.provenance['/name'] = { kind: 'source', ...at(prog.experiments.get(decl.name)!.file, decl.namePos.start) };
      if (ir.variant) {
        ir.provenance['/variant/base'] = ir.provenance['/name'];
        for (const [k, val] of v.chosen) ir.provenance[`/variant/bindings/${k.replace(/~/g, '~0').replace(/\//g, '~1')}`] = { kind: 'sweep', ...at(fileOf(val), val.start) };
      }
      completeProvenance(ir);
      experiments.push(ir);
    }
    push(local);
  }
  const anyError = diagnostics.some((d) => d.severity === 'error');
  for (const item of entryFile.ast.items) {
    if (!anyError && item.kind === 'let' && !used.has(item)) {
      push([diag('W2060', `constant \`${item.name}\` is never used`, { file: prog.entry, ...item.namePos, label: 'unused' }, { help: 'remove it, or use it as a value: `rank ' + item.name + '`' })]);
    }
  }
  const ordered = inReadingOrder(prog, diagnostics);
  diagnostics.length = 0;
  for (const d of ordered) diagnostics.push(d); // not `splice(0, n, ...all)`: thousands of diagnostics pass V8's argument limit
  const failed = diagnostics.some((d) => d.severity === 'error');
  if (!failed) {
    for (const ir of experiments) {
      const problems = validateExperiment(ir);
      if (problems.length) throw new Error(`internal: resolved IR for \`${ir.name}\` fails spec/experiment.schema.json: ${problems.join('; ')}`);
    }
  }
  return { experiments: failed ? [] : experiments, diagnostics, sources };
}

/** By file load order (the entry file first), then by position; stable. */
function inReadingOrder(prog: { files: { path: string }[] }, diagnostics: Diagnostic[]): Diagnostic[] {
  const fileRank = new Map(prog.files.map((f, i) => [f.path, i]));
  const rank = (d: Diagnostic) => [fileRank.get(d.primary?.file ?? '') ?? -1, d.primary?.start ?? -1] as const;
  return diagnostics.map((d, i) => ({ d, i })).sort((a, b) => {
    const [fa, sa] = rank(a.d), [fb, sb] = rank(b.d);
    return fa - fb || sa - sb || a.i - b.i;
  }).map((x) => x.d);
}

/** Every leaf gets a provenance entry: the nearest written ancestor's, else `default`. Entries
 *  for pointers that resolve to nothing (an optimizer `betas` list, say, becomes beta1/beta2)
 *  are dropped; the result is keyed in document order of the IR. */
function completeProvenance(ir: ResolvedExperiment): void {
  const written = ir.provenance;
  const out: ResolvedExperiment['provenance'] = {};
  const walk = (v: unknown, ptr: string, inherited: ResolvedExperiment['provenance'][string] | undefined): void => {
    const own = written[ptr] ?? inherited;
    if (v !== null && typeof v === 'object') {
      const keys = Array.isArray(v) ? v.map((_, i) => String(i)) : Object.keys(v);
      if (ptr && written[ptr]) out[ptr] = written[ptr]!;
      if (keys.length === 0 && ptr) out[ptr] = own ?? { kind: 'default' };
      for (const k of keys) walk((v as Record<string, unknown>)[k], `${ptr}/${k.replace(/~/g, '~0').replace(/\//g, '~1')}`, own);
      return;
    }
    if (ptr) out[ptr] = own ?? { kind: 'default' };
  };
  const { provenance: _p, sources: _s, irVersion: _v, ...rest } = ir;
  walk(rest, '', undefined);
  ir.provenance = out;
}
