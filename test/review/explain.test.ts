// `medctc explain`: goldens over examples/*.medct (UPDATE_GOLDEN=1 writes them; a missing golden
// fails), and provenance checked against the source text itself: every value said to come from
// file:line:col is the token written there.
import { existsSync, readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { medctc } from './cli.js';

const GOLDEN = 'test/review/golden';

function golden(name: string, text: string): void {
  const file = join(GOLDEN, name);
  if (process.env.UPDATE_GOLDEN === '1') { mkdirSync(GOLDEN, { recursive: true }); writeFileSync(file, text); }
  // A missing golden is a failure, not a fresh snapshot: a golden written from the output it checks proves nothing.
  if (!existsSync(file)) expect.fail(`${file} is missing: review the output and run with UPDATE_GOLDEN=1 to write it`);
  expect(text).toBe(readFileSync(file, 'utf8'));
}

const CASES: [string, string[]][] = [
  ['quickstart', ['examples/quickstart.medct']],
  ['medct-vlm', ['examples/medct-vlm.medct']],
  ['ablation-text-only', ['examples/ablation-text-only.medct']],
  ['ablation-rank', ['examples/ablation-rank.medct']],
  ['ablation-rank.lora', ['examples/ablation-rank.medct#medct-vlm-rank@rank=16', 'lora']],
  ['medct-vlm.optimizer', ['examples/medct-vlm.medct', 'train.optimizer', 'lora.rank', 'data.preprocess.window']],
];

describe('medctc explain: goldens over the examples', () => {
  for (const [name, args] of CASES) {
    it(`explain ${args.join(' ')}`, () => {
      const r = medctc('explain', ...args);
      expect(r.status, r.stderr).toBe(0);
      golden(`explain.${name}.txt`, r.stdout);
    });
  }
  it('explain --json (narrowed)', () => {
    const r = medctc('explain', 'examples/ablation-text-only.medct', 'lora.rank', 'outputs.dir', '--json');
    expect(r.status, r.stderr).toBe(0);
    golden('explain.ablation-text-only.json', r.stdout);
  });
});

/** The token at line:col (1-based) of a file. */
function tokenAt(file: string, line: number, col: number): string {
  const text = readFileSync(file, 'utf8').split('\n')[line - 1]!.slice(col - 1);
  const m = /^("(?:[^"\\]|\\.)*"|[-+]?[0-9.][0-9.eE+-]*|[A-Za-z_][A-Za-z0-9_.]*|\[)/.exec(text);
  return m ? m[1]! : text.slice(0, 1);
}

interface JsonRow { path: string; pointer: string; value: unknown; provenance: { kind: string; file?: string; line?: number; col?: number; from?: string }; origin: string }

describe('medctc explain: provenance points at the value in the source', () => {
  for (const example of ['quickstart', 'medct-vlm', 'ablation-text-only', 'ablation-rank']) {
    it(`every positioned scalar of ${example} is the token written there`, () => {
      const r = medctc('explain', `examples/${example}.medct`, '--json');
      expect(r.status, r.stderr).toBe(0);
      const doc = JSON.parse(r.stdout) as { ok: boolean; experiments: { name: string; variant: unknown; values: JsonRow[] }[] };
      expect(doc.ok).toBe(true);
      let checked = 0;
      for (const e of doc.experiments) {
        for (const row of e.values) {
          const p = row.provenance;
          if (p.kind === 'default') { expect(row.origin).toBe('default'); continue; }
          expect(row.origin.startsWith(`${p.file}:${p.line}:${p.col}`)).toBe(true);
          if (row.pointer === '/name' && e.variant) continue; // a variant's name is the base name plus its bindings
          const tok = tokenAt(p.file!, p.line!, p.col!);
          if (Array.isArray(row.value)) { expect(['[', 'ct_rate.all']).toContain(tok); continue; }
          if (typeof row.value === 'number') expect(Number(tok), `${row.path} at ${row.origin}`).toBe(row.value);
          else if (typeof row.value === 'string' && tok.startsWith('"')) expect(JSON.parse(tok), row.path).toBe(row.value);
          else expect(tok, `${row.path} at ${row.origin}`).toBe(String(row.value));
          checked++;
        }
      }
      expect(checked).toBeGreaterThan(10);
    });
  }

  it('names the parent for inherited values and the sweep binding for swept ones', () => {
    const t = JSON.parse(medctc('explain', 'examples/ablation-text-only.medct', '--json').stdout).experiments[0].values as JsonRow[];
    const by = (p: string) => t.find((r) => r.pointer === p)!;
    expect(by('/seed').provenance).toMatchObject({ kind: 'inherited', from: 'medct-vlm', file: 'examples/medct-vlm.medct' });
    expect(by('/seed').origin).toContain('(inherited from medct-vlm)');
    expect(by('/outputs/dir').provenance).toMatchObject({ kind: 'source', file: 'examples/ablation-text-only.medct' });
    // The text-only ablation replaces the targets as a whole: one target left.
    expect(t.some((r) => r.pointer.startsWith('/lora/targets/1/'))).toBe(false);
    const s = JSON.parse(medctc('explain', 'examples/ablation-rank.medct#medct-vlm-rank@rank=64', 'lora.rank', '--json').stdout);
    expect(s.experiments).toHaveLength(1);
    for (const r of s.experiments[0].values as JsonRow[]) {
      expect(r.value).toBe(64);
      expect(r.origin).toMatch(/^examples\/ablation-rank\.medct:7:\d+ \(sweep variant rank=64\)$/);
    }
  });

  it('PATH: abbreviations and skipped levels; an unknown path is E0010 with a suggestion', () => {
    const paths = (...q: string[]) => (JSON.parse(medctc('explain', 'examples/quickstart.medct', ...q, '--json').stdout).experiments[0].values as JsonRow[]).map((r) => r.path);
    expect(paths('train.batch')).toEqual(['train.batchSize']);
    expect(paths('train.lr')).toEqual(['train.optimizer.lr']);
    expect(paths('lora.rank')).toEqual(['lora.targets[0].rank', 'lora.targets[1].rank']);
    expect(paths('/lora/targets/1/pattern')).toEqual(['lora.targets[1].pattern']);
    expect(paths('lora.targets[1].pattern')).toEqual(['lora.targets[1].pattern']);
    const bad = medctc('explain', 'examples/quickstart.medct', 'lora.rnak');
    expect(bad.status).toBe(2);
    expect(bad.stderr).toContain('error[E0010]');
    expect(bad.stderr).toContain('did you mean `lora.rank`?');
    const j = medctc('explain', 'examples/quickstart.medct', 'nothing.here', '--json');
    expect(j.status).toBe(2);
    expect(JSON.parse(j.stdout)).toMatchObject({ ok: false, diagnostics: [{ code: 'E0010' }] });
  });

  it('a spec with errors shows its diagnostics (exit 2); an unknown experiment is E0011', () => {
    const r = medctc('explain', 'test/check/cases/E2001-unknown-field.medct');
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('error[E2001]');
    const n = medctc('explain', 'examples/quickstart.medct#nope');
    expect(n.status).toBe(2);
    expect(n.stderr).toContain('error[E0011]');
    expect(n.stderr).toContain('`quickstart`');
  });
});
