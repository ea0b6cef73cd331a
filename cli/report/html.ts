// report.html: one self-contained page per run folder (no script, no external font, image or
// style: it opens offline and makes no request). Sections: the headline table (paper-style means
// before / after / change with intervals, trainable parameters), per-pathology results with
// degenerate thresholds flagged, ROC curves, training curves, parameters and memory, the resolved
// configuration with provenance (the rows `medctc explain` prints) and the lock. Everything is
// read from the folder's files (./folder.ts) and rendered deterministically: the same folder gives
// the same bytes (the only times shown are run.json's).
import { degenerateNotes, thresholdCell } from '../../runtime/eval/evaluate.js';
import { METRIC_FIELDS, type EvalResults, type Interval } from '../../runtime/eval/index.js';
import { lossSentence } from '../../runtime/run/train.js';
import type { Metric } from '../../compiler/ir/experiment.js';
import { rows, valueText } from '../review/explain.js';
import { escapeXml as esc, toSvg, type Chart } from './chart.js';
import type { RunFolder } from './folder.js';

/** The paper's headline metrics (MedCT-VLM: mean AUROC, accuracy, macro-F1; CT-CLIP's weighted F1). */
export const HEADLINE: readonly Metric[] = ['auroc', 'accuracy', 'macro_f1', 'weighted_f1'];
export const METRIC_NAMES: Record<Metric, string> = {
  auroc: 'AUROC', accuracy: 'accuracy', precision: 'precision', recall: 'recall', specificity: 'specificity', macro_f1: 'macro-F1', weighted_f1: 'weighted-F1',
};

const pct = (x: number | null | undefined): string => (x === null || x === undefined ? '—' : (100 * x).toFixed(1));
const signed = (x: number): string => `${x >= 0 ? '+' : '−'}${Math.abs(100 * x).toFixed(1)}`;
const ciText = (i: Interval | null | undefined, f: (x: number) => string = pct): string => (i ? ` <span class="ci">[${f(i[0])}, ${f(i[1])}]</span>` : '');
const int = (n: number): string => n.toLocaleString('en-US');
export function bytes(n: number): string {
  if (n < 1024) return `${n} B`;
  const u = ['KiB', 'MiB', 'GiB', 'TiB'];
  let v = n / 1024, i = 0;
  while (v >= 1024 && i < u.length - 1) { v /= 1024; i++; }
  return `${v.toFixed(v >= 100 ? 0 : v >= 10 ? 1 : 2)} ${u[i]}`;
}

const table = (head: string[], body: string[][], cls = ''): string =>
  `<table${cls ? ` class="${cls}"` : ''}><thead><tr>${head.map((h) => `<th>${h}</th>`).join('')}</tr></thead><tbody>${body.map((r) => `<tr>${r.map((c) => `<td>${c}</td>`).join('')}</tr>`).join('')}</tbody></table>`;

function headline(f: RunFolder): string {
  const m = f.metrics;
  if (!m) return '<p class="none">No metrics.json: this run did not evaluate.</p>';
  const level = Math.round(100 * (m.change?.confidence ?? m.final.bootstrap?.confidence ?? 0.95));
  const hasBefore = m.baseline !== null;
  const head = hasBefore
    ? ['mean over labels (%)', `before [${level}% CI]`, `after [${level}% CI]`, `change [paired ${level}% CI]`, 'P(change ≤ 0)']
    : ['mean over labels (%)', `${m.finalModel === 'base' ? 'base model' : 'with the adapter'} [${level}% CI]`];
  const body = HEADLINE.map((k) => {
    const field = METRIC_FIELDS[k].mean;
    const b = m.final.mean[field];
    const after = `${pct(b)}${ciText(m.final.meanCi?.[field])}`;
    if (!hasBefore) return [METRIC_NAMES[k], after];
    const a = m.baseline!.mean[field];
    const c = m.change?.mean[field];
    const change = a === null || b === null ? '—' : `<b>${signed(b - a)}</b>${ciText(c?.ci, signed)}`;
    return [METRIC_NAMES[k], `${pct(a)}${ciText(m.baseline!.meanCi?.[field])}`, after, change, c?.atMostZero === null || c?.atMostZero === undefined ? '—' : c.atMostZero.toFixed(3)];
  });
  const p = m.parameters;
  const params = p
    ? `<p class="params">trainable parameters: <b>${int(p.trainable)}</b> of ${int(p.total)} (<b>${(100 * p.fraction).toFixed(2)}%</b>)</p>`
    : f.build ? `<p class="params">this run trained nothing; the model has ${int(f.build.parameters.total)} parameters</p>` : '';
  const boot = m.change
    ? `<p class="note">Intervals: ${level}% percentile bootstrap over volumes (${int(m.change.samples)} resamples, seed ${m.change.seed}); the change's interval is paired (the same resample for both models), so it is narrower than the two intervals beside it suggest; P(change ≤ 0) is the share of resamples in which the metric did not go up (a one-sided bootstrap p-value). Thresholds are re-selected on every resample.</p>`
    : m.final.bootstrap ? `<p class="note">Intervals: ${Math.round(100 * m.final.bootstrap.confidence)}% percentile bootstrap, ${int(m.final.bootstrap.samples)} resamples, seed ${m.final.bootstrap.seed}.</p>` : '';
  return table(head, body, 'headline') + params + boot;
}

