// A build folder as the runtime reads it: medctc.lock, the resolved experiment and the plans, each
// checked against the lock's sha256 (runtime/exec/library.ts readLocked), plus the kernel library
// for the device's source language. `medctc run BUILD_DIR` runs exactly this; `medctc run FILE`
// writes the folder first and then reads it back the same way, so both run the same bytes.
import { existsSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { DiagnosticError, fileDiagnostic } from '../../base/diagnostics/types.js';
import { sha256 } from '../../base/hash.js';
import type { ResolvedExperiment } from '../../compiler/ir/experiment.js';
import type { BuildReport } from '../../compiler/report/params.js';
import { validatePlan } from '../../compiler/plan/validate.js';
import { PLAN_VERSION, type Plan } from '../../compiler/plan/types.js';
import type { KernelLibrary } from '../../compiler/codegen/library.js';
import type { TargetName } from '../../compiler/codegen/target.js';
import { buildLibrary, readLocked, type LockedFiles } from '../exec/library.js';
import { readRegularFile } from '../../base/files.js';

export interface BuiltExperiment {
  dir: string;
  experiment: ResolvedExperiment;
  plans: { eval: Plan; train: Plan | null };
  /** report.json: parameter counts, memory and FLOPs as the build computed them. */
  report: BuildReport;
  /** Folder the experiment's relative paths resolve against (the spec's folder at build time). */
  baseDir: string;
  /** sha256 of medctc.lock: names the exact build in run.json. */
  lockSha256: string;
  lock: LockedFiles;
  /** The build's kernels for a device's source language (null: the reference). */
  kernels(target: TargetName | null): KernelLibrary;
}

export const isBuildFolder = (path: string): boolean => {
  try { return statSync(path).isDirectory() && existsSync(join(path, 'medctc.lock')); } catch { return false; }
};

interface Lock { lockVersion: number; experiment: string; specDir?: string; outputs: Record<string, string>; plans: { eval: string; train: string | null } }

export function readBuild(dirIn: string): BuiltExperiment {
  const dir = resolve(dirIn);
  const lockFile = join(dir, 'medctc.lock');
  let raw: Buffer;
  try {
    raw = readRegularFile(lockFile);
  } catch {
    throw new DiagnosticError(fileDiagnostic('E5569', `\`${dirIn}\` is not a build folder: it has no medctc.lock`, dirIn,
      { help: 'write one with `medctc build FILE --out DIR`, or run the spec file itself' }));
  }
  let lock: Lock;
  try {
    lock = JSON.parse(raw.toString('utf8')) as Lock;
    if (lock.lockVersion !== 2 || typeof lock.outputs !== 'object' || !lock.plans) throw new Error('unknown layout');
  } catch (e) {
    throw new DiagnosticError(fileDiagnostic('E5569', `${lockFile} is not a medctc.lock this version reads (${(e as Error).message})`, lockFile,
      { help: 'rebuild the folder with this medctc: `medctc build FILE --out DIR`' }));
  }
  const locked: LockedFiles = { dir, outputs: lock.outputs };
  const json = <T>(rel: string): T => JSON.parse(readLocked(locked, rel).toString('utf8')) as T;
  const plan = (rel: string): Plan => {
    const p = json<Plan>(rel);
    if (p.planVersion !== PLAN_VERSION) {
      throw new DiagnosticError(fileDiagnostic('E5569', `${join(dir, rel)} is plan version ${p.planVersion}; this medctc runs version ${PLAN_VERSION}`, join(dir, rel),
        { help: 'rebuild the folder with this medctc' }));
    }
    const problems = validatePlan(p);
    if (problems.length) throw new Error(`internal: ${rel} matches its lock but is not a valid plan: ${problems.slice(0, 3).join('; ')}`);
    return p;
  };
  const libraries = new Map<TargetName | null, KernelLibrary>();
  return {
    dir,
    experiment: json<ResolvedExperiment>('experiment.json'),
    plans: { eval: plan('plan.eval.json'), train: lock.plans.train ? plan('plan.train.json') : null },
    report: json<BuildReport>('report.json'),
    baseDir: resolve(dir, lock.specDir ?? '.'),
    lockSha256: sha256(raw),
    lock: locked,
    kernels(target) {
      let l = libraries.get(target);
      if (!l) { l = buildLibrary(locked, target); libraries.set(target, l); }
      return l;
    },
  };
}
