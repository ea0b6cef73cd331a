// Public surface of runtime/run: running a compiled experiment (train + evaluate) into a run folder.
export { runBuilt, runCompiled, summaryLine, type RunOptions, type RunResult } from './run.js';
export { readBuild, isBuildFolder, type BuiltExperiment } from './build-dir.js';
export { trainLoop, lossSentence, planTraining, trainedAdapter, epochOrder, dropoutSeed, stepBatch, type StepRecord, type TrainSummary, type TrainLoopOptions, type TrainStart, type TrainPosition } from './train.js';
export { CHECKPOINT_FILE, readCheckpoint, writeCheckpoint, checkpointDifferences, type Checkpoint, type CheckpointMeta } from './checkpoint.js';
export { evaluateItems, promptLatents, type EvalRun, type EvaluateOptions } from './evaluate.js';
export { promptTexts, textFeeds, reportFeeds, volumeBatch, targetBatch, fullBatches, checkDataFitsPlan, assertFeeds, type TextFeeds } from './feeds.js';
export { type RunExecutor, type CreateExecutor, type RunScalars, type Feeds } from './executor.js';
export { startReporter, stepLine, rate, type RunReporter, type RunProgressMode } from './progress.js';
export { comparisonTable, metricsMarkdown, hashFolder, openRunFolder, commitRunFolder, stagingFor, RESULT_FILES, REPORT_FILES, ADAPTER_DIR, type RunFolderWrite, type MetricsFile } from './outputs.js';
export { validateMetrics } from './validate.js';
export { adapterTensors, adapterTensorsFor } from './adapter.js';
export { checkBeforeData, ensureOutputDir } from './preflight.js';
export { specAt, fileAt, type SpecAt } from './spec-at.js';
export { checkBaseWeights, loadBaseWeights } from './weights.js';