const ruleText = (r: EvalResults['threshold']): string => (r.kind === 'fixed' ? `fixed ${r.value}` : r.kind === 'youden'
  ? 'youden (exact ROC, scikit-learn roc_curve; present when P ≥ t)' : 'roc_corner (CT-CLIP\'s grid linspace(0, 1, 100); present when P > t)');

function perLabel(f: RunFolder): string {
  const m = f.metrics;
  if (!m) return '';
  const num = (x: number | null) => (x === null ? '—' : x.toFixed(3));
  const before = m.baseline;
  const byLabel = new Map(before?.labels.map((l) => [l.label, l]) ?? []);
  const degenerate = (l: EvalResults['labels'][number] | undefined) => (l?.degenerate ? ' class="degenerate"' : '');
  const cell = (l: EvalResults['labels'][number] | undefined) => (l ? `<span${degenerate(l)}>${thresholdCell(l, num)}</span>` : '—');
  const head = ['label', 'pos / N', ...(before ? ['AUROC before'] : []), 'AUROC', ...(before ? ['threshold before'] : []), 'threshold', 'accuracy', 'F1', 'weighted-F1'];
  const body = m.final.labels.map((l) => {
    const b = byLabel.get(l.label);
    return [esc(l.label), `${l.positives} / ${l.positives + l.negatives}`,
      ...(before ? [num(b?.metrics.auroc ?? null)] : []), `${num(l.metrics.auroc)}${ciText(l.ci?.auroc, (x) => x.toFixed(3))}`,
      ...(before ? [cell(b)] : []), cell(l), num(l.metrics.accuracy), num(l.metrics.f1), num(l.metrics.weightedF1)];
  });
  const notes: string[] = [`threshold rule: ${ruleText(m.final.threshold)}`];
  for (const [what, r] of [['after', m.final], ['before', before]] as const) {
    if (!r) continue;
    for (const n of degenerateNotes(r)) notes.push(`<span class="degenerate">${esc(`${before ? `${what}: ` : ''}${n}`)}</span>`);
  }
  if (m.final.aurocExcluded.length) notes.push(`AUROC undefined (one class only), left out of the mean: ${esc(m.final.aurocExcluded.join(', '))}`);
  const skipped = m.final.labels.filter((l) => (l.singleClassResamples ?? 0) > 0);
  if (m.final.bootstrap && skipped.length) notes.push(`bootstrap resamples with a single class are skipped for that label's intervals and counted: ${esc(skipped.map((l) => `${l.label} ${l.singleClassResamples}/${m.final.bootstrap!.samples}`).join(', '))}`);
  return table(head, body, 'labels') + `<ul class="notes">${notes.map((n) => `<li>${n}</li>`).join('')}</ul>`;
}

