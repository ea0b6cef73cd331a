// Diagnostic codes E2xxx. One entry per code: its one-line title (the message says the specifics).
// Codes are never reused or renumbered once released.
export const CHECK_CODES = {
} as const satisfies Record<string, string>;
