// `medctc diff A B`: two resolved experiments compared value by value (the rows of
// cli/review/explain.ts: a scalar list is one value, lists of objects compare element by element),
// with each side's provenance, and the effect on the build report (trainable parameters, memory,
// FLOPs) from compiler/build.ts compileExperiment. Layout, comments and source positions are not
// values, so reformatting a spec changes nothing here. The experiments' names (and sweep variant
// records) are shown in the header, not compared.
import { isDeepStrictEqual } from 'node:util';
import { compileExperiment } from '../../compiler/build.js';
import type { ResolvedExperiment } from '../../compiler/ir/experiment.js';
import type { BuildReport } from '../../compiler/report/params.js';
import { bytes, percent } from '../../compiler/report/render.js';
import type { Sources } from '../../compiler/passes/provenance.js';
import { rows, valueText, type Row } from './explain.js';

export interface Side { value: unknown; provenance: Row['provenance']; origin: string }
export interface Change { op: 'changed' | 'added' | 'removed'; path: string; pointer: string; a: Side | null; b: Side | null }
export interface Figure { key: string; label: string; kind: 'count' | 'bytes' | 'fraction' | 'flops'; a: number | null; b: number | null }

const IGNORED = (pointer: string) => pointer === '/name' || pointer === '/variant' || pointer.startsWith('/variant/');
const side = (r: Row): Side => ({ value: r.value, provenance: r.provenance, origin: r.origin });

export function diffExperiments(a: ResolvedExperiment, b: ResolvedExperiment): Change[] {
  const ra = rows(a).filter((r) => !IGNORED(r.pointer)), rb = rows(b).filter((r) => !IGNORED(r.pointer));
  const inB = new Map(rb.map((r) => [r.pointer, r]));
  const inA = new Set(ra.map((r) => r.pointer));
  const out: Change[] = [];
  for (const r of ra) {
    const o = inB.get(r.pointer);
    if (!o) out.push({ op: 'removed', path: r.path, pointer: r.pointer, a: side(r), b: null });
    else if (!isDeepStrictEqual(r.value, o.value)) out.push({ op: 'changed', path: r.path, pointer: r.pointer, a: side(r), b: side(o) });
  }
  for (const r of rb) if (!inA.has(r.pointer)) out.push({ op: 'added', path: r.path, pointer: r.pointer, a: null, b: side(r) });
  return out;
}

export function figures(ra: BuildReport, rb: BuildReport): Figure[] {
  const f = (key: string, label: string, kind: Figure['kind'], get: (r: BuildReport) => number | null | undefined): Figure =>
    ({ key, label, kind, a: get(ra) ?? null, b: get(rb) ?? null });
  return [
    f('parameters.trainable', 'trainable parameters', 'count', (r) => r.parameters.trainable),
    f('parameters.trainableFraction', 'trainable fraction', 'fraction', (r) => r.parameters.trainableFraction),
    f('parameters.total', 'total parameters', 'count', (r) => r.parameters.total),
    f('parameters.lora', 'LoRA parameters', 'count', (r) => r.parameters.lora),
    f('parameters.adapters', 'adapted modules', 'count', (r) => r.parameters.adapters),
    f('memory.weightsBytes', 'weights memory', 'bytes', (r) => r.memory.weightsBytes),
    f('memory.gradientBytes', 'gradient memory', 'bytes', (r) => r.memory.gradientBytes),
    f('memory.optimizerBytes', 'optimizer state', 'bytes', (r) => r.memory.optimizerBytes),
    f('memory.activations.eval.peakBytes', 'eval activations (peak)', 'bytes', (r) => r.memory.activations.eval.peakBytes),
    f('memory.activations.train.peakBytes', 'train activations (peak)', 'bytes', (r) => r.memory.activations.train?.peakBytes),
    f('flops.evalPerSample', 'eval FLOPs per volume', 'flops', (r) => r.flops.evalPerSample),
    f('flops.trainPerSample', 'train FLOPs per volume', 'flops', (r) => r.flops.trainPerSample),
  ];
}

export function compileReport(exp: ResolvedExperiment, sources: Sources): BuildReport {
  return compileExperiment(exp, sources).report;
}

const count = (n: number) => n.toLocaleString('en-US');
const flops = (n: number) => (n >= 1e12 ? `${(n / 1e12).toFixed(2)} TFLOP` : n >= 1e9 ? `${(n / 1e9).toFixed(2)} GFLOP` : n >= 1e6 ? `${(n / 1e6).toFixed(2)} MFLOP` : `${count(n)} FLOP`);

export function figureText(kind: Figure['kind'], n: number | null): string {
  if (n === null) return '—';
  return kind === 'count' ? count(n) : kind === 'bytes' ? bytes(n) : kind === 'fraction' ? percent(n) : flops(n);
}

export function deltaText(f: Figure): string {
  if (f.a === null || f.b === null) return f.a === f.b ? '' : 'n/a';
  const d = f.b - f.a;
  if (d === 0) return '=';
  const sign = d > 0 ? '+' : '-';
  const rel = f.a !== 0 && f.kind !== 'fraction' ? ` (${sign}${(Math.abs(d) / f.a * 100).toFixed(1)}%)` : '';
  if (f.kind === 'fraction') return `${sign}${(Math.abs(d) * 100).toFixed(3)} pp`;
  return `${sign}${figureText(f.kind, Math.abs(d))}${rel}`;
}

