// Public surface of runtime/eval: zero-shot scoring, per-label metrics, thresholds, bootstrap
// intervals, and the results object/table.
export { cosine, pairProbability, zeroShotScores } from './score.js';
export { auroc, rankLabel, groupTotals, aurocFromGroups, confusionSweep, type RankedLabel, type GroupTotals, type Confusion } from './ranking.js';
export { selectThreshold, THRESHOLD_GRID, type ThresholdRule } from './threshold.js';
export { labelMetrics, meanMetrics, metricsFromConfusion, METRIC_FIELDS, type LabelMetrics, type MeanMetrics } from './metrics.js';
export { bootstrap, percentile, type BootstrapSettings, type BootstrapResult, type Interval } from './bootstrap.js';
export { evaluateScores, renderTable, type EvalInput, type EvalResults, type LabelResult } from './evaluate.js';
export { scoresCsv, writeScoresCsv } from './scores-csv.js';

