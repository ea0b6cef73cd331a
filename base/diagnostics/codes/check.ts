// Diagnostic codes E2xxx / W2xxx. One entry per code: its one-line title (the message says the specifics).
// Codes are never reused or renumbered once released.
export const CHECK_CODES = {
  // E200x: fields and values
  E2001: 'unknown field',
  E2002: 'missing required field',
  E2003: 'duplicate field',
  E2004: 'value has the wrong type',
  E2005: 'unknown value',
  E2006: 'value out of range',
  E2007: 'missing unit',
  E2008: 'wrong unit',
  E2009: 'list has the wrong length',
  E2010: 'unknown name',
  E2011: 'duplicate constant',
  // E202x: files and experiments
  E2020: 'imported file not found',
  E2021: 'import cycle',
  E2022: 'unknown parent experiment',
  E2023: 'extends cycle',
  E2024: 'duplicate experiment name',
  E2025: 'no experiment declared',
  E2026: 'import outside the project root',
  // E203x: prompts
  E2030: 'prompt template must contain `{pathology}` exactly once',
  E2031: 'unknown pathology',
  E2032: 'duplicate pathology',
  // E204x: cross-field constraints
  E2040: 'preprocess size does not match the model input',
  E2041: 'size not divisible by the patch size',
  E2042: 'HU window is empty',
  E2043: 'invalid target pattern',
  E2044: 'attention heads do not divide the hidden size',
  E2045: 'conflicting settings',
  // E205x: sweeps
  E2050: 'invalid sweep',
  // W206x: warnings
  W2060: 'unused constant',
  W2061: 'gradient accumulation with the CLIP loss is not the larger batch',
} as const satisfies Record<string, string>;
