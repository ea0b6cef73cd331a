// The `.medct` AST: what the parser's CST means, with byte offsets for every node. Values stay
// untyped here (a number, a string, an identifier, a list...); compiler/check gives them meaning.

export interface Pos { start: number; end: number }

export interface UnitTag extends Pos { name: string }

export type Value =
  | (Pos & { kind: 'number'; value: number; raw: string; unit: UnitTag | null })
  | (Pos & { kind: 'string'; value: string; raw: string })
  | (Pos & { kind: 'ident'; name: string })
  | (Pos & { kind: 'bool'; value: boolean })
  | (Pos & { kind: 'list'; items: Value[]; unit: UnitTag | null })
  | (Pos & { kind: 'sweep'; items: Value[]; unit: UnitTag | null })
  /** Stands in for a value the parser could not read; already reported, so the checker stays silent about it. */
  | (Pos & { kind: 'error' });

export interface Entry extends Pos {
  kind: 'entry';
  key: string;
  keyPos: Pos;
  args: Value[];
  block: Block | null;
}

export interface Block extends Pos { entries: Entry[] }

export interface ImportDecl extends Pos { kind: 'import'; path: string; pathPos: Pos }

export interface LetDecl extends Pos { kind: 'let'; constant: boolean; name: string; namePos: Pos; value: Value }

export interface ExperimentDecl extends Pos {
  kind: 'experiment';
  name: string;
  namePos: Pos;
  parent: (Pos & { name: string }) | null;
  block: Block;
}

export type TopItem = ImportDecl | LetDecl | ExperimentDecl;

export interface Comment extends Pos { text: string }

export interface MedctFile {
  items: TopItem[];
  comments: Comment[];
}

/** A copy of `node` with every offset removed: for comparing trees across reformatting. */
export function stripPositions(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(stripPositions);
  if (node && typeof node === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(node)) {
      if (k === 'start' || k === 'end' || k === 'raw' || k === 'keyPos' || k === 'namePos' || k === 'pathPos') continue;
      out[k] = stripPositions(v);
    }
    return out;
  }
  return node;
}
