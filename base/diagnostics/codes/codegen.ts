// Diagnostic codes E4xxx. One entry per code: its one-line title (the message says the specifics).
// Codes are never reused or renumbered once released.
export const CODEGEN_CODES = {
  E4001: 'compute backend unavailable',
  // E4002 (generated kernel failed to compile) and E4004 (kernel buffers do not match its
  // bindings) are retired: both are medctc's own bugs, reported as internal errors (exit 3).
  E4003: 'unknown compute backend',
  E4005: 'experiment cannot be exported to the target',
  E4006: 'backend cannot store the plan\'s precision',
} as const satisfies Record<string, string>;
