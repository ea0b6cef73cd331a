// Reading a run folder back for the report: every file is optional except that the folder must be
// a run (or build) folder at all (run.json, metrics.json or experiment.json: else E0014); a file
// that is there but cannot be parsed is E0015 naming it. Nothing here recomputes the run.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { DiagnosticError, fileDiagnostic } from '../../base/diagnostics/types.js';
import type { ResolvedExperiment } from '../../compiler/ir/experiment.js';
import type { BuildReport } from '../../compiler/report/params.js';
import type { MetricsFile } from '../../runtime/run/index.js';
import { readScoreTable, type ScoreTable } from '../review/metrics.js';
import { fileErrorText, readRegularFile } from '../../base/files.js';

export interface TrainLogLine { step: number; epoch: number; loss: number; lr: number; gradNorm?: number | null }

export interface ArenaBytes { plannedBytes: number; allocatedBytes: number; allocations: number }

export interface RunJson {
  experiment?: string; spec?: string; started?: string; finished?: string; backend?: string; device?: string; seed?: number;
  medctc?: string; overrides?: Record<string, unknown>;
  seconds?: Record<string, number>;
  memory?: Record<string, Record<string, ArenaBytes>>;
  data?: { root?: string; train?: number | null; eval?: number | null; shape?: number[] };
  train?: { steps: number; epochs: number; batchesPerEpoch: number; batchSize?: number; firstLoss: number; lastLoss: number; firstEpochLoss?: number | null; lastEpochLoss?: number | null; seconds: number } | null;
  files?: Record<string, string>;
}

export interface RunFolder {
  dir: string;
  run: RunJson | null;
  metrics: MetricsFile | null;
  experiment: ResolvedExperiment | null;
  build: BuildReport | null;
  lock: Record<string, unknown> | null;
  trainLog: TrainLogLine[];
  scores: ScoreTable | null;
  baselineScores: ScoreTable | null;
}

/** Is `dir` a folder a run or build wrote (the report can say something about it)? */
export const isRunFolder = (dir: string): boolean => ['run.json', 'metrics.json', 'experiment.json'].some((f) => existsSync(join(dir, f)));

const invalid = (file: string, why: string, line?: number): never => {
  throw new DiagnosticError(fileDiagnostic('E0015', `cannot read \`${file}\`${line ? ` line ${line}` : ''}: ${why}`, file, { line, help: 'the report reads the files a run wrote; rerun it, or restore the file (`medctc verify DIR` lists what changed)' }));
};

function json<T>(dir: string, name: string): T | null {
  const p = join(dir, name);
  if (!existsSync(p)) return null;
  try { return JSON.parse(readRegularFile(p, 'utf8')) as T; } catch (e) { return invalid(p, e instanceof SyntaxError ? e.message : `it ${fileErrorText(e)}`); }
}

function trainLog(dir: string): TrainLogLine[] {
  const p = join(dir, 'train_log.jsonl');
  if (!existsSync(p)) return [];
  let text: string;
  try { text = readRegularFile(p, 'utf8'); } catch (e) { return invalid(p, `it ${fileErrorText(e)}`); }
  return text.split('\n').filter((l) => l.trim()).map((l, i) => {
    let v: TrainLogLine;
    try { v = JSON.parse(l) as TrainLogLine; } catch (e) { return invalid(p, (e as Error).message, i + 1); }
    if (typeof v.step !== 'number' || typeof v.loss !== 'number' || typeof v.lr !== 'number') invalid(p, 'a step line needs numeric step, loss and lr', i + 1);
    return v;
  });
}

export function readRunFolder(dir: string): RunFolder {
  if (!existsSync(dir) || !isRunFolder(dir)) {
    throw new DiagnosticError(fileDiagnostic('E0014', `\`${dir}\` is not a run folder (no run.json, metrics.json or experiment.json)`, dir,
      { help: 'name the folder `medctc run`, `train` or `evaluate` wrote (`--out DIR`), or a sweep folder holding one per variant' }));
  }
  const scores = (name: string) => (existsSync(join(dir, name)) ? readScoreTable(join(dir, name), null) : null);
  return {
    dir,
    run: json<RunJson>(dir, 'run.json'),
    metrics: json<MetricsFile>(dir, 'metrics.json'),
    experiment: json<ResolvedExperiment>(dir, 'experiment.json'),
    build: json<BuildReport>(dir, 'report.json'),
    lock: json<Record<string, unknown>>(dir, 'medctc.lock'),
    trainLog: trainLog(dir),
    scores: scores('scores.csv'),
    baselineScores: scores('scores.baseline.csv'),
  };
}
