// Public surface of medctc's data layer: CT-RATE-layout datasets (real or synthetic), NIfTI
// volumes, CT-CLIP preprocessing, the preprocessed-volume cache, and the BERT WordPiece tokenizer.
export { openDataSet, openSplit, dataLock, PREPROCESS_VERSION, type LockedVolume, type DataSet, type DataSplit, type DataItem, type OpenOptions, type PrepareResult } from './dataset.js';
export { readNiftiFile, decodeNifti, encodeNifti1Int16, type NiftiVolume, type NiftiDatatype, type VoxelArray } from './nifti.js';
export { preprocessVolume, toWindowedZXY, resampledShape, resizeTrilinear, cropOrPad, validatePreprocess, quantizationGrid, quantizationBound, quantize, type QuantGrid, type Shape3, type VolumeScaling } from './preprocess.js';
export { readLabels, readReports, readMetadata, reportText, type LabelsTable, type ReportsTable, type MetadataTable, type MetadataRow } from './ctrate_tables.js';
export { layoutPaths, tableSplitName, volumeRelativePath } from './layout.js';
export { VolumeCache, cacheKey, type CacheMiss } from './cache.js';
export { preprocessEntry, preprocessAll, defaultWorkers, type VolumeTask } from './prepare.js';
export { hashFile, loadHashStore, saveHashStore } from './filehash.js';
export { startProgress, rateOf, formatEta, type ProgressMode } from './progress.js';
export { WordPieceTokenizer, loadTokenizer, tokenizerFor, tinyVocabPath, type Encoding } from './tokenizer.js';
export { generateSynthetic, manifestMatches, readManifest, renderScan, splitSizes, validateSynthOptions, resolveSite, SYNTH_VERSION, type SynthOptions, type SynthManifest, type ScanRequest, type RenderedScan } from './synth/generate.js';
export { SITES, type Site } from './synth/sites.js';
export { sampleFindings, EXPECTED_PREVALENCE, type Findings } from './synth/findings.js';
export { renderPreview, type PreviewVolume } from './synth/preview.js';
export { Rng } from './synth/rng.js';