function parameters(f: RunFolder): string {
  const out: string[] = [];
  const b = f.build;
  if (b) {
    out.push('<h3>Parameters (report.json)</h3>', table(['group', 'parameters', 'trainable'], [
      ...b.parameters.groups.map((g) => [esc(g.group), int(g.total), int(g.trainable)]),
      ['<b>total</b>', `<b>${int(b.parameters.total)}</b>`, `<b>${int(b.parameters.trainable)}</b> (${(100 * b.parameters.trainableFraction).toFixed(3)}%)`],
    ], 'num'));
    if (b.parameters.loraTargets.length) {
      out.push(table(['LoRA target', 'encoder', 'rank', 'alpha', 'scaling', 'modules', 'parameters'],
        b.parameters.loraTargets.map((t) => [`<code>${esc(t.pattern)}</code>`, esc(t.encoder), String(t.rank), String(t.alpha), String(t.scaling), String(t.modules), int(t.parameters)]), 'num'));
    }
    const mem = b.memory;
    out.push('<h3>Memory (planned by the compiler)</h3>', table(['what', 'bytes'], [
      // Older report.json files (before mixed precision) have no precision: they were fp32.
      [`weights (${mem.precision ?? 'fp32'})`, bytes(mem.weightsBytes)], ['gradients', bytes(mem.gradientBytes)], ['optimizer state (AdamW moments)', bytes(mem.optimizerBytes)],
      ['activations, eval (peak / naive / lower bound)', `${bytes(mem.activations.eval.peakBytes)} / ${bytes(mem.activations.eval.naiveBytes)} / ${bytes(mem.activations.eval.lowerBoundBytes)}`],
      ...(mem.activations.train ? [['activations, train (peak / naive / lower bound)', `${bytes(mem.activations.train.peakBytes)} / ${bytes(mem.activations.train.naiveBytes)} / ${bytes(mem.activations.train.lowerBoundBytes)}`]] : []),
    ], 'num'));
  }
  const arenas = f.run?.memory;
  if (arenas && Object.keys(arenas).length) {
    const rowsOut: string[][] = [];
    for (const plan of Object.keys(arenas).sort()) for (const arena of Object.keys(arenas[plan]!).sort()) {
      const a = arenas[plan]![arena]!;
      rowsOut.push([`${esc(plan)} / ${esc(arena)}`, bytes(a.plannedBytes), bytes(a.allocatedBytes), String(a.allocations)]);
    }
    out.push('<h3>Device memory (run.json: what each plan\'s executor allocated)</h3>', table(['plan / arena', 'planned', 'allocated', 'allocations'], rowsOut, 'num'));
  }
  return out.join('') || '<p class="none">No report.json or run.json in this folder.</p>';
}

function configuration(f: RunFolder): string {
  if (!f.experiment) return '<p class="none">No experiment.json in this folder.</p>';
  const rs = rows(f.experiment);
  return `<p class="note">Every value of the resolved experiment and where it came from, as <code>medctc explain</code> prints it.</p>`
    + table(['path', 'value', 'origin'], rs.map((r) => [`<code>${esc(r.path)}</code>`, `<code>${esc(valueText(r.value))}</code>`, esc(r.origin)]), 'config');
}

function flat(v: unknown, prefix: string, out: [string, string][]): void {
  if (v !== null && typeof v === 'object' && !Array.isArray(v)) {
    for (const k of Object.keys(v as object).sort()) flat((v as Record<string, unknown>)[k], prefix ? `${prefix}.${k}` : k, out);
  } else out.push([prefix, typeof v === 'string' ? v : JSON.stringify(v)]);
}

function lock(f: RunFolder): string {
  if (!f.lock) return '<p class="none">No medctc.lock in this folder.</p>';
  const entries: [string, string][] = [];
  flat(f.lock, '', entries);
  const outputs = entries.filter(([k]) => k.startsWith('outputs.'));
  const rest = entries.filter(([k]) => !k.startsWith('outputs.'));
  const t = (es: [string, string][]) => table(['entry', 'value'], es.map(([k, v]) => [`<code>${esc(k)}</code>`, `<code>${esc(v)}</code>`]), 'lock');
  const files = f.run?.files ? Object.entries(f.run.files) : [];
  // The folder's path is not written: the same files give the same page wherever they lie.
  return `<p class="note"><code>medctc verify DIR</code> (DIR: this folder) re-hashes every file below.</p>` + t(rest)
    + `<details><summary>${outputs.length} build outputs (plans, kernels, reports)</summary>${t(outputs)}</details>`
    + (files.length ? `<details><summary>${files.length} run files (run.json <code>files</code>)</summary>${t(files)}</details>` : '');
}

function header(f: RunFolder): string {
  const r = f.run, m = f.metrics, e = f.experiment;
  const name = r?.experiment ?? m?.experiment ?? e?.name ?? 'experiment';
  const facts: [string, string][] = [];
  if (r?.spec) facts.push(['spec', `<code>${esc(r.spec)}</code>`]);
  if (e) facts.push(['model', `${esc(e.model.architecture)}${e.model.weights ? ` (<code>${esc(e.model.weights)}</code>)` : ' (seeded init)'}`]);
  if (m) facts.push(['evaluated', `${int(m.volumes)} volumes of <code>${esc(m.split)}</code>, ${m.finalModel === 'adapted' ? 'with the adapter' : 'base model'}`]);
  if (r?.data) facts.push(['data', `${r.data.train ?? '—'} train / ${r.data.eval ?? '—'} eval volumes${r.data.shape ? `, ${r.data.shape.join('×')} voxels` : ''}`]);
  if (r?.train) facts.push(['training', `${int(r.train.steps)} steps (${r.train.epochs} epochs × ${r.train.batchesPerEpoch} batches${r.train.batchSize ? ` of ${r.train.batchSize}` : ''}), ${lossSentence(r.train, { digits: 4, arrow: '→' })}`]);
  if (r?.device) facts.push(['device', esc(r.device)]);
  if (r?.seed !== undefined) facts.push(['seed', String(r.seed)]);
  if (r?.overrides && Object.keys(r.overrides).length) facts.push(['overrides', `<code>${esc(JSON.stringify(r.overrides))}</code>`]);
  if (r?.started) facts.push(['ran', `${esc(r.started)} → ${esc(r.finished ?? '')}${r.seconds?.total !== undefined ? ` (${r.seconds.total.toFixed(1)} s)` : ''}`]);
  if (r?.medctc) facts.push(['medctc', esc(r.medctc)]);
  return `<h1>${esc(name)}</h1><dl class="facts">${facts.map(([k, v]) => `<dt>${k}</dt><dd>${v}</dd>`).join('')}</dl>`;
}

