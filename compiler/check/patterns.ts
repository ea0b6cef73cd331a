// Pattern syntax only: whether a LoRA target / modules_to_save pattern parses. Matching against
// the model's module paths happens in the graph stage (compiler/passes/lora.ts), with the same code.
import { globRegex, PatternError, regexPattern } from '../passes/patterns.js';

/** The problem with `pattern`, or null when it parses. */
export function checkPattern(pattern: string, match: 'glob' | 'regex'): string | null {
  if (pattern.trim() === '') return 'the pattern is empty';
  try {
    if (match === 'glob') {
      if (/[\s()[\]|+?^$\\]/.test(pattern)) return 'globs may not contain spaces or regex syntax; write `regex "..."` for a regex';
      globRegex(pattern);
    } else regexPattern(pattern);
    return null;
  } catch (err) {
    if (err instanceof PatternError || err instanceof SyntaxError) return err.message;
    throw err;
  }
}
