// Diagnostic codes E0xxx: the command line itself (before any file is read). One entry per code:
// its one-line title (the message says the specifics). Codes are never reused or renumbered.
export const USAGE_CODES = {
  E0001: 'invalid command line',
  // E001x: the reviewer's commands (explain, diff, verify, metrics: cli/review)
  E0010: 'unknown experiment path',
  E0011: 'no such experiment in the file',
  E0012: 'cannot read the file at a git revision',
  // E0013: command-line overrides (`--set PATH=VALUE`: compiler/check/overrides.ts)
  E0013: 'invalid command-line override',
  // E0014-E0015: `medctc report` (cli/report)
  E0014: 'not a run or sweep folder',
  E0015: 'a run folder file cannot be read',
} as const satisfies Record<string, string>;
