// Data progress when stderr is piped: nothing for a short pass; for a long one a line once it has
// run 10 s, then at most every 30 s, and the last one; rate and ETA computed from the clock.
import { describe, expect, it } from 'vitest';
import { formatEta, rateOf, startProgress } from '../../runtime/data/progress.js';

function fake(isTTY: boolean) {
  const lines: string[] = [];
  let t = 0;
  return { lines, at: (s: number) => { t = s * 1000; }, io: { stream: { isTTY, write: (s: string) => { lines.push(s); return true; } }, now: () => t } };
}

describe('data progress', () => {
  it('piped, short: nothing', () => {
    const f = fake(false);
    const p = startProgress('auto', 'preprocessing train', 3, f.io);
    for (const [s, done] of [[2, 1], [5, 2], [9.9, 3]] as const) { f.at(s); p.tick(done); }
    p.stop();
    expect(f.lines).toEqual([]);
  });

  it('piped, long: after 10 s, then every 30 s at most, and the last', () => {
    const f = fake(false);
    const p = startProgress('auto', 'preprocessing train', 100, f.io);
    const ticks: [number, number][] = [[5, 1], [12, 2], [20, 3], [41, 4], [43, 5], [80, 99], [81, 100]];
    for (const [s, done] of ticks) { f.at(s); p.tick(done); }
    expect(f.lines).toEqual([
      'preprocessing train: 2/100  0.17 volumes/s  ETA 9m48s\n', // 2 / 12 s; 98 left at 1/6 per s = 588 s
      'preprocessing train: 5/100  0.12 volumes/s  ETA 13m37s\n', // 41 s is 29 s after: not yet; 5 / 43 s; 95 * 8.6 s = 817 s
      'preprocessing train: 99/100  1.24 volumes/s  ETA 1s\n', // 99 / 80 s
      'preprocessing train: 100/100  1.23 volumes/s  ETA 0s\n',
    ]);
  });

  it('json: every tick, with volumes/s and seconds left', () => {
    const f = fake(false);
    const p = startProgress('json', 'hashing volumes', 4, f.io);
    f.at(2); p.tick(1);
    f.at(4); p.tick(4);
    expect(f.lines.map((l) => JSON.parse(l))).toEqual([
      { event: 'progress', task: 'hashing volumes', done: 1, total: 4, perSecond: 0.5, etaSeconds: 6 },
      { event: 'progress', task: 'hashing volumes', done: 4, total: 4, perSecond: 1, etaSeconds: 0 },
    ]);
  });

  it('quiet: nothing, even for a long pass', () => {
    const f = fake(true);
    const p = startProgress('quiet', 'x', 2, f.io);
    f.at(100); p.tick(1); p.tick(2); p.stop();
    expect(f.lines).toEqual([]);
  });

  it('rate and ETA', () => {
    expect(rateOf(0, 10, 0)).toEqual({ perSecond: 0, etaS: Infinity });
    expect(rateOf(5, 10, 10)).toEqual({ perSecond: 0.5, etaS: 10 });
    expect([formatEta(Infinity), formatEta(59.4), formatEta(61), formatEta(3600 * 2 + 60 * 5 + 20)]).toEqual(['?', '59s', '1m01s', '2h05m']);
  });
});
