// Progress for long first passes (synthesis, hashing, preprocessing): a bar on stderr when it is a
// terminal, JSON lines on stderr in `json` mode, nothing in `quiet` mode or when piped. Both show
// the rate (volumes per second, since the start) and the time left at that rate.
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

export function startProgress(mode: ProgressMode, task: string, total: number): Progress {
  const t0 = performance.now();
  const rate = (done: number) => rateOf(done, total, (performance.now() - t0) / 1000);
  if (mode === 'json') {
    return {
      tick: (done) => {
        const { perSecond, etaS } = rate(done);
        process.stderr.write(JSON.stringify({ event: 'progress', task, done, total, perSecond, etaSeconds: Number.isFinite(etaS) ? etaS : null }) + '\n');
      },
      stop: () => {},
    };
  }
  if (mode === 'quiet' || !process.stderr.isTTY || total === 0) return { tick: () => {}, stop: () => {} };
  const bar = new cliProgress.SingleBar({
    stream: process.stderr,
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
