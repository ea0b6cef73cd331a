// Diagnostic codes E0xxx: the command line itself (before any file is read). One entry per code:
// its one-line title (the message says the specifics). Codes are never reused or renumbered.
export const USAGE_CODES = {
  E0001: 'invalid command line',
} as const satisfies Record<string, string>;
