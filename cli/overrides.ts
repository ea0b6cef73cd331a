// `--set PATH=VALUE` (repeatable) on check, build, run, train, evaluate and explain: the option
// and its normalisation. What an override means is compiler/check/overrides.ts; the checker reads it.
import type { Argv } from 'yargs';

export const SET_OPTION = {
  type: 'string',
  requiresArg: true,
  describe: 'override a value, checked like the spec: `--set lora.rank=16`, `--set train.optimizer.lr=3e-4`, `--set train.schedule.warmup="2 epochs"` (repeatable)',
} as const;

export function withSet<T>(y: Argv<T>): Argv<T> {
  return y.option('set', SET_OPTION) as unknown as Argv<T>;
}

/** The `--set` values in command-line order (yargs gives a string for one, an array for several). */
export function setArgs(v: unknown): string[] {
  if (v === undefined || v === null) return [];
  return (Array.isArray(v) ? v : [v]).map(String);
}
