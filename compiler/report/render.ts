// The report as text (terminal) and markdown (report.md): same rows, same numbers.
import type { BuildReport } from './params.js';

const int = (n: number): string => Math.round(n).toLocaleString('en-US');
export const percent = (f: number): string => `${(f * 100).toFixed(3)}%`;

export function bytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let u = 0, v = n;
  while (v >= 1024 && u < units.length - 1) { v /= 1024; u++; }
  return `${u === 0 ? v : v.toFixed(2)} ${units[u]}`;
}

const flops = (n: number): string => (n >= 1e12 ? `${(n / 1e12).toFixed(2)} TFLOP` : `${(n / 1e9).toFixed(2)} GFLOP`);

const plural = (n: number, what: string): string => `${n} ${what}${n === 1 ? '' : 's'}`;

function table(head: string[], rows: string[][]): string[] {
  const w = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (r: string[]) => `| ${r.map((c, i) => (i === 0 ? c.padEnd(w[i]!) : c.padStart(w[i]!))).join(' | ')} |`;
  return [line(head), `|${w.map((x, i) => (i === 0 ? '-'.repeat(x + 2) : `${'-'.repeat(x + 1)}:`)).join('|')}|`, ...rows.map(line)];
}

export function renderReport(r: BuildReport): string {
  const p = r.parameters, m = r.memory;
  const out: string[] = [
    `# ${r.experiment} (${r.architecture})`, '',
    `Parameters: ${int(p.trainable)} trainable of ${int(p.total)} (${percent(p.trainableFraction)}); ${p.adapters} LoRA adapter(s); ${int(p.buffers)} buffer values not counted.`, '',
    ...table(['group', 'parameters', 'trainable'], [
      ...p.groups.map((g) => [g.group, int(g.total), int(g.trainable)]),
      ['total', int(p.total), int(p.trainable)],
    ]), '',
    ...(p.loraTargets.length ? [
      ...table(['LoRA target', 'encoder', 'rank', 'alpha', 'scaling', 'modules', 'parameters'], p.loraTargets.map((t) => [
        `\`${t.pattern}\``, t.encoder, String(t.rank), String(t.alpha), String(+t.scaling.toFixed(6)), String(t.modules), int(t.parameters),
      ])), '',
    ] : []),
    m.precision === 'fp32' ? '## Memory (fp32)' : `## Memory (${m.precision}: frozen weights and activations in 16 bits; LoRA weights, gradients and optimizer state in fp32)`, '',
    ...table(['what', 'bytes'], [
      ['weights (parameters + buffers)', bytes(m.weightsBytes)],
      ...(m.precision === 'fp32' ? [] : [['weights, were they all fp32', bytes(m.weightsFp32Bytes)]]),
      ['gradients (trainable)', bytes(m.gradientBytes)],
      ['AdamW moments (trainable)', bytes(m.optimizerBytes)],
      ['activations, eval: planned peak', bytes(m.activations.eval.peakBytes)],
      ['activations, eval: without reuse', bytes(m.activations.eval.naiveBytes)],
      ...(m.activations.train ? [
        [`activations, train${m.accumulation ? ` (micro-batch of ${m.accumulation.microBatch})` : ''}: planned peak`, bytes(m.activations.train.peakBytes)],
        [`activations, train${m.accumulation ? ` (micro-batch of ${m.accumulation.microBatch})` : ''}: without reuse`, bytes(m.activations.train.naiveBytes)],
      ] : []),
      ...(m.accumulation ? [['gradient sums of the micro-batches (host memory)', bytes(m.accumulation.hostGradientBytes)]] : []),
    ]), '',
    ...(m.accumulation ? [
      `Gradient accumulation: ${m.accumulation.microBatches} micro-batches of ${m.accumulation.microBatch} per optimizer step (${m.accumulation.stepBatch} volumes a step); `
      + 'the device holds one micro-batch\'s activations and gradients.', '',
    ] : []),
    '## Compute', '',
    `- eval forward, per volume: ${flops(r.flops.evalPerSample)} (${plural(r.batch.eval.images, 'volume')} per step; the kernels that read the volume)`,
    `- eval forward, once per evaluation: ${flops(r.flops.evalInvariant)} (loop-invariant: the text tower over ${plural(r.batch.eval.texts, 'prompt text')} and the image encoder's weight-only parts; `
    + `${r.kernels.evalInvariant} of ${r.kernels.eval} kernels, rerun only when weights or prompts change)`,
    ...(r.flops.trainPerSample !== null && r.batch.train ? [
      `- train step (forward + backward + optimizer), per volume: ${flops(r.flops.trainPerSample)} (batch of ${plural(r.batch.train.images, 'volume')} and ${plural(r.batch.train.texts, 'text')}; `
      + `the text tower runs once per step, so its cost is amortised over the batch; ${r.kernels.train} kernels)`,
    ] : []),
  ];
  return out.join('\n') + '\n';
}
