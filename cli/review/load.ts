// Naming resolved experiments on the command line, for `medctc explain` and `medctc diff`:
//   FILE                 every experiment of a .medct spec (or a resolved experiment .json)
//   FILE#NAME            one experiment (or, for a sweep, the variants of NAME, or one variant by its full name)
//   FILE@REV[#NAME]      the file as git has it at revision REV (its imports at the same revision)
//   REV:FILE[#NAME]      the same, in `git show` spelling
// FILE is everything up to the first `.medct` / `.json` that is followed by `@`, `#` or the end;
// a string naming an existing file is always that file.
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { basename, dirname, resolve } from 'node:path';
import { checkFiles, validateExperiment } from '../../compiler/check/index.js';
import { diag } from '../../base/diagnostics/catalog.js';
import { DiagnosticError, fileDiagnostic, type Diagnostic } from '../../base/diagnostics/types.js';
import type { ResolvedExperiment } from '../../compiler/ir/experiment.js';
import { fileErrorText, readRegularFile } from '../../base/files.js';

export interface SpecRef {
  /** What the user typed. */
  text: string;
  file: string;
  rev: string | null;
  name: string | null;
}

export interface Loaded {
  ref: SpecRef;
  experiments: ResolvedExperiment[];
  diagnostics: Diagnostic[];
  sources: Map<string, string>;
}

export function parseRef(text: string): SpecRef {
  if (existsSync(text)) return { text, file: text, rev: null, name: null };
  const gitStyle = /^([^:/\\][^:]*):(.+?\.(?:medct|json))(?:#(.+))?$/.exec(text);
  if (gitStyle && !existsSync(gitStyle[1]!)) return { text, file: gitStyle[2]!, rev: gitStyle[1]!, name: gitStyle[3] ?? null };
  const m = /^(.+?\.(?:medct|json))(?:@([^#]+))?(?:#(.+))?$/.exec(text);
  if (m) return { text, file: m[1]!, rev: m[2] ?? null, name: m[3] ?? null };
  return { text, file: text, rev: null, name: null };
}

/** Reads `path` as git has it at `rev` (path relative to the working directory or absolute). */
export function gitShow(rev: string, path: string): string {
  const abs = resolve(path);
  try {
    return execFileSync('git', ['-C', dirname(abs), 'show', `${rev}:./${basename(abs)}`], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 64 << 20 });
  } catch (e) {
    const err = e as { stderr?: string | Buffer; code?: string };
    const why = err.code === 'ENOENT' ? 'git is not installed' : String(err.stderr ?? '').trim().split('\n')[0] || 'git show failed';
    throw new DiagnosticError(fileDiagnostic('E0012', `cannot read \`${path}\` at revision \`${rev}\`: ${why}`, path,
      { help: 'name a commit, branch or tag of the repository holding the file, e.g. `FILE@HEAD~1`' }));
  }
}

function readJsonExperiments(file: string, text: string): ResolvedExperiment[] {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (e) {
    throw new DiagnosticError(fileDiagnostic('E3022', `cannot read resolved experiment: ${(e as Error).message}`, file));
  }
  const exps = (Array.isArray(v) ? v : [v]) as ResolvedExperiment[];
  const problems = exps.flatMap((e, i) => validateExperiment(e).map((p) => `experiment ${i}: ${p}`));
  if (problems.length) {
    throw new DiagnosticError(fileDiagnostic('E3022', `not a valid resolved experiment: ${problems.slice(0, 5).join('; ')}`, file, { help: 'see spec/experiment.schema.json' }));
  }
  return exps;
}

/** Checks the spec the ref names; `experiments` is empty when it has errors (see `diagnostics`). */
export function loadRef(text: string, overrides: readonly string[] = []): Loaded {
  const ref = parseRef(text);
  const read = ref.rev === null ? undefined : (p: string) => gitShow(ref.rev!, p);
  if (ref.file.endsWith('.json')) {
    if (overrides.length) {
      throw new DiagnosticError(fileDiagnostic('E0013', `--set applies to a .medct spec; \`${ref.file}\` is a resolved experiment`, ref.file, { help: 'override in the spec the experiment was resolved from' }));
    }
    let body: string;
    if (read) body = read(ref.file);
    else {
      try {
        body = readRegularFile(ref.file, 'utf8');
      } catch (e) {
        throw new DiagnosticError(fileDiagnostic('E3022', `cannot read resolved experiment ${ref.file}: it ${fileErrorText(e)}`, ref.file));
      }
    }
    return { ref, experiments: select(ref, readJsonExperiments(ref.file, body)), diagnostics: [], sources: new Map() };
  }
  if (read) read(ref.file); // a missing file at the revision is E0012, not "imported file not found"
  const r = checkFiles(ref.file, { ...(read ? { readFile: read } : {}), overrides });
  const failed = r.diagnostics.some((d) => d.severity === 'error');
  if (failed) return { ref, experiments: [], diagnostics: r.diagnostics, sources: r.sources };
  if (r.experiments.length === 0) {
    return { ref, experiments: [], diagnostics: [...r.diagnostics, diag('E3021', `\`${ref.file}\` defines no experiment`, null)], sources: r.sources };
  }
  return { ref, experiments: select(ref, r.experiments), diagnostics: r.diagnostics, sources: r.sources };
}

/** `#NAME`: the experiment of that name, or every variant of the sweep NAME. */
function select(ref: SpecRef, exps: ResolvedExperiment[]): ResolvedExperiment[] {
  if (ref.name === null) return exps;
  const exact = exps.filter((e) => e.name === ref.name);
  const picked = exact.length ? exact : exps.filter((e) => e.variant?.base === ref.name);
  if (picked.length === 0) {
    throw new DiagnosticError(fileDiagnostic('E0011', `\`${ref.file}\`${ref.rev ? ` at ${ref.rev}` : ''} has no experiment \`${ref.name}\``, ref.file,
      { help: `its experiments: ${exps.map((e) => `\`${e.name}\``).join(', ')}` }));
  }
  return picked;
}

/** Exactly one experiment, for `diff`: a file with several needs `#NAME`. */
export function single(l: Loaded): ResolvedExperiment {
  if (l.experiments.length === 1) return l.experiments[0]!;
  throw new DiagnosticError(fileDiagnostic('E0011', `\`${l.ref.text}\` holds ${l.experiments.length} experiments; diff compares one with one`, l.ref.file,
    { help: `name one: ${l.experiments.map((e) => `\`${l.ref.file}${l.ref.rev ? `@${l.ref.rev}` : ''}#${e.name}\``).join(', ')}` }));
}
