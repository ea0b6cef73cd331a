// `medctc build`: a resolved experiment -> graph -> LoRA -> eval and train plans -> report, and
// the build folder: experiment.json, plan.eval.json, plan.train.json (train experiments only),
// report.md, report.json, kernels/ (index.json and the WGSL, CUDA and C source of every kernel
// the plans' steps dispatch) and medctc.lock hashing all of them. The runtime runs a build folder
// as written: it loads these plans and kernels, checked against the lock, and lowers nothing.
// compileExperiment is pure (no I/O, no weights allocated); writeBuild does the writing.
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { writeFileAtomic } from '../base/atomic.js';
import { safetensorsHeaderHash, sha256, sha256File } from '../base/hash.js';
import { diag } from '../base/diagnostics/catalog.js';
import { DiagnosticError, type Diagnostic } from '../base/diagnostics/types.js';
import { verify } from './graph/verify.js';
import { kernelFiles, planKernelSpecs } from './codegen/library.js';
import { TARGETS } from './codegen/emit.js';
import type { TargetName } from './codegen/target.js';
import type { KernelSpec } from './kernels/spec.js';
import type { Graph } from './graph/types.js';
import type { ResolvedExperiment } from './ir/experiment.js';
import { buildModel } from './models/index.js';
import { attachLoss } from './passes/loss.js';
import { injectLora } from './passes/lora.js';
import { overridesOf, spanFor, type Sources } from './passes/provenance.js';
import { lowerPlan } from './plan/lower.js';
import type { Plan } from './plan/types.js';
import { validatePlan } from './plan/validate.js';
import { buildReport, type BuildReport } from './report/params.js';
import { renderReport } from './report/render.js';

export const COMPILER_NAME = 'medctc';
export const COMPILER_VERSION = '0.1.0';

export interface Compiled {
  experiment: ResolvedExperiment;
  /** The eval graph with adapters (what the parameter counts describe). */
  graph: Graph;
  /** The graphs each plan was lowered from (plan kernels' `ops` index these graphs' ops). */
  graphs: { eval: Graph; train: Graph | null };
  plans: { eval: Plan; train: Plan | null };
  report: BuildReport;
  /** Warnings (errors are thrown as DiagnosticError). */
  diagnostics: Diagnostic[];
}

/** Texts per eval step: the positive and negative prompt of every pathology. */
export function evalTextBatch(exp: ResolvedExperiment): number {
  return 2 * exp.prompts.pathologies.length;
}

function checkSizes(exp: ResolvedExperiment, sources?: Sources): void {
  const s = exp.model.image;
  const bad: [boolean, string, string][] = [
    [s.frames % s.temporalPatchSize !== 0, `frames ${s.frames} is not a multiple of temporalPatchSize ${s.temporalPatchSize}`, '/model/image/frames'],
    [s.imageSize % s.patchSize !== 0, `imageSize ${s.imageSize} is not a multiple of patchSize ${s.patchSize}`, '/model/image/imageSize'],
    [exp.model.text.hidden % exp.model.text.heads !== 0, `text hidden ${exp.model.text.hidden} is not a multiple of heads ${exp.model.text.heads}`, '/model/text/hidden'],
    [exp.model.text.maxLength > exp.model.text.maxPositions, `text maxLength ${exp.model.text.maxLength} exceeds maxPositions ${exp.model.text.maxPositions}`, '/model/text/maxLength'],
  ];
  const ds = bad.filter(([b]) => b).map(([, msg, ptr]) => diag('E3010', msg, spanFor(exp, sources, ptr)));
  if (ds.length) throw new DiagnosticError(ds);
}

