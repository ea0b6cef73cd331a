// Radiology reports for synthetic volumes: Findings_EN walks the chest in the usual order and
// says for every region either what is abnormal (from the drawn details) or a normal statement,
// and, as radiologists do, names some absent findings explicitly (pertinent negatives: "No
// pleural effusion is seen."), states half the present ones in the plain form "X is present."
// (SYNTH_VERSION 3), and Impressions_EN lists the abnormalities. Without
// the negatives a text encoder never reads a pathology's name in a negated sentence; with them at
// NEGATIVE_RATE most reports naming a pathology say it is absent, and a tiny text encoder trained
// long enough learns the name before "not" (zero-shot below chance: bench/RESULTS.md, issue 11).
// Wording varies by seed; every word used here is in the
// tiny model's vocabulary (see vocab.ts, which collects them from REPORT_PHRASES).
import type { Findings, Pathology } from './findings.js';
import type { PhantomDetails } from './phantom.js';
import type { Rng } from './rng.js';

/** The phrase an impression uses for each pathology; reports mention it exactly when present. */
export const IMPRESSION_TERMS: Record<Pathology, string> = {
  'Medical material': 'medical material',
  'Arterial wall calcification': 'arterial wall calcification',
  'Cardiomegaly': 'cardiomegaly',
  'Pericardial effusion': 'pericardial effusion',
  'Coronary artery wall calcification': 'coronary artery wall calcification',
  'Hiatal hernia': 'hiatal hernia',
  'Lymphadenopathy': 'lymphadenopathy',
  'Emphysema': 'emphysema',
  'Atelectasis': 'atelectasis',
  'Lung nodule': 'lung nodule',
  'Lung opacity': 'lung opacity',
  'Pulmonary fibrotic sequela': 'fibrotic sequela',
  'Pleural effusion': 'pleural effusion',
  'Mosaic attenuation pattern': 'mosaic attenuation pattern',
  'Peribronchial thickening': 'peribronchial thickening',
  'Consolidation': 'consolidation',
  'Bronchiectasis': 'bronchiectasis',
  'Interlobular septal thickening': 'interlobular septal thickening',
};

type Fill = (d: PhantomDetails) => Record<string, string>;

/** Sentence templates; `{slot}` values come from the details. Exported so the vocabulary can be
 *  built from exactly the words that can appear. */
export const REPORT_PHRASES = {
  normal: {
    airways: ['Trachea and both main bronchi are open.', 'The trachea and main bronchi are patent.', 'No obstruction is seen in the central airways.'],
    mediastinum: ['No lymph node is seen in pathological size in the mediastinum.', 'Mediastinal structures are normal.', 'No mediastinal or hilar mass.'],
    heart: ['Heart size is normal.', 'The heart is of normal size.', 'Cardiac contour is within normal limits.'],
    pericardium: ['No pericardial fluid is seen.', 'The pericardium is normal.'],
    vessels: ['Thoracic aorta has normal diameter.', 'The main vascular structures are normal.'],
    oesophagus: ['The esophagus is normal.', 'No abnormality is seen at the esophageal hiatus.'],
    lungs: ['Both lungs are clear.', 'The lung parenchyma is normal.', 'No active infiltration is seen in both lungs.'],
    pleura: ['No pleural fluid is seen.', 'Pleural spaces are clear.'],
    bones: ['Bone structures are normal.', 'No lytic or destructive lesion is seen in the bones.'],
  },
  abnormal: {
    'Medical material': ['A {device} is seen.', 'There is a {device} in the chest.'],
    'Arterial wall calcification': ['Calcified plaques are seen in the aortic wall.', 'There is arterial wall calcification in the thoracic aorta.'],
    'Cardiomegaly': ['The heart is enlarged.', 'Cardiomegaly is present.'],
    'Pericardial effusion': ['Pericardial effusion is seen.', 'There is fluid in the pericardium with pericardial effusion.'],
    'Coronary artery wall calcification': ['Calcified plaques are seen in the coronary arteries.', 'There is coronary artery wall calcification.'],
    'Hiatal hernia': ['A {hernia} hiatal hernia is seen.', 'There is a {hernia} sliding hiatal hernia.'],
    'Lymphadenopathy': ['Mediastinal lymph nodes up to {node} mm are seen, with lymphadenopathy.', 'Lymphadenopathy is seen in the mediastinum, the largest node {node} mm.'],
    'Emphysema': ['{zone} emphysema is seen in both lungs.', 'There are emphysematous changes with {zone} emphysema.'],
    'Atelectasis': ['Atelectasis is seen in the {atelectasis} lower lobe.', 'There is {atelectasis} basal atelectasis.'],
    'Lung nodule': ['A lung nodule of {nodule} mm is seen in the {noduleLobe}.', 'There is a lung nodule in the {noduleLobe}, {nodule} mm in size.'],
    'Lung opacity': ['Ground glass lung opacity is seen in the {opacityLobe}.', 'There is a lung opacity in the {opacityLobe}.'],
    'Pulmonary fibrotic sequela': ['Fibrotic sequela with linear bands is seen in both lungs.', 'There are fibrotic sequela changes in the lungs.'],
    'Pleural effusion': ['{effusion} pleural effusion is seen.', 'There is {effusion} pleural effusion.'],
    'Mosaic attenuation pattern': ['A mosaic attenuation pattern is seen in both lungs.', 'There is a mosaic attenuation pattern.'],
    'Peribronchial thickening': ['Peribronchial thickening is seen.', 'There is peribronchial thickening in both lungs.'],
    'Consolidation': ['Consolidation is seen in the {consolidationLobe}.', 'There is an area of consolidation in the {consolidationLobe}.'],
    'Bronchiectasis': ['Bronchiectasis is seen in the lower lobes.', 'There are dilated bronchi with bronchiectasis.'],
    'Interlobular septal thickening': ['Interlobular septal thickening is seen.', 'There is interlobular septal thickening in the lung periphery.'],
  } as Record<Pathology, string[]>,
  /** A present finding stated plainly (at AFFIRM_RATE), the positive twin of '{Term} is not present.'. */
  affirm: '{Term} is present.',
  /** Pertinent negatives: `{term}` is the impression term, `{Term}` the same capitalised. */
  negative: ['No {term} is seen.', 'There is no {term}.', '{Term} is not present.', '{Term} is not seen.'],
  impression: {
    none: ['No significant pathology.', 'Normal chest CT.'],
    lead: ['', 'Findings: '],
  },
  /** Values slots can take (for the vocabulary). */
  slotWords: ['pacemaker', 'sternal wires', 'port catheter', 'small', 'large', 'upper', 'diffuse', 'right', 'left', 'bilateral',
    'right upper lobe', 'right middle lobe', 'right lower lobe', 'left upper lobe', 'left lower lobe', 'Upper', 'Diffuse', 'Right', 'Left', 'Bilateral',
    '0123456789'],
};

