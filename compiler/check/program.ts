// Loading a spec and everything it imports: files are read through one `readFile` (the only I/O
// checking ever does), parsed, and indexed by experiment name and constant name.
import { readFileSync } from 'node:fs';
import { posix } from 'node:path';
import { parseMedct } from '../../grammar/parse.js';
import type { Entry, ExperimentDecl, LetDecl, MedctFile, Value } from '../../grammar/ast.js';
import { diag } from '../../base/diagnostics/catalog.js';
import type { Diagnostic } from '../../base/diagnostics/types.js';

export interface LoadedFile {
  /** Path as shown to the user and used as the key of `sources`. */
  path: string;
  ast: MedctFile;
  /** Paths of the files this one imports, resolved. */
  imports: string[];
}

export interface Program {
  entry: string;
  files: LoadedFile[];
  sources: Map<string, string>;
  diagnostics: Diagnostic[];
  experiments: Map<string, { decl: ExperimentDecl; file: string }>;
  /** Constants each file can see: its own, then those of the files it imports directly. */
  scopes: Map<string, Map<string, { decl: LetDecl; file: string }>>;
  /** Nodes already reported as wrong: later stages stay silent about them (one mistake, one message). */
  silenced: WeakSet<object>;
  /** File every AST node (entry or value) came from. */
  fileOf: WeakMap<object, string>;
}

export type ReadFile = (path: string) => string;

const normal = (p: string): string => {
  const n = posix.normalize(p.replace(/\\/g, '/'));
  return n.startsWith('./') ? n.slice(2) : n;
};

export function loadProgram(entry: string, readFile: ReadFile = (p) => readFileSync(p, 'utf8')): Program {
  const prog: Program = {
    entry: normal(entry), files: [], sources: new Map(), diagnostics: [], experiments: new Map(), scopes: new Map(), fileOf: new WeakMap(), silenced: new WeakSet(),
  };
  const byPath = new Map<string, LoadedFile>();
  const stack: string[] = [];

  const load = (path: string): void => {
    let text: string;
    try {
      text = readFile(path);
    } catch {
      throw new Error(`unreadable: ${path}`); // callers turn this into E2020 at the right span
    }
    prog.sources.set(path, text);
    const { ast, diagnostics } = parseMedct(text, path);
    prog.diagnostics.push(...diagnostics);
    const file: LoadedFile = { path, ast, imports: [] };
    byPath.set(path, file);
    prog.files.push(file);
    stack.push(path);
    for (const item of ast.items) {
      if (item.kind !== 'import') continue;
      const target = normal(posix.join(posix.dirname(path), item.path));
      const at = { file: path, start: item.pathPos.start, end: item.pathPos.end };
      const cycleAt = stack.indexOf(target);
      if (cycleAt >= 0) {
        const chain = [...stack.slice(cycleAt), target].join(' -> ');
        prog.diagnostics.push(diag('E2021', `import cycle: ${chain}`, { ...at, label: 'this import closes the cycle' },
          { help: 'move what both files need into a third file that imports neither' }));
        continue;
      }
      file.imports.push(target);
      if (byPath.has(target)) continue;
      try {
        load(target);
      } catch {
        file.imports.pop();
        prog.diagnostics.push(diag('E2020', `cannot read imported file \`${target}\``, { ...at, label: 'no such file' },
          { help: 'import paths are relative to the importing file' }));
      }
    }
    stack.pop();
  };

  try {
    load(prog.entry);
  } catch {
    prog.diagnostics.push(diag('E2020', `cannot read \`${prog.entry}\``, { file: prog.entry, start: 0, end: 0 }, { help: 'check the path' }));
    return prog;
  }

  // Imported files first, so a clash is reported at the declaration in the importing file.
  for (const f of [...prog.files].reverse()) {
    const own = new Map<string, { decl: LetDecl; file: string }>();
    for (const item of f.ast.items) {
      tagFile(item.kind === 'experiment' ? item.block.entries : item.kind === 'let' ? [item.value] : [], f.path, prog.fileOf);
      if (item.kind === 'let') {
        const prev = own.get(item.name);
        if (prev) {
          prog.diagnostics.push(diag('E2011', `constant \`${item.name}\` is defined twice`, { file: f.path, ...item.namePos, label: 'defined again here' },
            { secondary: [{ file: f.path, ...prev.decl.namePos, label: 'first defined here' }], help: 'rename one of them' }));
        } else own.set(item.name, { decl: item, file: f.path });
      }
      if (item.kind === 'experiment') {
        const prev = prog.experiments.get(item.name);
        if (prev) {
          prog.diagnostics.push(diag('E2024', `experiment \`${item.name}\` is declared twice`, { file: f.path, ...item.namePos, label: 'declared again here' },
            { secondary: [{ file: prev.file, ...prev.decl.namePos, label: 'first declared here' }], help: 'experiment names must be unique across a spec and its imports' }));
        } else prog.experiments.set(item.name, { decl: item, file: f.path });
      }
    }
    prog.scopes.set(f.path, own);
  }
  for (const f of prog.files) {
    const scope = prog.scopes.get(f.path)!;
    for (const imp of f.imports) {
      for (const [name, c] of prog.scopes.get(imp) ?? []) if (!scope.has(name) && c.file === imp) scope.set(name, c);
    }
  }
  return prog;
}

function tagFile(nodes: (Entry | Value)[], file: string, fileOf: WeakMap<object, string>): void {
  for (const n of nodes) {
    fileOf.set(n, file);
    if ('kind' in n && n.kind === 'entry') {
      tagFile(n.args, file, fileOf);
      if (n.block) tagFile(n.block.entries, file, fileOf);
    } else if (n.kind === 'list' || n.kind === 'sweep') tagFile(n.items, file, fileOf);
  }
}
