// Which pathologies a synthetic patient has. Labels come from a few latent traits (age, smoking,
// cardiac disease, infection) so co-occurrences look like chest CT: coronary with arterial
// calcification, effusion with atelectasis, emphysema with smoking. Marginals are near the
// CT-RATE-like prevalences in EXPECTED_PREVALENCE (test/data checks them by sampling).
import { CT_RATE_PATHOLOGIES } from '../../../compiler/ir/experiment.js';
import { Rng } from './rng.js';

export type Pathology = (typeof CT_RATE_PATHOLOGIES)[number];
export type Findings = Record<Pathology, boolean>;

/** Target marginal prevalence per label (approximately CT-RATE's). */
export const EXPECTED_PREVALENCE: Record<Pathology, number> = {
  'Medical material': 0.11,
  'Arterial wall calcification': 0.28,
  'Cardiomegaly': 0.11,
  'Pericardial effusion': 0.07,
  'Coronary artery wall calcification': 0.22,
  'Hiatal hernia': 0.14,
  'Lymphadenopathy': 0.25,
  'Emphysema': 0.2,
  'Atelectasis': 0.24,
  'Lung nodule': 0.45,
  'Lung opacity': 0.37,
  'Pulmonary fibrotic sequela': 0.27,
  'Pleural effusion': 0.12,
  'Mosaic attenuation pattern': 0.08,
  'Peribronchial thickening': 0.1,
  'Consolidation': 0.16,
  'Bronchiectasis': 0.1,
  'Interlobular septal thickening': 0.08,
};

export function sampleFindings(rng: Rng): Findings {
  const age = rng.next();
  const smoker = rng.bern(0.45);
  const cardiac = rng.bern(0.12 + 0.2 * age);
  const infection = rng.bern(0.3);
  const f = {} as Findings;
  f['Arterial wall calcification'] = rng.bern(0.04 + 0.48 * age);
  f['Coronary artery wall calcification'] = f['Arterial wall calcification'] ? rng.bern(0.6) : rng.bern(0.07);
  f['Cardiomegaly'] = cardiac ? rng.bern(0.42) : rng.bern(0.025);
  f['Pericardial effusion'] = f['Cardiomegaly'] ? rng.bern(0.25) : rng.bern(0.045);
  f['Pleural effusion'] = cardiac ? rng.bern(0.35) : rng.bern(0.065);
  f['Atelectasis'] = f['Pleural effusion'] ? rng.bern(0.75) : rng.bern(0.17);
  f['Emphysema'] = smoker ? rng.bern(0.38) : rng.bern(0.05);
  f['Lung nodule'] = rng.bern(0.4 + 0.1 * (smoker ? 1 : 0));
  f['Lung opacity'] = infection ? rng.bern(0.75) : rng.bern(0.21);
  f['Consolidation'] = infection ? rng.bern(0.45) : rng.bern(0.04);
  f['Pulmonary fibrotic sequela'] = rng.bern(0.12 + 0.3 * age);
  f['Mosaic attenuation pattern'] = rng.bern(0.08);
  f['Bronchiectasis'] = f['Pulmonary fibrotic sequela'] ? rng.bern(0.22) : rng.bern(0.055);
  f['Peribronchial thickening'] = f['Bronchiectasis'] || infection ? rng.bern(0.2) : rng.bern(0.05);
  f['Interlobular septal thickening'] = cardiac || f['Pleural effusion'] ? rng.bern(0.2) : rng.bern(0.04);
  f['Lymphadenopathy'] = rng.bern(0.14 + 0.2 * (infection ? 1 : 0) + 0.1 * age);
  f['Hiatal hernia'] = rng.bern(0.05 + 0.18 * age);
  f['Medical material'] = rng.bern(0.08 + 0.15 * (cardiac ? 1 : 0));
  return f;
}

export function findingsToLabels(f: Findings): Uint8Array {
  return Uint8Array.from(CT_RATE_PATHOLOGIES, (p) => (f[p] ? 1 : 0));
}
