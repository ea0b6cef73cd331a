// `medctc explain`: a resolved experiment as rows of (path, value, where the value came from),
// read from the IR's provenance map (compiler/check: every leaf has an entry: a source position,
// `default`, `inherited` from a parent experiment, or a `sweep` variant's value). A list of
// scalars is one row (the pathology list, a HU window); lists of objects (LoRA targets) are
// expanded. The same rows are what `medctc diff` compares.
import { didYouMean } from '../../compiler/check/suggest.js';
import { diag } from '../../base/diagnostics/catalog.js';
import { DiagnosticError } from '../../base/diagnostics/types.js';
import type { Provenance, ResolvedExperiment } from '../../compiler/ir/experiment.js';

export interface Row {
  /** Dotted path, `lora.targets[0].rank`. */
  path: string;
  /** JSON Pointer into the IR, `/lora/targets/0/rank`. */
  pointer: string;
  keys: string[];
  value: unknown;
  provenance: Provenance | { kind: string; [k: string]: unknown };
  /** The provenance in words: `examples/a.medct:8:8`, `default`, `... (inherited from medct-vlm)`, `... (sweep variant rank=8)`. */
  origin: string;
}

const esc = (k: string) => k.replace(/~/g, '~0').replace(/\//g, '~1');
const isScalar = (v: unknown) => v === null || typeof v !== 'object';

export function dotted(keys: readonly string[]): string {
  return keys.map((k, i) => (/^\d+$/.test(k) ? `[${k}]` : i === 0 ? k : `.${k}`)).join('');
}

/** Provenance in words. `variant` names the sweep binding a `sweep` position belongs to. */
export function originText(p: Row['provenance'] | undefined, exp: ResolvedExperiment): string {
  if (!p || p.kind === 'default') return 'default';
  const at = p as { kind: string; file?: unknown; line?: unknown; col?: unknown; from?: unknown };
  const pos = typeof at.file === 'string' ? `${at.file}:${String(at.line)}:${String(at.col)}` : '';
  if (p.kind === 'source') return pos;
  if (p.kind === 'inherited') return `${pos} (inherited from ${String(at.from)})`;
  if (p.kind === 'sweep') {
    const bound = Object.entries(exp.variant?.bindings ?? {}).filter(([k]) => {
      const b = exp.provenance[`/variant/bindings/${esc(k)}`];
      return b && b.kind === 'sweep' && b.file === at.file && b.line === at.line && b.col === at.col;
    });
    const what = bound.length ? bound.map(([k, v]) => `${k}=${String(v)}`).join(', ') : Object.entries(exp.variant?.bindings ?? {}).map(([k, v]) => `${k}=${String(v)}`).join(', ');
    return `${pos} (sweep variant ${what})`;
  }
  if (p.kind === 'override') return `command line (--set ${String((p as { arg?: unknown }).arg)})`;
  // A provenance kind this build does not know yet (e.g. a command-line override): say what it is.
  const rest = Object.entries(p).filter(([k]) => !['kind', 'file', 'line', 'col'].includes(k)).map(([k, v]) => `${k} ${JSON.stringify(v)}`);
  return [pos, `(${p.kind.replace(/_/g, ' ')}${rest.length ? `: ${rest.join(', ')}` : ''})`].filter(Boolean).join(' ');
}

/** Every value of the experiment in document order (name and variant first, as the IR has them). */
export function rows(exp: ResolvedExperiment): Row[] {
  const out: Row[] = [];
  const prov = exp.provenance as Record<string, Row['provenance']>;
  const walk = (v: unknown, keys: string[]): void => {
    const pointer = keys.length ? '/' + keys.map(esc).join('/') : '';
    const scalarList = Array.isArray(v) && v.every(isScalar);
    if (isScalar(v) || scalarList || (typeof v === 'object' && Object.keys(v as object).length === 0)) {
      const p = prov[pointer] ?? (scalarList && v.length ? prov[`${pointer}/0`] : undefined) ?? { kind: 'default' };
      out.push({ path: dotted(keys), pointer, keys, value: v, provenance: p, origin: originText(p, exp) });
      return;
    }
    const entries = Array.isArray(v) ? v.map((x, i) => [String(i), x] as const) : Object.entries(v as object);
    for (const [k, x] of entries) walk(x, [...keys, k]);
  };
  const { provenance: _p, sources: _s, irVersion: _v, ...rest } = exp;
  walk(rest, []);
  return out;
}

const norm = (s: string) => s.toLowerCase().replace(/[_-]/g, '');

/** Query segments: `lora.targets[0].rank`, `lora.targets.0.rank` and `/lora/targets/0/rank` are the same. */
function segments(q: string): string[] {
  if (q.startsWith('/')) return q.slice(1).split('/').map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'));
  return q.replace(/\[(\d+)\]/g, '.$1').split('.').filter(Boolean);
}

/**
 * Does query `qs` select a row with IR keys `ks`? The first segment names a top-level field; each
 * later one a field somewhere below the previous (intermediate levels may be left out:
 * `lora.rank` is every `lora.targets[i].rank`, `train.lr` is `train.optimizer.lr`). Everything
 * below the last segment is selected. `prefix` lets a segment abbreviate a key (`train.batch` ->
 * `batchSize`, `data.preprocess.window` -> `windowHU`); used only when no key matches exactly.
 */
function selects(qs: string[], ks: string[], prefix: boolean): boolean {
  const eq = (q: string, k: string) => norm(k) === norm(q) || (prefix && !/^\d+$/.test(q) && norm(k).startsWith(norm(q)));
  const go = (qi: number, ki: number, anchored: boolean): boolean => {
    if (qi === qs.length) return true;
    // An index into a list shown as one row (a scalar list) selects that row.
    if (ki === ks.length) return qs.slice(qi).every((q) => /^\d+$/.test(q)) && qi > 0;
    for (let k = ki; k < (anchored ? ki + 1 : ks.length); k++) if (eq(qs[qi]!, ks[k]!) && go(qi + 1, k + 1, false)) return true;
    return false;
  };
  return go(0, 0, true);
}

/** The rows PATH queries select, in document order; an unknown PATH is E0010 (with a suggestion). */
export function narrow(all: Row[], queries: readonly string[]): Row[] {
  if (queries.length === 0) return all;
  const chosen = new Set<Row>();
  for (const q of queries) {
    const qs = segments(q);
    let hit = all.filter((r) => selects(qs, r.keys, false));
    if (hit.length === 0) hit = all.filter((r) => selects(qs, r.keys, true));
    if (hit.length === 0) {
      const names = new Set<string>();
      for (const r of all) {
        const ks = r.keys.filter((k) => !/^\d+$/.test(k));
        for (let i = 1; i <= ks.length; i++) { names.add(ks.slice(0, i).join('.')); names.add(`${ks[0]}.${ks[i - 1]}`); }
      }
      const near = didYouMean(qs.join('.'), names);
      throw new DiagnosticError(diag('E0010', `the experiment has no value at \`${q}\``, null, {
        help: near ? `did you mean \`${near}\`?` : `top-level fields: ${[...new Set(all.map((r) => r.keys[0]))].join(', ')}`,
      }));
    }
    for (const r of hit) chosen.add(r);
  }
  return all.filter((r) => chosen.has(r));
}

/** A value as the spec language writes it (`none` for null, strings quoted). */
export function valueText(v: unknown): string {
  if (v === null) return 'none';
  if (typeof v === 'string') return JSON.stringify(v);
  if (Array.isArray(v)) return `[${v.map(valueText).join(', ')}]`;
  if (typeof v === 'object') return `{ ${Object.entries(v as object).map(([k, x]) => `${k} ${valueText(x)}`).join(', ')} }`;
  return String(v);
}
