// `medctc metrics`: the evaluation recomputed from saved files alone. Two inputs are read:
//   - a run's scores.csv (runtime/eval/scores-csv.ts): VolumeName, then per label `<label>` (the
//     score) and `<label> (truth)` (0/1);
//   - a CT-RATE-style predictions CSV: VolumeName and one score column per pathology, the truth
//     from a CT-RATE labels CSV (`--labels`, VolumeName + one 0/1 column per pathology).
// `--labels` given with a scores.csv replaces its truth columns. The numbers come from
// runtime/eval's evaluateScores (the function the run calls), rows in the file's order (the
// bootstrap draws volumes by index, so the order is part of the result).
import { CT_RATE_PATHOLOGIES, type EvaluateSpec } from '../../compiler/ir/experiment.js';
import { diag } from '../../base/diagnostics/catalog.js';
import { DiagnosticError } from '../../base/diagnostics/types.js';
import { readCsvTable, readLabels } from '../../runtime/data/ctrate_tables.js';
import { evaluateScores, type EvalResults } from '../../runtime/eval/index.js';

const TRUTH = ' (truth)';

export interface ScoreTable {
  file: string;
  format: 'scores' | 'predictions';
  labels: string[];
  volumes: string[];
  scores: Float64Array[];
  truth: Uint8Array[];
  /** Where the truth came from: the scores file's own columns or the labels CSV. */
  truthFrom: string;
}

const fail = (code: 'E5011' | 'E5013' | 'E5014' | 'E5015' | 'E5010', message: string, file: string, line?: number, help?: string): never => {
  throw new DiagnosticError(diag(code, message, { file, start: 0, end: 0, ...(line !== undefined ? { line } : {}) }, help ? { help } : {}));
};

export function readScoreTable(scoresPath: string, labelsPath: string | null): ScoreTable {
  const t = readCsvTable(scoresPath, scoresPath);
  if (!t.columns.includes('VolumeName')) fail('E5011', `${scoresPath} has no \`VolumeName\` column`, scoresPath, 1, `its columns are: ${t.columns.join(', ') || '(none)'}`);
  const labels = t.columns.filter((c) => c !== 'VolumeName' && !c.endsWith(TRUTH));
  const truthCols = t.columns.filter((c) => c.endsWith(TRUTH));
  if (labels.length === 0) fail('E5011', `${scoresPath} has no score column`, scoresPath, 1, 'expected VolumeName and one score column per pathology');
  const format = truthCols.length ? 'scores' : 'predictions';
  if (format === 'scores') {
    for (const l of labels) if (!truthCols.includes(l + TRUTH)) fail('E5011', `${scoresPath} has a score column \`${l}\` but no \`${l}${TRUTH}\``, scoresPath, 1);
    for (const c of truthCols) if (!labels.includes(c.slice(0, -TRUTH.length))) fail('E5011', `${scoresPath} has \`${c}\` but no score column \`${c.slice(0, -TRUTH.length)}\``, scoresPath, 1);
  }
  if (t.rows.length === 0) fail('E5010', `${scoresPath} has a header but no rows`, scoresPath, 1);
  const volumes: string[] = [], scores: Float64Array[] = [], truth: Uint8Array[] = [];
  const seen = new Map<string, number>();
  const truthTable = labelsPath === null ? null : readLabels(labelsPath, labelsPath, labels, CT_RATE_PATHOLOGIES);
  if (truthTable === null && format === 'predictions') {
    fail('E5011', `${scoresPath} has no truth columns (\`<label>${TRUTH}\`)`, scoresPath, 1,
      'a predictions CSV needs the ground truth: pass the CT-RATE labels CSV with `--labels multi_abnormality_labels/valid_predicted_labels.csv`');
  }
  for (const row of t.rows) {
    const name = row.cells.get('VolumeName')!.trim();
    if (!name) fail('E5013', `${scoresPath}:${row.line}: empty VolumeName`, scoresPath, row.line);
    const prev = seen.get(name);
    if (prev !== undefined) fail('E5014', `${scoresPath}:${row.line}: VolumeName \`${name}\` already appeared on line ${prev}`, scoresPath, row.line);
    seen.set(name, row.line);
    const s = new Float64Array(labels.length);
    labels.forEach((l, i) => {
      const raw = row.cells.get(l)!.trim();
      const v = Number(raw);
      if (raw === '' || !Number.isFinite(v)) fail('E5013', `${scoresPath}:${row.line}: the score \`${l}\` of ${name} is \`${raw}\`; scores must be finite numbers`, scoresPath, row.line);
      s[i] = v;
    });
    let y: Uint8Array;
    if (truthTable) {
      const r = truthTable.rows.get(name);
      if (!r) fail('E5015', `${name} (${scoresPath}:${row.line}) is not in ${labelsPath}`, labelsPath!, undefined, 'the labels CSV must list every volume the scores file scores');
      y = r!.labels;
    } else {
      y = new Uint8Array(labels.length);
      labels.forEach((l, i) => {
        const raw = row.cells.get(l + TRUTH)!.trim();
        if (raw !== '0' && raw !== '1') fail('E5013', `${scoresPath}:${row.line}: \`${l}${TRUTH}\` of ${name} is \`${raw}\`; labels must be 0 or 1`, scoresPath, row.line);
        y[i] = Number(raw);
      });
    }
    volumes.push(name); scores.push(s); truth.push(y);
  }
  return { file: scoresPath, format, labels, volumes, scores, truth, truthFrom: labelsPath ?? scoresPath };
}

/** `roc_corner`, `youden`, `fixed:0.5` / `fixed=0.5` / `fixed 0.5`, or a bare number in [0, 1]. Null: not a rule. */
export function parseThreshold(s: string): EvaluateSpec['threshold'] | null {
  const t = s.trim();
  if (t === 'roc_corner' || t === 'youden') return { kind: t };
  const m = /^(?:fixed[:= ]\s*)?([0-9.eE+-]+)$/.exec(t);
  if (!m) return null;
  const v = Number(m[1]);
  return Number.isFinite(v) && v >= 0 && v <= 1 ? { kind: 'fixed', value: v } : null;
}

export function recompute(t: ScoreTable, spec: Pick<EvaluateSpec, 'threshold' | 'bootstrap'>): EvalResults {
  return evaluateScores({ labels: t.labels, scores: t.scores, truth: t.truth }, spec);
}