/** Compiles one experiment (plan only: no weights are allocated). Throws DiagnosticError on user errors. */
export function compileExperiment(exp: ResolvedExperiment, sources?: Sources): Compiled {
  checkSizes(exp, sources);
  const evalBase = buildModel(exp.model, { imageBatch: 1, textBatch: evalTextBatch(exp) });
  const evalRes = injectLora(evalBase, exp, sources);
  const errors = evalRes.diagnostics.filter((d) => d.severity === 'error');
  if (errors.length) throw new DiagnosticError(evalRes.diagnostics);
  internalCheck(evalRes.graph, 'eval graph');
  const precision = exp.train?.precision ?? 'fp32';
  const evalPlan = lowerPlan(evalRes.graph, { mode: 'eval', experiment: exp.name, precision });
  let trainPlan: Plan | null = null;
  let trainGraph: Graph | null = null;
  if (exp.train) {
    const b = exp.train.batchSize;
    const texts = exp.train.loss === 'clip' ? b : evalTextBatch(exp);
    trainGraph = injectLora(attachLoss(buildModel(exp.model, { imageBatch: b, textBatch: texts }), exp.train.loss), exp, sources).graph;
    internalCheck(trainGraph, 'train graph');
    trainPlan = lowerPlan(trainGraph, { mode: 'train', experiment: exp.name, train: exp.train, precision });
  }
  for (const p of [evalPlan, trainPlan]) {
    if (!p) continue;
    const problems = validatePlan(p);
    if (problems.length) throw new Error(`internal: ${p.mode} plan is invalid:\n${problems.slice(0, 10).join('\n')}`);
  }
  return {
    experiment: exp, graph: evalRes.graph, graphs: { eval: evalRes.graph, train: trainGraph }, plans: { eval: evalPlan, train: trainPlan },
    report: buildReport(evalRes.graph, evalPlan, trainPlan, exp), diagnostics: evalRes.diagnostics,
  };
}

function internalCheck(g: Graph, what: string): void {
  const errs = verify(g);
  if (errs.length) throw new Error(`internal: ${what} fails verification:\n${errs.slice(0, 10).join('\n')}`);
}

// ------------------------------------------------------------------ artifacts

/** JSON with object keys sorted at every level: stable bytes for equal values. */
export function canonicalJson(value: unknown): string {
  const sortKeys = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.map(sortKeys);
    if (v && typeof v === 'object') {
      return Object.fromEntries(Object.keys(v).sort().map((k) => [k, sortKeys((v as Record<string, unknown>)[k])]));
    }
    return v;
  };
  return JSON.stringify(sortKeys(value), null, 2) + '\n';
}

/** Build outputs are atomic but not fsynced one by one: the lock, written last and synced, says
 *  which content the folder must hold, and the runtime checks every file against it. */
const writeArtifact = (file: string, data: string | Uint8Array): void => writeFileAtomic(file, data, { sync: false });

/** Files the build folder holds, relative path -> content (before kernels and the lock). */
export function artifactFiles(c: Compiled): Map<string, string> {
  const files = new Map<string, string>();
  files.set('experiment.json', canonicalJson(c.experiment));
  files.set('plan.eval.json', canonicalJson(c.plans.eval));
  if (c.plans.train) files.set('plan.train.json', canonicalJson(c.plans.train));
  files.set('report.md', renderReport(c.report));
  files.set('report.json', canonicalJson(c.report));
  return files;
}

/** Every source language the build writes (kernels/<name>.wgsl, .cu, .c). */
export const KERNEL_TARGETS = Object.keys(TARGETS) as TargetName[];

/** Writes kernels/ for the dispatched specs and removes kernel sources a previous build left
 *  there, so the folder (and the lock) lists exactly this build's kernels. */
function writeKernels(specs: KernelSpec[], dir: string): void {
  const files = kernelFiles(specs, KERNEL_TARGETS);
  mkdirSync(dir, { recursive: true });
  for (const [name, text] of files) writeArtifact(join(dir, name), text);
  for (const f of readdirSync(dir)) if (/\.(wgsl|cu|c)$/.test(f) && !files.has(f)) rmSync(join(dir, f));
}

export interface WriteOptions {
  /** Folder the experiment's relative paths (sources, weights, data root) are relative to. */
  baseDir: string;
  /** More build outputs (relative path -> bytes, e.g. `model.onnx` from `--onnx`), written and locked like the rest. */
  extraFiles?: (c: Compiled) => ReadonlyMap<string, Uint8Array>;
  /** The lock's `data` section: runtime/data's `dataLock` (the CT-RATE tables and a per-volume
   *  manifest) where the caller has the runtime; else the data root and its manifest.json hash. */
  dataLock?: (exp: ResolvedExperiment) => Record<string, unknown>;
}

