// `extends`: a child experiment's block laid over its parent's. Deep override, key by key:
// - an entry whose key the parent lacks is added (in the child's order, after the parent's);
// - a block entry present in both with the same arguments (`data ct_rate {...}`) merges recursively;
// - anything else (a scalar, a list, a block with different arguments such as `data synthetic`
//   over `data ct_rate`) replaces the parent's entry in place;
// - `target` entries form one list: if the child has any, they replace all of the parent's;
//   `layers ENCODER` replaces only the parent's entry for the same encoder.
import { stripPositions, type Block, type Entry, type ExperimentDecl } from '../../grammar/ast.js';
import { diag } from '../../base/diagnostics/catalog.js';
import type { Diagnostic } from '../../base/diagnostics/types.js';
import type { Program } from './program.js';
import { didYouMean } from './suggest.js';

export interface Flattened {
  entries: Entry[];
  /** Name of the experiment that wrote each entry (the experiment itself or an ancestor). */
  definedIn: WeakMap<Entry, string>;
}

const sameArgs = (a: Entry, b: Entry): boolean => JSON.stringify(stripPositions(a.args)) === JSON.stringify(stripPositions(b.args));

const slotOf = (e: Entry): string => (e.key === 'layers' && e.args[0]?.kind === 'ident' ? `layers:${e.args[0].name}` : e.key);

export function mergeEntries(parent: Entry[], child: Entry[], tag: (copy: Entry, from: Entry) => void = () => {}): Entry[] {
  const out = [...parent];
  let targetsReplaced = false;
  for (const c of child) {
    if (c.key === 'target') {
      if (!targetsReplaced) {
        for (let i = out.length - 1; i >= 0; i--) if (out[i]!.key === 'target' && parent.includes(out[i]!)) out.splice(i, 1);
        targetsReplaced = true;
      }
      out.push(c);
      continue;
    }
    const i = out.findIndex((p) => parent.includes(p) && slotOf(p) === slotOf(c));
    if (i < 0) { out.push(c); continue; }
    const p = out[i]!;
    if (p.block && c.block && sameArgs(p, c)) {
      const block: Block = { ...c.block, entries: mergeEntries(p.block.entries, c.block.entries, tag) };
      const merged: Entry = { ...c, block };
      tag(merged, c);
      out[i] = merged;
    } else out[i] = c;
  }
  return out;
}

/** Experiments already flattened in one check (null: failed, already reported), so that a chain
 *  of n `extends` costs O(n) however many of its experiments are checked. */
export class FlattenMemo {
  readonly done = new Map<ExperimentDecl, Entry[] | null>();
  /** One map for every experiment: an entry object is written by exactly one experiment. */
  readonly definedIn = new WeakMap<Entry, string>();
}

/** The experiment's entries with every ancestor's folded in, or null after reporting an error. */
export function flatten(prog: Program, name: string, diags: Diagnostic[], memo = new FlattenMemo()): Flattened | null {
  const { done, definedIn } = memo;
  const start = prog.experiments.get(name);
  if (!start) return null;
  // Up the chain until an ancestor already flattened (or the root); a Set, not a scan, finds cycles.
  const chain: { decl: ExperimentDecl; file: string }[] = [];
  const onChain = new Set<ExperimentDecl>();
  let cur: { decl: ExperimentDecl; file: string } | undefined = start;
  let base: Entry[] = [];
  const fail = (): null => { for (const c of chain) done.set(c.decl, null); return null; };
  while (cur) {
    const known = done.get(cur.decl);
    if (known === null) return fail();
    if (known !== undefined) { base = known; break; }
    if (onChain.has(cur.decl)) {
      const names = [...chain.map((c) => c.decl.name), cur.decl.name].join(' -> ');
      const last = chain[chain.length - 1]!;
      diags.push(diag('E2023', `\`extends\` cycle: ${names}`, { file: last.file, ...last.decl.parent!, label: 'this closes the cycle' },
        { help: 'an experiment cannot extend itself, directly or through others' }));
      return fail();
    }
    chain.push(cur);
    onChain.add(cur.decl);
    const parent = cur.decl.parent;
    if (!parent) break;
    const next = prog.experiments.get(parent.name);
    if (!next) {
      const guess = didYouMean(parent.name, prog.experiments.keys());
      diags.push(diag('E2022', `no experiment named \`${parent.name}\``, { file: cur.file, start: parent.start, end: parent.end, label: 'not declared here or in an imported file' },
        guess ? { help: `did you mean \`${guess}\`?`, fix: { description: `replace with \`"${guess}"\``, edits: [{ span: { file: cur.file, start: parent.start, end: parent.end }, replacement: JSON.stringify(guess) }] } }
          : { help: 'import the file that declares it: `import "file.medct"`' }));
      return fail();
    }
    cur = next;
  }
  let entries = base;
  for (const link of chain.reverse()) {
    mark(link.decl.block.entries, link.decl.name, definedIn);
    entries = mergeEntries(entries, link.decl.block.entries, (copy, from) => {
      definedIn.set(copy, definedIn.get(from)!);
      prog.fileOf.set(copy, prog.fileOf.get(from)!);
    });
    done.set(link.decl, entries);
  }
  return { entries: [...entries], definedIn };
}

function mark(entries: Entry[], name: string, definedIn: WeakMap<Entry, string>): void {
  for (const e of entries) {
    definedIn.set(e, name);
    if (e.block) mark(e.block.entries, name, definedIn);
  }
}
