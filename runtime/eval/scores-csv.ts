// Per-volume scores as CSV (OutputSpec.scores): one row per volume, P(present) for each label and
// the ground truth beside it, so a run's numbers can be re-scored by any other tool.
import { writeFileAtomic } from '../../base/atomic.js';

/** RFC 4180 quoting: only when a field holds a comma, quote or line break. */
const field = (s: string): string => (/[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s);

/**
 * Columns: VolumeName, then for each label `<label>` (the score, written with the shortest decimal
 * that round-trips to the same double, so the CSV is exact and deterministic) and
 * `<label> (truth)` (0/1). Rows in the given order; `\n` line endings.
 */
export function scoresCsv(volumes: readonly string[], labels: readonly string[], scores: readonly ArrayLike<number>[], truth: readonly ArrayLike<number>[]): string {
  if (scores.length !== volumes.length || truth.length !== volumes.length) throw new Error(`scoresCsv: ${volumes.length} volumes, ${scores.length} score rows, ${truth.length} label rows`);
  const head = ['VolumeName', ...labels.flatMap((l) => [l, `${l} (truth)`])].map(field).join(',');
  const rows = volumes.map((v, i) => [field(v), ...labels.flatMap((_, l) => [String(scores[i]![l]), String(truth[i]![l])])].join(','));
  return [head, ...rows].join('\n') + '\n';
}

export function writeScoresCsv(path: string, ...args: Parameters<typeof scoresCsv>): void {
  writeFileAtomic(path, scoresCsv(...args));
}
