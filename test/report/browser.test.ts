// report.html in a real browser: Debian's chromium, headless, loads the file from disk (the way a
// reviewer opens it offline): no console error or exception, no network request, every chart the
// run's files call for drawn with its curves, and a full-page screenshot saved to
// runs/report-browser/report.png (runs/ is not tracked) for a person to look at.
//
// CI installs chromium (.ci/run). Without it this test fails, saying so; set
// MEDCTC_SKIP_BROWSER=1 to skip it deliberately on a machine that cannot have a browser.
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { writeRunReport } from '../../cli/report/index.js';
import { smallSpec, tempDir } from '../run/helpers.js';
import { chromiumVersion, visit } from './chromium.js';
import { runFolders } from './fixture.js';

const skip = process.env.MEDCTC_SKIP_BROWSER === '1';
const SHOT_DIR = resolve('runs/report-browser');

let dir: string;
beforeAll(async () => {
  if (skip) return;
  if (chromiumVersion() === null) {
    throw new Error('chromium is not installed: the report\'s browser test needs it (`apt-get install -y --no-install-recommends chromium`, as .ci/run does); set MEDCTC_SKIP_BROWSER=1 to skip it deliberately');
  }
  const d = tempDir('report-browser');
  dir = join(d, 'out');
  await runFolders(smallSpec(d, { volumes: 40, epochs: 1, batch: 4 }), dir);
  writeRunReport(dir);
}, 120_000);

describe.skipIf(skip)('report.html in headless chromium', () => {
  it('loads from disk with no console error and no request, and draws every chart', async () => {
    const header = readFileSync(join(dir, 'scores.csv'), 'utf8').split('\n')[0]!.split(',');
    const labels = header.filter((c) => c !== 'VolumeName' && !c.endsWith(' (truth)'));
    const v = await visit(join(dir, 'report.html'), `JSON.stringify({
      charts: [...document.querySelectorAll('svg.chart')].map((s) => ({
        id: s.dataset.chart, width: s.getBoundingClientRect().width, height: s.getBoundingClientRect().height,
        curves: [...s.querySelectorAll('path')].filter((p) => p.getTotalLength() > 50).length,
      })),
      sections: [...document.querySelectorAll('h2')].map((h) => h.textContent),
      tables: document.querySelectorAll('table').length,
    })`);
    writeFileSync(join(dir, 'report.png'), v.screenshot);
    mkdirSync(SHOT_DIR, { recursive: true });
    copyFileSync(join(dir, 'report.png'), join(SHOT_DIR, 'report.png'));
    copyFileSync(join(dir, 'report.html'), join(SHOT_DIR, 'report.html'));

    expect(v.errors).toEqual([]);
    expect(v.requests).toEqual([]);
    const page = JSON.parse(v.value as string) as { charts: { id: string; width: number; height: number; curves: number }[]; sections: string[]; tables: number };
    expect(page.sections).toEqual(['Headline', 'Per pathology', 'ROC curves', 'Training', 'Parameters and memory', 'Configuration', 'Lock']);
    // One ROC chart per label of scores.csv, then loss, learning rate and gradient norm.
    expect(page.charts.map((c) => c.id)).toEqual([
      ...labels.map((l) => `roc-${l.toLowerCase().replace(/[^a-z0-9]+/g, '-')}`), 'train-loss', 'train-lr', 'train-grad-norm',
    ]);
    for (const c of page.charts) {
      expect(c.width, c.id).toBeGreaterThan(250);
      expect(c.height, c.id).toBeGreaterThan(200);
    }
    // Every training chart draws its curve; ROC charts draw before and after (a label with one
    // class in the eval split has none, and says so).
    for (const c of page.charts.filter((x) => x.id.startsWith('train-'))) expect(c.curves, c.id).toBeGreaterThanOrEqual(1);
    expect(page.charts.filter((x) => x.id.startsWith('roc-') && x.curves >= 2).length).toBeGreaterThanOrEqual(8);
    expect(page.tables).toBeGreaterThanOrEqual(6);
    // A real image of the page: a PNG at least as wide as the viewport.
    expect(v.screenshot.subarray(1, 4).toString()).toBe('PNG');
    expect(v.screenshot.readUInt32BE(16)).toBeGreaterThanOrEqual(1300);
  }, 120_000);
});
