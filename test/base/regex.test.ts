// User-supplied patterns (issue 14): matched in linear time by base/regex.ts, with the same
// answers as RegExp on the syntax it accepts, and a diagnostic (exit 2) for what it refuses.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { RegexError, safeRegex } from '../../base/regex.js';
import { checkPattern } from '../../compiler/check/patterns.js';
import { globRegex, regexPattern } from '../../compiler/passes/patterns.js';
import { patternKeyFor, readPeftConfig, targetModulesMatch } from '../../runtime/adapter/index.js';
import { expectDiagnostic, tempDir } from '../runtime/helpers.js';

/** Catastrophic for a backtracking engine: each is exponential (or high-degree polynomial) in
 *  RegExp on the subject below, which therefore never runs them. */
const CATASTROPHIC = ['(a+)+$', '(a|aa)*b', '(.*)*x', '(x+x+)+y', '((a*)*)*$', '(\\w+\\s?)+$', '(a|a)*$', '^(([a-z])+.)+[A-Z]([a-z])+$', '(.*a){20}'];
const SUBJECT = 'a'.repeat(20_000) + '!';

describe('linear time', () => {
  for (const p of CATASTROPHIC) {
    it(`\`${p}\` against 20,001 characters finishes quickly`, () => {
      const t0 = performance.now();
      const m = safeRegex(p);
      // Matches: twenty a's are there; the starred ones match the empty string before the end.
      expect(m.test(SUBJECT)).toBe(['(.*a){20}', '((a*)*)*$', '(a|a)*$'].includes(p));
      expect(performance.now() - t0).toBeLessThan(3000);
    });
  }

  it('PEFT target_modules and rank_pattern keys from an adapter_config.json stay fast', () => {
    const path = 'base.' + 'a'.repeat(5_000) + '.q';
    const t0 = performance.now();
    expect(targetModulesMatch('(a+)+$', path)).toBe(false);
    expect(patternKeyFor(['(a|aa)*b', '(.*)*\\.z'], path)).toBeNull();
    expect(patternKeyFor(['(a+)+\\.q'], path)).toBe('(a+)+\\.q');
    expect(regexPattern('(a+)+$').test(path)).toBe(false);
    expect(performance.now() - t0).toBeLessThan(3000);
  });
});

describe('answers', () => {
  const cases: [string, string, boolean][] = [
    ['encoder\\.layer\\.\\d+\\.attention\\.self\\.(query|value)', 'encoder.layer.11.attention.self.value', true],
    ['encoder\\.layer\\.\\d+\\.attention\\.self\\.(query|value)', 'encoder.layer.x.attention.self.value', false],
    ['^.*\\.(q|v)_proj$', 'model.layers.0.self_attn.q_proj', true],
    ['^.*\\.(q|v)_proj$', 'model.layers.0.self_attn.k_proj', false],
    ['[^.]+\\.to_q', 'x.to_q', true], ['\\bto_q\\b', 'x.to_qv', false], ['\\Bo_q', 'x.to_q', true],
    ['a{2,3}$', 'xaa', true], ['^a{2,3}$', 'aaaa', false], ['a{', 'a{', true], ['x{,2}', 'x{,2}', true],
    ['[\\d-z]', '-', true], ['[a-]', '-', true], ['[]', 'a', false], ['[^]', 'a', true], ['\\x41\\u0042', 'AB', true],
    ['.', '\n', false], ['\\s', '\u00a0', true], ['(?<name>ab)+', 'abab', true], ['a*?b', 'aab', true], ['', 'x', true],
  ];
  for (const [p, s, want] of cases) {
    it(`\`${p}\` on ${JSON.stringify(s)} is ${want}, as RegExp says`, () => {
      expect(new RegExp(p).test(s)).toBe(want); // the expectation is RegExp's own answer
      expect(safeRegex(p).test(s)).toBe(want);
    });
  }

  // A random pattern of the accepted syntax over a small alphabet, and random subjects: the answer
  // must be RegExp's. Subjects are short and patterns small, so RegExp stays fast here.
  const alphabet = ['a', 'b', '.', '_', '1'];
  const literal = fc.constantFrom('a', 'b', '\\.', '_', '1', '.', '\\d', '\\w', '\\W', '[ab]', '[^a]', '[a-b_]', '[\\d.]');
  const { node } = fc.letrec<{ node: string; atom: string }>((tie) => ({
    atom: fc.oneof({ depthSize: 'small', withCrossShrink: true },
      literal,
      fc.constantFrom('^', '$', '\\b', '\\B'),
      tie('node').map((n) => `(${n})`),
      tie('node').map((n) => `(?:${n})`)),
    node: fc.oneof({ depthSize: 'small' },
      fc.array(fc.tuple(tie('atom'), fc.constantFrom('', '', '*', '+', '?', '{2}', '{0,2}', '{1,}', '*?')), { minLength: 1, maxLength: 4 })
        .map((xs) => xs.map(([a, q]) => (/^(\^|\$|\\b|\\B)$/.test(a) ? a : a + q)).join('')),
      fc.tuple(tie('node'), tie('node')).map(([a, b]) => `${a}|${b}`)),
  }));
  const subject = fc.array(fc.constantFrom(...alphabet), { maxLength: 10 }).map((xs) => xs.join(''));

  it('equals RegExp on random patterns of the accepted syntax', () => {
    fc.assert(fc.property(node, fc.array(subject, { minLength: 1, maxLength: 8 }), (p, subjects) => {
      const js = new RegExp(p), ours = safeRegex(p);
      for (const s of subjects) expect([p, s, ours.test(s)]).toEqual([p, s, js.test(s)]);
    }), { numRuns: 600, seed: 14 });
  });

  it('globs still match on segment boundaries', () => {
    expect(globRegex('attention.self.{query,key}').test('enc.attention.self.key')).toBe(true);
    expect(globRegex('layers.*.to_q').test('x.layers.2.1.to_q')).toBe(false);
  });
});

