// Progress for long first passes (synthesis, preprocessing): a bar on stderr when it is a
// terminal, JSON lines on stderr in `json` mode, nothing in `quiet` mode or when piped.
import cliProgress from 'cli-progress';

export type ProgressMode = 'auto' | 'quiet' | 'json';

export interface Progress { tick(done: number): void; stop(): void }

export function startProgress(mode: ProgressMode, task: string, total: number): Progress {
  if (mode === 'json') {
    return {
      tick: (done) => process.stderr.write(JSON.stringify({ event: 'progress', task, done, total }) + '\n'),
      stop: () => {},
    };
  }
  if (mode === 'quiet' || !process.stderr.isTTY || total === 0) return { tick: () => {}, stop: () => {} };
  const bar = new cliProgress.SingleBar({
    stream: process.stderr,
    format: `${task} [{bar}] {value}/{total} {eta_formatted}`,
    hideCursor: true,
    clearOnComplete: true,
  }, cliProgress.Presets.shades_classic);
  bar.start(total, 0);
  return { tick: (done) => bar.update(done), stop: () => bar.stop() };
}
