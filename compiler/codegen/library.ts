// Kernel sources as the runtime receives them. A KernelSource is one kernel for one target (the
// text a device compiles, its entry points and launch geometry, its bindings and the spec it
// computes); a KernelLibrary answers the source of a plan step's kernel. The build folder is one
// library (kernels/index.json + kernels/<name>.<ext>, hashed in medctc.lock, loaded by
// runtime/exec/library.ts); `emittedLibrary` generates sources in memory for tests and benchmarks.
import type { Binding } from '../kernels/bindings.js';
import { kernelBindings } from '../kernels/bindings.js';
import { kernelName, type KernelSpec } from '../kernels/spec.js';
import type { Plan } from '../plan/types.js';
import { emitKernel, TARGETS, type Launch } from './emit.js';
import type { TargetName } from './target.js';

export type { Launch } from './emit.js';

export interface KernelSource {
  /** kernelName(spec): the file stem in the build's kernels/. */
  name: string;
  /** What it computes: the reference interprets it; the other devices read only its bindings. */
  spec: KernelSpec;
  bindings: Binding[];
  /** The source language, or null for the TypeScript reference (which interprets `spec`). */
  target: TargetName | null;
  source: string | null;
  /** Entry points, dispatched in order with the same buffers (empty for the reference). */
  launches: Launch[];
}

export interface KernelLibrary {
  /** The target's source of kernel `name` (a plan step's `kernel`); throws when the library lacks it. */
  source(name: string, spec: KernelSpec): KernelSource;
}

/** kernels/index.json: every kernel of the build, its spec and bindings, and per target its file and launches. */
export interface KernelIndex {
  indexVersion: 1;
  kernels: Record<string, { spec: KernelSpec; bindings: Binding[]; targets: Partial<Record<TargetName, { file: string; launches: Launch[] }>> }>;
}

/** One kernel for one target, generated now. */
export function kernelSource(spec: KernelSpec, target: TargetName | null): KernelSource {
  if (target === null) return { name: kernelName(spec), spec, bindings: kernelBindings(spec), target: null, source: null, launches: [] };
  const k = emitKernel(spec, target);
  return { name: k.name, spec, bindings: k.bindings, target, source: k.source, launches: k.launches };
}

/** Sources generated in memory on first use (tests, benchmarks, the ONNX-free paths). */
export function emittedLibrary(target: TargetName | null): KernelLibrary {
  const cache = new Map<string, KernelSource>();
  return {
    source(name, spec) {
      let k = cache.get(name);
      if (!k) { k = kernelSource(spec, target); cache.set(name, k); }
      return k;
    },
  };
}

/** The device kernels the plans' steps dispatch (compiler/plan/lower.ts lowers every plan kernel
 *  once), deduplicated by kernel name and sorted by it: exactly the sources that run. */
export function planKernelSpecs(plans: (Plan | null)[]): KernelSpec[] {
  const byName = new Map<string, KernelSpec>();
  for (const p of plans) for (const k of p?.kernels ?? []) for (const st of k.steps) if (!byName.has(st.kernel)) byName.set(st.kernel, st.spec);
  return [...byName.keys()].sort().map((n) => byName.get(n)!);
}

/** Every file of kernels/ (relative name -> text): the sources per target and index.json. */
export function kernelFiles(specs: KernelSpec[], targets: readonly TargetName[]): Map<string, string> {
  const files = new Map<string, string>();
  const index: KernelIndex = { indexVersion: 1, kernels: {} };
  for (const spec of specs) {
    const name = kernelName(spec);
    const entry: KernelIndex['kernels'][string] = { spec, bindings: kernelBindings(spec), targets: {} };
    for (const t of targets) {
      const k = emitKernel(spec, t);
      const file = `${name}.${TARGETS[t].ext}`;
      files.set(file, k.source);
      entry.targets[t] = { file, launches: k.launches };
    }
    index.kernels[name] = entry;
  }
  files.set('index.json', JSON.stringify(index, null, 1) + '\n');
  return files;
}
