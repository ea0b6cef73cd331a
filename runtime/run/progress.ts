// What a run shows while it works, on stderr: a live bar on a terminal; plain lines when piped
// (at most one every few seconds, plus each epoch's last step); JSON lines with --json; nothing
// when quiet. Colour only on a terminal without NO_COLOR.
import cliProgress from 'cli-progress';
import pc from 'picocolors';
import type { StepRecord } from './train.js';

export type RunProgressMode = 'auto' | 'quiet' | 'json';

export interface RunReporter {
  /** A one-line message (phase changes, where files went). */
  note(message: string, data?: Record<string, unknown>): void;
  step(r: StepRecord): void;
  /** Progress through a counted task (evaluation). */
  count(task: string, done: number, total: number): void;
  stop(): void;
}

const fmtLr = (lr: number): string => lr.toExponential(2);
const fmtEta = (s: number): string => (!Number.isFinite(s) ? '?' : s >= 3600 ? `${Math.floor(s / 3600)}h${String(Math.round((s % 3600) / 60)).padStart(2, '0')}m` : s >= 60 ? `${Math.floor(s / 60)}m${String(Math.round(s % 60)).padStart(2, '0')}s` : `${Math.round(s)}s`);

/** Steps per second and the time left, from the steps done so far. */
export function rate(r: Pick<StepRecord, 'step' | 'totalSteps' | 'elapsed'>): { stepsPerSecond: number; eta: number } {
  const sps = r.elapsed > 0 ? r.step / r.elapsed : 0;
  return { stepsPerSecond: sps, eta: sps > 0 ? (r.totalSteps - r.step) / sps : Infinity };
}

/** The plain-text line for a step. */
export function stepLine(r: StepRecord): string {
  const { stepsPerSecond, eta } = rate(r);
  return `step ${r.step}/${r.totalSteps}  epoch ${r.epoch}/${r.epochs}  loss ${r.loss.toFixed(5)}  lr ${fmtLr(r.lr)}  ${stepsPerSecond.toFixed(2)} steps/s  ETA ${fmtEta(eta)}`;
}

export function startReporter(mode: RunProgressMode, stream: NodeJS.WriteStream = process.stderr): RunReporter {
  const write = (s: string) => { stream.write(s + '\n'); };
  if (mode === 'quiet') return { note: () => {}, step: () => {}, count: () => {}, stop: () => {} };
  if (mode === 'json') {
    return {
      note: (message, data) => write(JSON.stringify({ event: 'note', message, ...data })),
      step: (r) => write(JSON.stringify({ event: 'step', step: r.step, totalSteps: r.totalSteps, epoch: r.epoch, epochs: r.epochs, loss: r.loss, lr: r.lr, elapsed: r.elapsed, ...rate(r) })),
      count: (task, done, total) => write(JSON.stringify({ event: 'progress', task, done, total })),
      stop: () => {},
    };
  }
  const colour = stream.isTTY === true && !process.env.NO_COLOR;
  const dim = (s: string) => (colour ? pc.dim(s) : s);
  if (!stream.isTTY) {
    let lastShown = -Infinity;
    return {
      note: (m) => write(m),
      step: (r) => {
        const now = performance.now();
        if (r.step === 1 || r.batch === r.batches || now - lastShown >= 5000) { write(stepLine(r)); lastShown = now; }
      },
      count: (task, done, total) => { if (done === total) write(`${task}: ${done}/${total}`); },
      stop: () => {},
    };
  }
  let bar: cliProgress.SingleBar | null = null;
  let barTask = '';
  const stopBar = () => { bar?.stop(); bar = null; barTask = ''; };
  const ensureBar = (task: string, total: number, format: string) => {
    if (bar && barTask === task) return bar;
    stopBar();
    bar = new cliProgress.SingleBar({ stream, format, hideCursor: true, clearOnComplete: false, barsize: 24 }, cliProgress.Presets.shades_classic);
    bar.start(total, 0, { loss: '-', lr: '-', epoch: '-', sps: '-', eta2: '?' });
    barTask = task;
    return bar;
  };
  return {
    note: (m) => { stopBar(); write(dim(m)); },
    step: (r) => {
      const b = ensureBar('train', r.totalSteps, 'train [{bar}] {value}/{total}  epoch {epoch}  loss {loss}  lr {lr}  {sps} steps/s  ETA {eta2}');
      const { stepsPerSecond, eta } = rate(r);
      b.update(r.step, { loss: r.loss.toFixed(5), lr: fmtLr(r.lr), epoch: `${r.epoch}/${r.epochs}`, sps: stepsPerSecond.toFixed(2), eta2: fmtEta(eta) });
      if (r.step === r.totalSteps) stopBar();
    },
    count: (task, done, total) => {
      const b = ensureBar(task, total, `${task} [{bar}] {value}/{total}  ETA {eta_formatted}`);
      b.update(done);
      if (done === total) stopBar();
    },
    stop: stopBar,
  };
}