const slots: Fill = (d) => ({
  device: d.device ?? 'pacemaker',
  hernia: d.hernia ?? 'small',
  node: String(d.nodeMaxMm),
  zone: d.emphysemaZone,
  atelectasis: d.atelectasisSide === 'bilateral' ? 'bilateral' : (d.atelectasisSide ?? 'right'),
  nodule: String(d.noduleMaxMm),
  noduleLobe: d.noduleLobe,
  opacityLobe: d.opacityLobe,
  effusion: d.effusionSide ?? 'right',
  consolidationLobe: d.consolidationLobe,
});

/** The share of absent findings a report names as negatives (each drawn independently). */
export const NEGATIVE_RATE = 0.35;

/** The share of present findings stated as '{Term} is present.' (SYNTH_VERSION 3). Before, "is
 *  present" occurred almost only in the negative '{Term} is not present.', so the zero-shot
 *  positive prompt "X is present." read, word for word, as the nearest thing to a pertinent
 *  negative; over four pretraining seeds this raised zero-shot AUROC in-domain (0.568 -> 0.583 mean)
 *  and on a target-site tuning draw (bench/RESULTS.md, issue 11). */
export const AFFIRM_RATE = 0.5;

function fill(template: string, values: Record<string, string>): string {
  const s = template.replace(/\{(\w+)\}/g, (_, k: string) => values[k] ?? '');
  return s[0]!.toUpperCase() + s.slice(1);
}

const REGIONS: { region: keyof typeof REPORT_PHRASES.normal; pathologies: Pathology[] }[] = [
  { region: 'airways', pathologies: ['Bronchiectasis', 'Peribronchial thickening'] },
  { region: 'mediastinum', pathologies: ['Lymphadenopathy', 'Medical material'] },
  { region: 'heart', pathologies: ['Cardiomegaly', 'Coronary artery wall calcification'] },
  { region: 'pericardium', pathologies: ['Pericardial effusion'] },
  { region: 'vessels', pathologies: ['Arterial wall calcification'] },
  { region: 'oesophagus', pathologies: ['Hiatal hernia'] },
  { region: 'lungs', pathologies: ['Emphysema', 'Lung nodule', 'Lung opacity', 'Consolidation', 'Pulmonary fibrotic sequela',
    'Mosaic attenuation pattern', 'Interlobular septal thickening', 'Atelectasis'] },
  { region: 'pleura', pathologies: ['Pleural effusion'] },
  { region: 'bones', pathologies: [] },
];

export function writeReport(f: Findings, d: PhantomDetails, rng: Rng): { findings: string; impressions: string } {
  const values = slots(d);
  const sentences: string[] = [];
  const present: Pathology[] = [];
  for (const { region, pathologies } of REGIONS) {
    const here = pathologies.filter((p) => f[p]);
    if (here.length === 0) sentences.push(rng.pick(REPORT_PHRASES.normal[region]));
    for (const p of here) {
      const term = IMPRESSION_TERMS[p];
      sentences.push(rng.bern(AFFIRM_RATE) ? fill(REPORT_PHRASES.affirm, { Term: term }) : fill(rng.pick(REPORT_PHRASES.abnormal[p]), values));
      present.push(p);
    }
    for (const p of pathologies) {
      if (f[p] || !rng.bern(NEGATIVE_RATE)) continue;
      const term = IMPRESSION_TERMS[p];
      sentences.push(fill(rng.pick(REPORT_PHRASES.negative), { term, Term: term }));
    }
  }
  const impressions = present.length === 0
    ? rng.pick(REPORT_PHRASES.impression.none)
    : rng.pick(REPORT_PHRASES.impression.lead) + present.map((p, i) => {
      const term = IMPRESSION_TERMS[p];
      return (i === 0 ? term[0]!.toUpperCase() + term.slice(1) : term);
    }).join(', ') + '.';
  return { findings: sentences.join(' '), impressions };
}
