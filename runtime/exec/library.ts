// The kernel library of a build folder: kernels/index.json and the sources of one target, each
// checked against the sha256 that medctc.lock recorded when `medctc build` wrote it. A file that
// is missing or differs is refused before anything runs (E5568), so the kernels a run executes
// are exactly the ones the build wrote and a reviewer can audit.

import { join } from 'node:path';
import { canonicalJson } from '../../compiler/build.js';
import type { KernelIndex, KernelLibrary, KernelSource } from '../../compiler/codegen/library.js';
import type { TargetName } from '../../compiler/codegen/target.js';
import { DiagnosticError, fileDiagnostic } from '../../base/diagnostics/types.js';
import { sha256 } from '../../base/hash.js';
import type { KernelSpec } from '../../compiler/kernels/spec.js';
import { fileErrorText, readRegularFile } from '../../base/files.js';

export interface LockedFiles {
  /** The build folder. */
  dir: string;
  /** relative path -> sha256, as medctc.lock `outputs` lists them. */
  outputs: Record<string, string>;
}

/** A build file's bytes after checking them against the lock; E5568 names the file otherwise. */
export function readLocked(lock: LockedFiles, rel: string): Buffer {
  const want = lock.outputs[rel];
  const where = join(lock.dir, 'medctc.lock');
  if (want === undefined) throw new DiagnosticError(fileDiagnostic('E5568', `\`${rel}\` is not in the build's medctc.lock`, where, { help: 'rebuild the folder with `medctc build`' }));
  let bytes: Buffer;
  try {
    bytes = readRegularFile(join(lock.dir, rel));
  } catch (e) {
    throw new DiagnosticError(fileDiagnostic('E5568', `\`${rel}\` is missing from the build folder (it ${fileErrorText(e)})`, where,
      { help: 'rebuild the folder with `medctc build`' }));
  }
  if (sha256(bytes) !== want) {
    throw new DiagnosticError(fileDiagnostic('E5568', `\`${join(lock.dir, rel)}\` was modified after the build: its sha256 differs from medctc.lock`, where,
      { help: 'a build folder runs exactly as it was written; rebuild it with `medctc build` (or restore the file)' }));
  }
  return bytes;
}

/** The build's kernels for `target` (null: the reference, which needs only the specs). */
export function buildLibrary(lock: LockedFiles, target: TargetName | null): KernelLibrary {
  const index = JSON.parse(readLocked(lock, 'kernels/index.json').toString('utf8')) as KernelIndex;
  const cache = new Map<string, KernelSource>();
  return {
    source(name: string, spec: KernelSpec): KernelSource {
      const hit = cache.get(name);
      if (hit) return hit;
      const entry = index.kernels[name];
      if (!entry) throw new Error(`internal: the plan runs kernel ${name}, which kernels/index.json does not list`);
      // The plan and the index come from one build (both locked): a differing spec is a bug.
      if (canonicalJson(entry.spec) !== canonicalJson(spec)) throw new Error(`internal: kernel ${name} in kernels/index.json is not the plan's`);
      let k: KernelSource;
      if (target === null) k = { name, spec: entry.spec, bindings: entry.bindings, target: null, source: null, launches: [] };
      else {
        const t = entry.targets[target];
        if (!t) throw new DiagnosticError(fileDiagnostic('E5568', `the build has no ${target} source for kernel ${name}`, join(lock.dir, 'kernels/index.json'),
          { help: `rebuild with a medctc that writes ${target} kernels` }));
        k = { name, spec: entry.spec, bindings: entry.bindings, target, source: readLocked(lock, `kernels/${t.file}`).toString('utf8'), launches: t.launches };
      }
      cache.set(name, k);
      return k;
    },
  };
}
