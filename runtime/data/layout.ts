// Where CT-RATE keeps each split's files. The labels use the split's own name ("valid"), the
// reports and metadata spell it out ("validation"), and volumes nest by patient and scan:
// valid/valid_53/valid_53_a/valid_53_a_1.nii.gz (split_patient_scan_reconstruction).
import { join } from 'node:path';

/** The split name as the reports and metadata file names spell it. */
export function tableSplitName(split: string): string {
  return split === 'valid' ? 'validation' : split;
}

export interface SplitPaths { volumes: string; labels: string; reports: string; metadata: string }

export function layoutPaths(root: string, split: string): SplitPaths {
  return {
    volumes: join(root, split),
    labels: join(root, 'multi_abnormality_labels', `${split}_predicted_labels.csv`),
    reports: join(root, 'radiology_text_reports', `${tableSplitName(split)}_reports.csv`),
    metadata: join(root, 'metadata', `${tableSplitName(split)}_metadata.csv`),
  };
}

/** `valid_53_a_1.nii.gz` -> `valid/valid_53/valid_53_a/valid_53_a_1.nii.gz`; names that do not
 *  follow the pattern sit directly in the split folder. */
export function volumeRelativePath(split: string, volumeName: string): string {
  const m = /^([^_]+)_([^_]+)_([^_]+)_[^.]+\.nii(\.gz)?$/.exec(volumeName);
  if (!m) return join(split, volumeName);
  const patient = `${m[1]}_${m[2]}`;
  return join(split, patient, `${patient}_${m[3]}`, volumeName);
}