const STYLE = `
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"DejaVu Sans",sans-serif;color:#1d2430;margin:0;background:#f6f7f9}
main{max-width:1320px;margin:0 auto;padding:20px 28px 60px}
h1{font-size:24px;margin:8px 0 6px}h2{font-size:18px;margin:30px 0 10px;padding-bottom:4px;border-bottom:1px solid #d5d9e0}h3{font-size:15px;margin:18px 0 6px}
.facts{display:grid;grid-template-columns:max-content 1fr;gap:2px 14px;margin:0}.facts dt{color:#5c6673}.facts dd{margin:0}
table{border-collapse:collapse;background:#fff;margin:6px 0;font-variant-numeric:tabular-nums}
th,td{border:1px solid #dde1e6;padding:4px 9px;text-align:right;vertical-align:top}th{background:#eef1f4;font-weight:600}
td:first-child,th:first-child{text-align:left}
table.headline{font-size:15px}table.headline td{padding:6px 12px}
table.config td,table.lock td,table.config th,table.lock th{text-align:left}table.config,table.lock{font-size:12.5px}
table.config td:nth-child(2){max-width:520px;overflow-wrap:anywhere}table.config td:nth-child(3){white-space:nowrap}
.ci{color:#5c6673;font-size:92%}.params{font-size:15px}.note,.notes{color:#4a5361;font-size:13px}.none{color:#7a828d;font-style:italic}
.degenerate{color:#b3261e;font-weight:600}
.charts{display:flex;flex-wrap:wrap;gap:8px}.charts svg{background:#fff;border:1px solid #dde1e6}
.charts svg text{font-family:system-ui,-apple-system,"Segoe UI",Roboto,"DejaVu Sans",sans-serif}
.legend{font-size:13px;color:#4a5361}.swatch{display:inline-block;width:22px;height:0;border-top:3px solid;vertical-align:middle;margin:0 4px 0 12px}
details{margin:6px 0}summary{cursor:pointer;color:#1c4f8c}code{font:12px ui-monospace,"DejaVu Sans Mono",monospace}
`;

export interface ReportCharts { roc: Chart[]; training: Chart[] }

export function reportHtml(f: RunFolder, charts: ReportCharts): string {
  const name = f.run?.experiment ?? f.metrics?.experiment ?? f.experiment?.name ?? 'experiment';
  const sections: string[] = [header(f)];
  sections.push('<h2 id="headline">Headline</h2>', headline(f));
  if (f.metrics) sections.push('<h2 id="labels">Per pathology</h2>', perLabel(f));
  sections.push('<h2 id="roc">ROC curves</h2>');
  if (charts.roc.length) {
    const legend = f.baselineScores
      ? `<p class="legend"><span class="swatch" style="border-color:#7b8794;border-top-style:dashed"></span>before training <span class="swatch" style="border-color:#d9480f"></span>after training (AUROC in the legend; grey dotted: chance)</p>`
      : '<p class="legend">AUROC in the legend; grey dotted: chance</p>';
    sections.push(legend, `<div class="charts">${charts.roc.map(toSvg).join('')}</div>`);
  } else sections.push('<p class="none">No scores.csv in this folder.</p>');
  sections.push('<h2 id="training">Training</h2>');
  sections.push(charts.training.length ? `<div class="charts">${charts.training.map(toSvg).join('')}</div>` : '<p class="none">No train_log.jsonl: this run did not train.</p>');
  sections.push('<h2 id="parameters">Parameters and memory</h2>', parameters(f));
  sections.push('<h2 id="configuration">Configuration</h2>', configuration(f));
  sections.push('<h2 id="lock">Lock</h2>', lock(f));
  return `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:">
<title>${esc(name)}: medctc report</title><style>${STYLE}</style></head>
<body><main>${sections.join('\n')}
<p class="note">Written by medctc from the files of this folder (<code>medctc report DIR</code> rewrites it); it loads nothing from the network.</p>
</main></body></html>
`;
}
