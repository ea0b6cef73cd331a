// The run report (issue 13): report.html, and results.md with the same charts as PNG under
// charts/, written from a run folder's files alone (`medctc run`/`train`/`evaluate` write them
// after the run; `medctc report DIR` rewrites them). They are derived from files run.json hashes,
// so run.json does not hash them; a run writes its report into its staging folder before the files
// move into place (runtime/run/outputs.ts), so a stale report is never left beside new results.
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic } from '../../base/atomic.js';
import { comparisonTable, REPORT_FILES } from '../../runtime/run/index.js';
import { degenerateNotes } from '../../runtime/eval/evaluate.js';
import { rocCharts, trainingCharts } from './charts.js';
import { readRunFolder, type RunFolder } from './folder.js';
import { reportHtml, type ReportCharts } from './html.js';
import { chartsPng } from './raster.js';

export { readRunFolder, isRunFolder, type RunFolder } from './folder.js';
export { assertSweepSummaryReplaceable, sweepSummary, writeSweepSummary, sweepFolders, type SweepSummary } from './sweep.js';

export { REPORT_FILES };

export function reportCharts(f: RunFolder): ReportCharts {
  return { roc: rocCharts(f), training: trainingCharts(f.trainLog, f.experiment?.train?.gradClip ?? null) };
}

/** results.md: the headline table and the charts as PNG, for places that show markdown. */
export function resultsMarkdown(f: RunFolder, c: ReportCharts): string {
  const name = f.run?.experiment ?? f.metrics?.experiment ?? f.experiment?.name ?? 'experiment';
  const out = [`# ${name}: results`, '', 'The same numbers and charts as `report.html` beside this file (open it in a browser for the configuration, the parameter and memory report and the lock).', ''];
  if (f.metrics) {
    out.push('## Headline', '', comparisonTable(f.metrics) ?? '(no baseline evaluation: see metrics.md)', '');
    const notes = [...degenerateNotes(f.metrics.final).map((n) => `after: ${n}`), ...(f.metrics.baseline ? degenerateNotes(f.metrics.baseline).map((n) => `before: ${n}`) : [])];
    if (notes.length) out.push(...notes.map((n) => `- ${n}`), '');
  }
  if (c.roc.length) {
    out.push('## ROC curves', '', `One panel per pathology, in this order: ${c.roc.map((x) => x.title).join(', ')}. x: false positive rate, y: true positive rate (0 to 1); ${f.baselineScores ? 'grey dashed: before training, orange: after; ' : 'orange: '}dotted diagonal: chance. AUROCs are in report.html and metrics.md.`, '', '![ROC curves](charts/roc.png)', '');
  }
  if (c.training.length) {
    out.push('## Training', '', 'Left to right: loss per step (blue; dark blue: moving mean), learning rate, global gradient norm before grad_clip (red dashed: the grad_clip limit, when set); x: step.', '', '![training curves](charts/training.png)', '');
  }
  return out.join('\n');
}

/** Writes report.html, results.md and charts/*.png into the run folder; returns the paths written. */
export function writeRunReport(dir: string): string[] {
  const f = readRunFolder(dir);
  const c = reportCharts(f);
  const written: string[] = [];
  const put = (name: string, data: string | Uint8Array) => { writeFileAtomic(join(dir, name), data); written.push(join(dir, name)); };
  put('report.html', reportHtml(f, c));
  for (const png of REPORT_FILES.filter((x) => x.endsWith('.png'))) rmSync(join(dir, png), { force: true });
  if (c.roc.length || c.training.length) mkdirSync(join(dir, 'charts'), { recursive: true });
  if (c.roc.length) put('charts/roc.png', chartsPng(c.roc, 6));
  if (c.training.length) put('charts/training.png', chartsPng(c.training, 3));
  put('results.md', resultsMarkdown(f, c));
  return written;
}