describe('refused patterns', () => {
  const refused: [string, RegExp][] = [
    ['(?=a)b', /lookahead/], ['(?<!a)b', /lookbehind/], ['(a)\\1', /backreferences/], ['(?P<x>a)', /Python/],
    ['\\p{L}', /escape `\\p`/], ['a{2,1}', /out of order/], ['(a', /unterminated group/], ['[a', /unterminated character class/],
    ['*a', /nothing to repeat/], ['a**', /nothing to repeat/], ['a)', /unmatched/], ['x{1001}', /count above/], ['^*', /anchor/],
    ['((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((a', /deeper/],
    ['(x{1000}){1000}', /too large/],
  ];
  for (const [p, why] of refused) {
    it(`\`${p.slice(0, 24)}\` is a RegexError (${why.source})`, () => {
      expect(() => safeRegex(p)).toThrow(RegexError);
      expect(() => safeRegex(p)).toThrow(why);
    });
  }

  it('a user pattern is checked alone, so closing its wrapper is an error, not another pattern', () => {
    expect(checkPattern('a)|(b', 'regex')).toMatch(/unmatched/);
    expect(checkPattern('(?<=x)q', 'regex')).toMatch(/lookbehind/);
    expect(checkPattern('(a+)+$', 'regex')).toBeNull();
  });

  it('adapter_config.json with an unsupported or invalid pattern is E5531', () => {
    const write = (cfg: Record<string, unknown>) => {
      const f = join(tempDir('regex'), 'adapter_config.json');
      writeFileSync(f, JSON.stringify({ peft_type: 'LORA', r: 8, lora_alpha: 16, ...cfg }));
      return f;
    };
    expectDiagnostic(() => readPeftConfig(write({ target_modules: '(?=q).*' })), 'E5531', ['target_modules', 'lookahead']);
    expectDiagnostic(() => readPeftConfig(write({ target_modules: 'q)|(v' })), 'E5531', ['target_modules', 'unmatched']);
    expectDiagnostic(() => readPeftConfig(write({ rank_pattern: { '(': 4 } })), 'E5531', ['rank_pattern', 'key "("']);
    expectDiagnostic(() => readPeftConfig(write({ alpha_pattern: { '(a)\\1': 4 } })), 'E5531', ['alpha_pattern', 'backreferences']);
    expect(readPeftConfig(write({ target_modules: '(a+)+$', rank_pattern: { '(q|v)_proj': 4 } })).target_modules).toBe('(a+)+$');
  });
});
