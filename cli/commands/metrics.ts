// `medctc metrics --scores SCORES.csv`: every metric recomputed from saved files alone (see
// cli/review/metrics.ts for the inputs), with runtime/eval, the code the run itself uses, so the
// result equals the run's metrics.json `final` (and `baseline`, given `--baseline-scores`) for the
// same threshold rule and bootstrap settings (the run's are in its experiment.json under
// `evaluate`; the bootstrap seed is `evaluate.bootstrap.seed`, 0 unless the spec sets it).
import type { CommandModule } from 'yargs';
import { diag } from '../../base/diagnostics/catalog.js';
import { DiagnosticError } from '../../base/diagnostics/types.js';
import type { EvaluateSpec, Metric } from '../../compiler/ir/experiment.js';
import { renderTable } from '../../runtime/eval/index.js';
import { comparisonTable } from '../../runtime/run/outputs.js';
import { parseThreshold, readScoreTable, recompute } from '../review/metrics.js';
import { guarded } from '../review/output.js';

interface MetricsArgs {
  scores: string; labels?: string; baselineScores?: string; threshold: string; bootstrap: number; seed: number; confidence: number;
  metrics: string; json: boolean;
}

const METRICS: readonly Metric[] = ['auroc', 'accuracy', 'macro_f1', 'weighted_f1', 'precision', 'recall', 'specificity'];

const usage = (message: string, help: string): never => { throw new DiagnosticError(diag('E0001', message, null, { help })); };

export function evaluateSettings(a: Pick<MetricsArgs, 'threshold' | 'bootstrap' | 'seed' | 'confidence'>): Pick<EvaluateSpec, 'threshold' | 'bootstrap'> {
  const threshold = parseThreshold(a.threshold);
  if (!threshold) usage(`--threshold \`${a.threshold}\` is not a threshold rule`, 'write `roc_corner`, `youden` or `fixed:0.5` (a number in [0, 1])');
  if (!Number.isInteger(a.bootstrap) || a.bootstrap < 0) usage(`--bootstrap must be a whole number of resamples (0 = none), got ${a.bootstrap}`, 'e.g. `--bootstrap 1000`');
  if (!Number.isInteger(a.seed) || a.seed < 0 || a.seed > 2 ** 32 - 1) usage(`--seed must be an integer in [0, 2^32 - 1], got ${a.seed}`, 'the run used `evaluate.bootstrap.seed` of its experiment.json');
  if (!(a.confidence > 0 && a.confidence < 1)) usage(`--confidence must lie strictly between 0 and 1, got ${a.confidence}`, 'e.g. `--confidence 0.95`');
  return { threshold: threshold!, bootstrap: a.bootstrap > 0 ? { samples: a.bootstrap, confidence: a.confidence, seed: a.seed } : null };
}

function metricList(s: string): Metric[] {
  const out = s.split(',').map((x) => x.trim()).filter(Boolean);
  for (const m of out) if (!(METRICS as readonly string[]).includes(m)) usage(`--metrics: unknown metric \`${m}\``, `metrics: ${METRICS.join(', ')}`);
  if (out.length === 0) usage('--metrics is empty', `list some of: ${METRICS.join(', ')}`);
  return out as Metric[];
}

export const metricsCommand: CommandModule<object, MetricsArgs> = {
  command: 'metrics',
  describe: 'Recompute the evaluation metrics from saved scores (a run\'s scores.csv or a CT-RATE predictions CSV)',
  builder: (y) => y
    .option('scores', { type: 'string', demandOption: true, describe: 'scores.csv of a run, or a predictions CSV (VolumeName + one score column per pathology)' })
    .option('labels', { type: 'string', describe: 'CT-RATE labels CSV (VolumeName + 0/1 per pathology): the truth (required for a predictions CSV)' })
    .option('baseline-scores', { type: 'string', describe: 'the run\'s scores.baseline.csv: also recompute the before-training results and the change' })
    .option('threshold', { type: 'string', default: 'roc_corner', describe: 'roc_corner | youden | fixed:T' })
    .option('bootstrap', { type: 'number', default: 0, describe: 'bootstrap resamples for the intervals (0 = none)' })
    .option('seed', { type: 'number', default: 0, describe: 'bootstrap seed (a run uses evaluate.bootstrap.seed)' })
    .option('confidence', { type: 'number', default: 0.95, describe: 'bootstrap interval confidence' })
    .option('metrics', { type: 'string', default: 'auroc,accuracy,macro_f1', describe: 'columns of the table (JSON always holds every metric)' })
    .option('json', { type: 'boolean', default: false, describe: 'print the results as JSON (metrics.json\'s `final` / `baseline` form)' }) as never,
  handler: async (a) => {
    await guarded(a.json, () => {
      const spec = evaluateSettings(a);
      const metrics = metricList(a.metrics);
      const table = readScoreTable(a.scores, a.labels ?? null);
      const final = recompute(table, spec);
      const base = a.baselineScores ? readScoreTable(a.baselineScores, a.labels ?? null) : null;
      const baseline = base ? recompute(base, spec) : null;
      if (base && base.labels.join('\n') !== table.labels.join('\n')) {
        usage(`${a.baselineScores} scores other labels than ${a.scores}`, 'pass the scores.csv and scores.baseline.csv of one run');
      }
      if (a.json) {
        process.stdout.write(JSON.stringify({
          ok: true, scores: a.scores, labels: a.labels ?? null, baselineScores: a.baselineScores ?? null, format: table.format,
          volumes: table.volumes.length, metrics, baseline, final,
        }, null, 2) + '\n');
        return;
      }
      const out = [`${a.scores}: ${table.volumes.length} volumes, ${table.labels.length} labels (${table.format === 'scores' ? 'medctc scores' : 'predictions'}; truth from ${table.truthFrom})`, ''];
      out.push(renderTable(final, { metrics }));
      if (baseline) {
        out.push(`before training (${a.baselineScores}):`, '', renderTable(baseline, { metrics }));
        out.push(comparisonTable({ metricsVersion: 1, experiment: '', split: '', volumes: table.volumes.length, metrics, finalModel: 'adapted', baseline, final })!);
      }
      process.stdout.write(out.join('\n'));
    });
  },
};
