// `medctc synth`: write a synthetic CT-RATE-layout dataset (see runtime/data/synth/generate.ts),
// optionally with a PNG contact sheet of a few volumes to eyeball.
import { join } from 'node:path';
import type { CommandModule } from 'yargs';
import { writeFileAtomic } from '../../base/atomic.js';
import { CT_RATE_PATHOLOGIES } from '../../compiler/ir/experiment.js';
import { DiagnosticError } from '../../base/diagnostics/types.js';
import { diag } from '../../base/diagnostics/catalog.js';
import {
  generateSynthetic, layoutPaths, readMetadata, readNiftiFile, renderPreview, SITES, startProgress,
  volumeRelativePath, type PreviewVolume, type SynthManifest,
} from '../../runtime/data/index.js';

interface SynthArgs { out: string; volumes: number; seed: number; site: string; shape: string; preview?: string; json: boolean; quiet: boolean }

function parseShape(s: string): [number, number, number] {
  const parts = s.split(',').map((x) => x.trim());
  const nums = parts.map(Number);
  if (parts.length !== 3 || !nums.every((n) => Number.isInteger(n))) {
    throw new DiagnosticError(diag('E5040', `--shape must be D,H,W (three integers), got \`${s}\``, null, { help: 'e.g. --shape 40,48,48' }));
  }
  return nums as [number, number, number];
}

/** Up to `n` volumes, chosen greedily so the sheet shows as many different labels as possible. */
function pickForPreview(m: SynthManifest, n: number): SynthManifest['list'] {
  const chosen: SynthManifest['list'] = [];
  const shown = new Set<number>();
  const pool = [...m.list];
  while (chosen.length < n && pool.length) {
    let best = 0, bestGain = -1;
    pool.forEach((v, i) => {
      const gain = v.labels.reduce((g, l, k) => g + (l && !shown.has(k) ? 1 : 0), 0);
      if (gain > bestGain) { best = i; bestGain = gain; }
    });
    const v = pool.splice(best, 1)[0]!;
    v.labels.forEach((l, k) => { if (l) shown.add(k); });
    chosen.push(v);
  }
  return chosen;
}

function writePreview(m: SynthManifest, out: string, file: string): void {
  const meta = { train: readMetadata(layoutPaths(out, 'train').metadata, 'train metadata'), valid: null as ReturnType<typeof readMetadata> | null };
  if (m.list.some((v) => v.split === 'valid')) meta.valid = readMetadata(layoutPaths(out, 'valid').metadata, 'validation metadata');
  const vols: PreviewVolume[] = pickForPreview(m, 5).map((v) => {
    const row = (v.split === 'train' ? meta.train : meta.valid!).rows.get(v.volumeName)!;
    return {
      name: v.volumeName,
      volume: readNiftiFile(join(out, volumeRelativePath(v.split, v.volumeName))),
      slope: row.slope, intercept: row.intercept,
      spacing: [row.xySpacing[0], row.xySpacing[1], row.zSpacing],
      labels: CT_RATE_PATHOLOGIES.filter((_, i) => v.labels[i]),
    };
  });
  writeFileAtomic(file, renderPreview(vols));
}

export const synthCommand: CommandModule<object, SynthArgs> = {
  command: 'synth',
  describe: 'Write a synthetic chest CT dataset in the CT-RATE layout',
  builder: (y) => y
    .option('out', { type: 'string', demandOption: true, describe: 'output folder (created; an earlier synth dataset there is replaced)' })
    .option('volumes', { type: 'number', default: 200, describe: 'number of volumes (80% train, 20% valid)' })
    .option('seed', { type: 'number', default: 0, describe: 'random seed; same seed and arguments give byte-identical files' })
    .option('site', { type: 'string', default: 'source', describe: `acquisition site: ${Object.keys(SITES).join(', ')}` })
    .option('shape', { type: 'string', default: '40,48,48', describe: 'stored volume shape D,H,W (slices, rows, columns)' })
    .option('preview', { type: 'string', describe: 'also write a PNG of mid-slices of a few volumes with their labels (bare flag: OUT/preview.png)' })
    .option('json', { type: 'boolean', default: false, describe: 'machine-readable summary on stdout, progress as JSON lines on stderr' })
    .option('quiet', { type: 'boolean', default: false, describe: 'no progress output' }) as never,
  handler: async (a) => {
    const shape = parseShape(a.shape);
    const t0 = performance.now();
    const bar = startProgress(a.quiet ? 'quiet' : a.json ? 'json' : 'auto', 'synthesising', a.volumes);
    let m: SynthManifest;
    try {
      m = generateSynthetic({ out: a.out, volumes: a.volumes, seed: a.seed, site: a.site, shape }, (done) => bar.tick(done));
    } finally {
      bar.stop();
    }
    // A bare `--preview` parses as '' (yargs string option): it still asks for a picture.
    const preview = a.preview === undefined ? null : a.preview === '' ? join(a.out, 'preview.png') : a.preview;
    if (preview !== null) writePreview(m, a.out, preview);
    const seconds = (performance.now() - t0) / 1000;
    const train = m.list.filter((v) => v.split === 'train').length;
    if (a.json) {
      process.stdout.write(JSON.stringify({ ok: true, out: a.out, volumes: m.volumes, train, valid: m.volumes - train, site: m.site, seed: m.seed, shape: m.shape, seconds, preview }) + '\n');
    } else {
      process.stdout.write(`wrote ${m.volumes} volumes (${train} train, ${m.volumes - train} valid, site ${m.site}) to ${a.out} in ${seconds.toFixed(1)} s\n`);
      if (preview !== null) process.stdout.write(`preview: ${preview}\n`);
    }
  },
};
