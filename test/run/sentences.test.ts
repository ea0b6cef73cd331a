// Report-sentence sampling (runtime/train/sentences.ts): sentence splitting, the per-(seed, step,
// row) draw, and the rate it keeps.
import { describe, expect, it } from 'vitest';
import { reportSentences, sampleReport, sentencesAfter } from '../../runtime/train/sentences.js';

// A report as CT-CLIP joins its two columns (runtime/data/ctrate_tables.ts reportText): no space
// between the findings' last sentence and the impressions.
const REPORT = 'There is a lung nodule in the right lower lobe, 2.5 mm in size. Heart size is normal.'
  + ' No lytic or destructive lesion is seen in the bones.Findings: Lung nodule, atelectasis.';

describe('reportSentences', () => {
  it('splits after . ! ? before a capital, also without a space, and keeps decimals whole', () => {
    expect(reportSentences(REPORT)).toEqual([
      'There is a lung nodule in the right lower lobe, 2.5 mm in size.',
      'Heart size is normal.',
      'No lytic or destructive lesion is seen in the bones.',
      'Findings: Lung nodule, atelectasis.',
    ]);
    expect(reportSentences('One sentence only')).toEqual(['One sentence only']);
    expect(reportSentences('')).toEqual([]);
  });
});

describe('sampleReport', () => {
  it('the same (seed, step, row) draws the same text; rate 1 always a sentence', () => {
    const sentences = new Set(reportSentences(REPORT));
    for (let step = 1; step <= 50; step++) {
      for (let row = 0; row < 4; row++) {
        const a = sampleReport(REPORT, 11, step, row, 1);
        expect(sampleReport(REPORT, 11, step, row, 1)).toBe(a);
        expect(sentences.has(a)).toBe(true);
      }
    }
  });

  it('replaces a fraction `rate` of the rows (binomial bounds), each sentence drawn', () => {
    const n = 4000, rate = 0.3;
    const seen = new Map<string, number>();
    let replaced = 0;
    for (let i = 0; i < n; i++) {
      const t = sampleReport(REPORT, 5, 1 + (i >> 4), i & 15, rate);
      if (t !== REPORT) replaced++;
      seen.set(t, (seen.get(t) ?? 0) + 1);
    }
    // mean 1200, sd sqrt(n p (1 - p)) = 29: 5 sd either side.
    expect(Math.abs(replaced - n * rate)).toBeLessThan(5 * Math.sqrt(n * rate * (1 - rate)));
    expect(seen.size).toBe(5); // the whole report and each of its 4 sentences
  });

  it('other seeds, steps and rows draw independently', () => {
    const draws = (seed: number) => Array.from({ length: 64 }, (_, i) => sampleReport(REPORT, seed, 1 + (i >> 3), i & 7, 0.5));
    expect(draws(1)).not.toEqual(draws(2));
  });
});

describe('sentencesAfter', () => {
  it('adds the steps and the rounded epochs', () => {
    expect(sentencesAfter({ rate: 0.5, afterSteps: 0, afterEpochs: 4 }, 75)).toBe(300);
    expect(sentencesAfter({ rate: 0.5, afterSteps: 10, afterEpochs: 0.5 }, 75)).toBe(48);
  });
});