export interface DiffResult {
  a: { ref: string; name: string };
  b: { ref: string; name: string };
  changes: Change[];
  effect: Figure[];
}

/** Consecutive changes that add or remove every value of one list element (`lora.targets[1]`) go together. */
function groups(changes: Change[]): { element: string | null; changes: Change[] }[] {
  const out: { element: string | null; changes: Change[] }[] = [];
  const elementOf = (c: Change) => { const m = /^(.*\[\d+\])\.[^[\]]+$/.exec(c.path); return c.op !== 'changed' && m ? m[1]! : null; };
  for (const c of changes) {
    const e = elementOf(c), last = out.at(-1);
    if (e !== null && last && last.element === e && last.changes[0]!.op === c.op) last.changes.push(c);
    else out.push({ element: e, changes: [c] });
  }
  // An element with a single changed field stays a plain line.
  return out.map((g) => (g.changes.length === 1 ? { element: null, changes: g.changes } : g));
}

export function diffText(d: DiffResult): string {
  const out = [`--- a: ${d.a.ref} (experiment \`${d.a.name}\`)`, `+++ b: ${d.b.ref} (experiment \`${d.b.name}\`)`];
  if (d.changes.length === 0) out.push('', 'no differences in the resolved experiments');
  for (const g of groups(d.changes)) {
    out.push('');
    const element = g.element;
    if (element !== null) {
      // A whole list element added or removed (a LoRA target): one heading, its fields below.
      const s = g.changes[0]!.op === 'removed' ? 'a' : 'b';
      out.push(`${s === 'a' ? '-' : '+'} ${element}`);
      const rowsOf = g.changes.map((c) => { const x = (s === 'a' ? c.a : c.b)!; return [c.path.slice(element.length).replace(/^\./, ''), valueText(x.value), `${s}: ${x.origin}`]; });
      const w = [0, 1].map((i) => Math.max(...rowsOf.map((r) => r[i]!.length)));
      for (const r of rowsOf) out.push(`    ${r[0]!.padEnd(w[0]!)}  ${r[1]!.padEnd(w[1]!)}  ${r[2]}`);
      continue;
    }
    const c = g.changes[0]!;
    if (c.op === 'changed') out.push(`~ ${c.path}: ${valueText(c.a!.value)} -> ${valueText(c.b!.value)}`, `    a: ${c.a!.origin}`, `    b: ${c.b!.origin}`);
    else if (c.op === 'removed') out.push(`- ${c.path}: ${valueText(c.a!.value)}`, `    a: ${c.a!.origin}`);
    else out.push(`+ ${c.path}: ${valueText(c.b!.value)}`, `    b: ${c.b!.origin}`);
  }
  const eff = d.effect.filter((f) => f.a !== f.b);
  out.push('', eff.length ? 'effect on the build report:' : 'effect on the build report: none (parameters, memory and FLOPs are the same)');
  const table = eff.map((f) => [f.label, figureText(f.kind, f.a), figureText(f.kind, f.b), deltaText(f)]);
  if (table.length) {
    const head = ['', 'a', 'b', 'change'];
    const w = head.map((h, i) => Math.max(h.length, ...table.map((r) => r[i]!.length)));
    for (const r of [head, ...table]) out.push('  ' + r.map((c, i) => (i === 0 ? c.padEnd(w[i]!) : c.padStart(w[i]!))).join('  '));
  }
  return out.join('\n') + '\n';
}

const md = (s: string) => s.replace(/\|/g, '\\|');
const code = (s: string) => `\`${s.replace(/`/g, "'")}\``;

export function diffMarkdown(d: DiffResult): string {
  const out = [`### medctc diff: \`${d.a.name}\` → \`${d.b.name}\``, '', `- a: ${code(d.a.ref)}`, `- b: ${code(d.b.ref)}`, ''];
  if (d.changes.length === 0) out.push('No differences in the resolved experiments.', '');
  else {
    out.push('| | value | a | b | from (a) | from (b) |', '|---|---|---|---|---|---|');
    const sym = { changed: '~', added: '+', removed: '−' } as const;
    for (const c of d.changes) {
      out.push(`| ${sym[c.op]} | ${code(c.path)} | ${c.a ? md(code(valueText(c.a.value))) : ''} | ${c.b ? md(code(valueText(c.b.value))) : ''} | ${c.a ? md(c.a.origin) : ''} | ${c.b ? md(c.b.origin) : ''} |`);
    }
    out.push('');
  }
  const eff = d.effect.filter((f) => f.a !== f.b);
  if (eff.length === 0) out.push('Effect on the build report: none (parameters, memory and FLOPs are the same).');
  else {
    out.push('| effect | a | b | change |', '|---|---:|---:|---:|');
    for (const f of eff) out.push(`| ${f.label} | ${figureText(f.kind, f.a)} | ${figureText(f.kind, f.b)} | ${deltaText(f)} |`);
  }
  return out.join('\n') + '\n';
}
