// Progress for long first passes (synthesis, hashing, preprocessing): a bar on stderr when it is a
// terminal, JSON lines on stderr in `json` mode, nothing in `quiet` mode. Piped (a log file, a job
// scheduler), a pass that lasts: a plain line once it has run PIPED_FIRST_S, then at most every
// PIPED_EVERY_S, and the last one (short passes, as in tests, print nothing). All show the rate
// (volumes per second, since the start) and the time left at that rate.
import cliProgress from 'cli-progress';

export type ProgressMode = 'auto' | 'quiet' | 'json';

export interface Progress { tick(done: number): void; stop(): void }

/** Volumes per second so far and the seconds left at that rate (Infinity before the first). */
export function rateOf(done: number, total: number, elapsedS: number): { perSecond: number; etaS: number } {
  const perSecond = elapsedS > 0 ? done / elapsedS : 0;
  return { perSecond, etaS: perSecond > 0 ? (total - done) / perSecond : Infinity };
}

export function formatEta(s: number): string {
  if (!Number.isFinite(s)) return '?';
  const r = Math.round(s);
  return r >= 3600 ? `${Math.floor(r / 3600)}h${String(Math.floor((r % 3600) / 60)).padStart(2, '0')}m`
    : r >= 60 ? `${Math.floor(r / 60)}m${String(r % 60).padStart(2, '0')}s` : `${r}s`;
}

export const PIPED_FIRST_S = 10;
export const PIPED_EVERY_S = 30;

/** The plain line a piped pass prints. */
export function progressLine(task: string, done: number, total: number, elapsedS: number): string {
  const { perSecond, etaS } = rateOf(done, total, elapsedS);
  return `${task}: ${done}/${total}  ${perSecond.toFixed(2)} volumes/s  ETA ${formatEta(etaS)}`;
}

export interface ProgressIo {
  stream?: Pick<NodeJS.WriteStream, 'write' | 'isTTY'>;
  /** Milliseconds, monotonic (performance.now). */
  now?: () => number;
}

export function startProgress(mode: ProgressMode, task: string, total: number, io: ProgressIo = {}): Progress {
  const stream = io.stream ?? process.stderr;
  const now = io.now ?? (() => performance.now());
  const t0 = now();
  const rate = (done: number) => rateOf(done, total, (now() - t0) / 1000);
  if (mode === 'json') {
    return {
      tick: (done) => {
        const { perSecond, etaS } = rate(done);
        stream.write(JSON.stringify({ event: 'progress', task, done, total, perSecond, etaSeconds: Number.isFinite(etaS) ? etaS : null }) + '\n');
      },
      stop: () => {},
    };
  }
  if (mode === 'quiet' || total === 0) return { tick: () => {}, stop: () => {} };
  if (!stream.isTTY) {
    let shown = -Infinity;
    return {
      tick: (done) => {
        const s = (now() - t0) / 1000;
        if (s >= PIPED_FIRST_S && (s - shown >= PIPED_EVERY_S || (done === total && shown > -Infinity))) {
          stream.write(progressLine(task, done, total, s) + '\n');
          shown = s;
        }
      },
      stop: () => {},
    };
  }
  const bar = new cliProgress.SingleBar({
    stream: stream as NodeJS.WriteStream,
    format: `${task} [{bar}] {value}/{total}  {rate} volumes/s  ETA {left}`,
    hideCursor: true,
    clearOnComplete: true,
  }, cliProgress.Presets.shades_classic);
  bar.start(total, 0, { rate: '-', left: '?' });
  return {
    tick: (done) => { const r = rate(done); bar.update(done, { rate: r.perSecond.toFixed(2), left: formatEta(r.etaS) }); },
    stop: () => bar.stop(),
  };
}
