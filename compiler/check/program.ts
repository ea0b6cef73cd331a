// Loading a spec and everything it imports: files are read through one `readFile` (the only I/O
// checking ever does), parsed, and indexed by experiment name and constant name.
import { statSync } from 'node:fs';
import { posix, resolve } from 'node:path';
import { parseMedct } from '../../grammar/parse.js';
import type { Entry, ExperimentDecl, ImportDecl, LetDecl, MedctFile, Value } from '../../grammar/ast.js';
import { diag } from '../../base/diagnostics/catalog.js';
import type { Diagnostic } from '../../base/diagnostics/types.js';
import { fileErrorText, NotARegularFile, readRegularFile, regularFileProblem } from '../../base/files.js';

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

/** A spec file longer than this (characters) is refused before it is parsed: real specs are a few
 *  kilobytes, and the parser keeps every token with its position, so an unbounded file would end
 *  in an out-of-memory abort rather than a diagnostic. */
export const MAX_SPEC_CHARS = 256 << 10;
/** The same bound for a spec and everything it imports together. */
export const MAX_PROGRAM_CHARS = 1 << 20;

/** Thrown by a ReadFile for a file too large to read; carries its size. */
export class SpecTooLarge extends Error {
  constructor(readonly size: number) { super(`spec file of ${size} bytes`); }
}

/** The default reader: refuses a huge file by its size before reading any of it. */
export const readSpecFile: ReadFile = (p) => {
  const why = regularFileProblem(p); // a FIFO would block the read forever
  if (why) throw new NotARegularFile(p, why);
  const size = statSync(p).size;
  if (size > MAX_SPEC_CHARS * 4) throw new SpecTooLarge(size); // 4 bytes per character at most in UTF-8
  return readRegularFile(p, 'utf8');
};

/** Why a spec (or, with `at`, an import) cannot be read, as a diagnostic (E1007 too large, E2020). */
export function specReadDiagnostic(path: string, e: unknown, at: { file: string; start: number; end: number } | null): Diagnostic {
  const where = at ?? { file: path, start: 0, end: 0 };
  if (e instanceof SpecTooLarge) {
    return diag('E1007', `\`${path}\` is ${kib(e.size)}, more than a spec may be (${kib(MAX_SPEC_CHARS)})`, { ...where, label: 'too large' },
      { help: 'a spec is a few kilobytes of settings; is this the right file?' });
  }
  const why = e instanceof NotARegularFile ? e.why : fileErrorText(e);
  return at
    ? diag('E2020', `cannot read imported file \`${path}\`: it ${why}`, { ...at, label: why.startsWith('does not exist') ? 'no such file' : 'not a readable file' }, { help: 'import paths are relative to the importing file' })
    : diag('E2020', `cannot read \`${path}\`: it ${why}`, where, { help: 'name a .medct spec file' });
}

const normal = (p: string): string => {
  const n = posix.normalize(p.replace(/\\/g, '/'));
  return n.startsWith('./') ? n.slice(2) : n;
};

/** Where imports may lead: the entry file's folder, unless widened (CheckOptions.importRoot, or
 *  the MEDCTC_IMPORT_ROOT environment variable, for every command). */
export function importRootFor(entry: string, widened: string | undefined = process.env.MEDCTC_IMPORT_ROOT || undefined): string {
  return widened ? resolve(widened).replace(/\\/g, '/') : posix.dirname(normal(entry));
}

function inside(root: string, path: string): boolean {
  const rel = posix.relative(resolve(root).replace(/\\/g, '/'), resolve(path).replace(/\\/g, '/'));
  return rel === '' || (!rel.startsWith('../') && rel !== '..' && !posix.isAbsolute(rel));
}

const kib = (n: number): string => `${Math.round(n / 1024)} KiB`;

export function loadProgram(entry: string, readFile: ReadFile = readSpecFile, importRoot = importRootFor(entry)): Program {
  const prog: Program = {
    entry: normal(entry), files: [], sources: new Map(), diagnostics: [], experiments: new Map(), scopes: new Map(), fileOf: new WeakMap(), silenced: new WeakSet(),
  };
  const byPath = new Map<string, LoadedFile>();
  let total = 0, full = false;

  /** Reads and parses one file; null after reporting why it cannot be (at `at`, the import). */
  const load = (path: string, at: { file: string; start: number; end: number } | null): LoadedFile | null => {
    const where = at ?? { file: path, start: 0, end: 0 };
    let text: string;
    try {
      text = readFile(path);
    } catch (e) {
      prog.diagnostics.push(specReadDiagnostic(path, e, at));
      return null;
    }
    total += text.length;
    if (text.length > MAX_SPEC_CHARS || total > MAX_PROGRAM_CHARS) {
      if (full) return null; // said once
      full = total > MAX_PROGRAM_CHARS;
      const whole = text.length <= MAX_SPEC_CHARS;
      prog.diagnostics.push(diag('E1007', whole
        ? `\`${path}\` brings the spec and its imports to ${kib(total)}, more than a spec may be (${kib(MAX_PROGRAM_CHARS)})`
        : `\`${path}\` is ${kib(text.length)}, more than a spec may be (${kib(MAX_SPEC_CHARS)})`, { ...where, label: 'too large' },
        { help: 'a spec is a few kilobytes of settings; is this the right file?' }));
      return null;
    }
    prog.sources.set(path, text);
    const { ast, diagnostics } = parseMedct(text, path);
    for (const d of diagnostics) prog.diagnostics.push(d);
    const file: LoadedFile = { path, ast, imports: [] };
    byPath.set(path, file);
    prog.files.push(file);
    return file;
  };

  const first = load(prog.entry, null);
  if (!first) return prog;
  // Depth first, in source order, without recursion: an import chain of any length loads.
  const stack: { file: LoadedFile; next: number }[] = [{ file: first, next: 0 }];
  const onStack = new Set<string>([first.path]);
  while (stack.length) {
    const top = stack[stack.length - 1]!;
    const items = top.file.ast.items;
    while (top.next < items.length && items[top.next]!.kind !== 'import') top.next++;
    if (top.next >= items.length) { onStack.delete(top.file.path); stack.pop(); continue; }
    const item = items[top.next++] as ImportDecl;
    const path = top.file.path;
    const target = normal(posix.join(posix.dirname(path), item.path));
    const at = { file: path, start: item.pathPos.start, end: item.pathPos.end };
    if (!inside(importRoot, target)) {
      prog.diagnostics.push(diag('E2026', `import \`${item.path}\` leads outside the project root \`${importRoot}\``, { ...at, label: 'outside the project root' },
        { help: 'imports stay inside the entry spec\'s folder; set MEDCTC_IMPORT_ROOT=DIR to allow imports anywhere under DIR' }));
      continue;
    }
    if (onStack.has(target)) {
      const chain = [...stack.slice(stack.findIndex((f) => f.file.path === target)).map((f) => f.file.path), target].join(' -> ');
      prog.diagnostics.push(diag('E2021', `import cycle: ${chain}`, { ...at, label: 'this import closes the cycle' },
        { help: 'move what both files need into a third file that imports neither' }));
      continue;
    }
    if (byPath.has(target)) { top.file.imports.push(target); continue; }
    const loaded = load(target, at);
    if (!loaded) continue;
    top.file.imports.push(target);
    stack.push({ file: loaded, next: 0 });
    onStack.add(target);
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
