// Diagnostic codes E5xxx. One entry per code: its one-line title (the message says the specifics).
// Codes are never reused or renumbered once released.
// E50xx-E54xx: data loading and generation (runtime/data); E55xx-E59xx belong to codes/runtime.ts.
export const DATA_CODES = {
  E5001: 'cannot read data file',
  E5002: 'not a NIfTI file',
  E5003: 'corrupt compressed file',
  E5004: 'NIfTI header and data disagree',
  E5005: 'unsupported NIfTI datatype or layout',
  E5006: 'NIfTI voxel value not representable',
  E5007: 'volume holds non-finite voxels after scaling',
  E5008: 'volume too large to hold in memory',
  E5010: 'CSV file is empty or unreadable',
  E5011: 'CSV column missing',
  E5012: 'unexpected CSV column',
  E5013: 'invalid value in CSV row',
  E5014: 'duplicate VolumeName',
  E5015: 'volume not listed in a CT-RATE table',
  E5016: 'split has no volumes',
  E5020: 'invalid preprocessing settings',
  W5021: 'HU values look mis-scaled',
  E5030: 'tokenizer vocabulary invalid',
  E5031: 'vocabulary size differs from the model',
  E5040: 'invalid synthetic data arguments',
  E5041: 'unknown acquisition site',
  E5042: 'synthetic data folder is not empty and holds no matching manifest',
} as const satisfies Record<string, string>;