function listFiles(dir: string, prefix = ''): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((d) => {
    const rel = prefix ? `${prefix}/${d.name}` : d.name;
    return d.isDirectory() ? listFiles(join(dir, d.name), rel) : [rel];
  }).sort();
}

/** Writes the build folder for one compiled experiment; returns the lock's content. */
export async function writeBuild(c: Compiled, outDir: string, opts: WriteOptions): Promise<string> {
  mkdirSync(outDir, { recursive: true });
  const files = artifactFiles(c);
  for (const [name, content] of files) writeArtifact(join(outDir, name), content);
  const extra = opts.extraFiles?.(c) ?? new Map<string, Uint8Array>();
  for (const [name, bytes] of extra) writeArtifact(join(outDir, name), bytes);
  writeKernels(planKernelSpecs([c.plans.eval, c.plans.train]), join(outDir, 'kernels'));
  const outputs: Record<string, string> = {};
  // Hash what this build wrote (other files a user keeps in the folder are not the build's).
  for (const [name, content] of files) outputs[name] = sha256(content);
  for (const [name, bytes] of extra) outputs[name] = sha256(bytes);
  if (existsSync(join(outDir, 'kernels'))) for (const rel of listFiles(join(outDir, 'kernels'), 'kernels')) outputs[rel] = sha256(readFileSync(join(outDir, rel)));
  const exp = c.experiment;
  const sources: Record<string, string | null> = {};
  for (const s of exp.sources) sources[s] = sha256File(resolve(opts.baseDir, s));
  const weights = exp.model.weights ? { path: exp.model.weights, manifest: safetensorsHeaderHash(resolve(opts.baseDir, exp.model.weights)) } : null;
  const dataManifest = join(resolve(opts.baseDir, exp.data.source.root), 'manifest.json');
  const data = opts.dataLock ? opts.dataLock(exp) : { root: exp.data.source.root, manifest: sha256File(dataManifest) };
  const lock = canonicalJson({
    lockVersion: 2,
    compiler: { name: COMPILER_NAME, version: COMPILER_VERSION },
    experiment: exp.name,
    // `--set` overrides that set values of this experiment (provenance `override`); [] for none.
    overrides: overridesOf(exp),
    // Where the experiment's relative paths (data root, weights, vocab) resolve, from this folder:
    // what `medctc run BUILD_DIR` needs to find them again.
    specDir: relative(resolve(outDir), resolve(opts.baseDir)).split('\\').join('/') || '.',
    sources,
    weights,
    data,
    plans: { eval: outputs['plan.eval.json'], train: outputs['plan.train.json'] ?? null },
    outputs: Object.fromEntries(Object.entries(outputs).sort(([a], [b]) => (a < b ? -1 : 1))),
  });
  writeFileAtomic(join(outDir, 'medctc.lock'), lock);
  return lock;
}

/** Sub-folder name for a sweep variant: its name with path-unsafe characters replaced. */
export function variantFolder(exp: ResolvedExperiment): string {
  return exp.name.replace(/[^A-Za-z0-9._=@,+-]/g, '_');
}

/** Builds every experiment (a sweep builds each variant into a folder named after it). */
export async function buildAll(exps: ResolvedExperiment[], outDir: string, opts: WriteOptions & { sources?: Sources }): Promise<{ dir: string; compiled: Compiled }[]> {
  const compiled = exps.map((e) => compileExperiment(e, opts.sources));
  const nested = exps.length > 1 || exps.some((e) => e.variant !== null);
  const out: { dir: string; compiled: Compiled }[] = [];
  for (const c of compiled) {
    const dir = nested ? join(outDir, variantFolder(c.experiment)) : outDir;
    try {
      await writeBuild(c, dir, opts);
    } catch (e) {
      const code = (e as { code?: string }).code;
      if (code && /^E[A-Z]+$/.test(code)) {
        throw new DiagnosticError(diag('E3020', `cannot write the build folder \`${relative(process.cwd(), dir) || dir}\`: ${(e as Error).message}`, null));
      }
      throw e;
    }
    out.push({ dir, compiled: c });
  }
  return out;
}
