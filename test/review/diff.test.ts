// `medctc diff`: goldens over the examples (UPDATE_GOLDEN=1 writes them; a missing golden fails),
// trainable-parameter effects checked against counts worked out by hand, layout-only edits are no
// difference, and a diff across two git revisions of a spec in a temporary repository.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { tempDir } from '../run/helpers.js';
import { medctc, medctcIn } from './cli.js';

const GOLDEN = 'test/review/golden';

function golden(name: string, text: string): void {
  const file = join(GOLDEN, name);
  if (process.env.UPDATE_GOLDEN === '1') { mkdirSync(GOLDEN, { recursive: true }); writeFileSync(file, text); }
  if (!existsSync(file)) expect.fail(`${file} is missing: review the output and run with UPDATE_GOLDEN=1 to write it`);
  expect(text).toBe(readFileSync(file, 'utf8'));
}

const VLM = 'examples/medct-vlm.medct', TEXT_ONLY = 'examples/ablation-text-only.medct', RANK = 'examples/ablation-rank.medct';

describe('medctc diff: goldens over the examples', () => {
  const cases: [string, string[], number][] = [
    ['vlm-vs-text-only', [VLM, TEXT_ONLY], 1],
    ['rank8-vs-rank64.md', [`${RANK}#medct-vlm-rank@rank=8`, `${RANK}#medct-vlm-rank@rank=64`, '--format', 'markdown'], 1],
    ['vlm-vs-rank24', [VLM, `${RANK}#medct-vlm-rank@rank=24`], 1],
    ['vlm-vs-vlm', [VLM, VLM], 0],
  ];
  for (const [name, args, code] of cases) {
    it(`diff ${args.join(' ')}`, () => {
      const r = medctc('diff', ...args);
      expect(r.status, r.stderr).toBe(code);
      golden(`diff.${name}.txt`, r.stdout);
    });
  }
  it('diff --json', () => {
    const r = medctc('diff', VLM, TEXT_ONLY, '--json');
    expect(r.status, r.stderr).toBe(1);
    golden('diff.vlm-vs-text-only.json', r.stdout);
  });
});

interface JsonDiff {
  ok: boolean; equal: boolean;
  changes: { op: string; path: string; a: { value: unknown; origin: string } | null; b: { value: unknown; origin: string } | null }[];
  effect: { key: string; a: number | null; b: number | null }[];
}
const json = (...args: string[]) => JSON.parse(medctc('diff', ...args, '--json').stdout) as JsonDiff;
const effect = (d: JsonDiff, key: string) => d.effect.find((f) => f.key === key)!;

describe('medctc diff: semantics', () => {
  it('the text-only ablation drops the image target: trainable parameters are the text LoRA alone', () => {
    const d = json(VLM, TEXT_ONLY);
    expect(d.equal).toBe(false);
    expect(d.changes.filter((c) => c.op === 'removed').map((c) => c.path)).toEqual(
      ['encoder', 'match', 'pattern', 'rank', 'alpha'].map((k) => `lora.targets[1].${k}`));
    expect(d.changes.find((c) => c.path === 'outputs.dir')).toMatchObject({ op: 'changed', a: { value: 'runs/medct-vlm', origin: 'default' }, b: { value: 'runs/ablation-text-only' } });
    // README: 1,671,168 trainable for the paper setting. Text only: 12 BERT layers x {query, key, value},
    // each adapter rank 24 x (768 in + 768 out).
    expect(effect(d, 'parameters.trainable')).toEqual({ key: 'parameters.trainable', label: 'trainable parameters', kind: 'count', a: 1_671_168, b: 12 * 3 * 24 * (768 + 768) });
  });

  it('sweep variants: rank 8 vs rank 64 multiplies the LoRA parameters by 8', () => {
    const d = json(`${RANK}#medct-vlm-rank@rank=8`, `${RANK}#medct-vlm-rank@rank=64`);
    expect(d.changes.map((c) => [c.path, c.a!.value, c.b!.value])).toEqual([['lora.targets[0].rank', 8, 64], ['lora.targets[1].rank', 8, 64]]);
    expect(d.changes[0]!.a!.origin).toBe('examples/ablation-rank.medct:7:22 (sweep variant rank=8)');
    const lora = effect(d, 'parameters.lora');
    expect(lora.b).toBe(8 * lora.a!);
    // The paper rank is 24 = the sweep's third value: only the output folder differs, and nothing in the report.
    const same = json(VLM, `${RANK}#medct-vlm-rank@rank=24`);
    expect(same.changes.map((c) => c.path)).toEqual(['outputs.dir']);
    expect(same.effect.every((f) => f.a === f.b)).toBe(true);
  });

  it('reformatting and comments are not differences (exit 0)', () => {
    const dir = tempDir('review-diff-fmt');
    const a = join(dir, 'a.medct'), b = join(dir, 'b.medct');
    const text = readFileSync('examples/quickstart.medct', 'utf8');
    writeFileSync(a, text);
    // Different layout, a moved comment, a value written another way (1e-3 = 0.001), fields reordered.
    writeFileSync(b, '# a new comment\n' + text.replace('lr 1e-3', 'lr 0.001').replace(/\n {2}seed 7\n {2}backend auto\n/, '\n  backend auto   # moved\n      seed 7\n').replace(/\n\n/g, '\n'));
    expect(readFileSync(b, 'utf8')).not.toBe(text);
    const r = medctc('diff', a, b);
    expect(r.status, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toContain('no differences in the resolved experiments');
  });

  it('user errors: a file with several experiments needs #NAME (E0011); a spec with errors shows them', () => {
    const r = medctc('diff', RANK, VLM);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('error[E0011]');
    expect(r.stderr).toContain(`${RANK}#medct-vlm-rank@rank=8`);
    const bad = medctc('diff', 'test/check/cases/E2001-unknown-field.medct', VLM, '--json');
    expect(bad.status).toBe(2);
    expect(JSON.parse(bad.stdout).diagnostics[0].code).toBe('E2001');
  });
});

describe('medctc diff across git revisions', () => {
  it('FILE@REV and REV:FILE read the spec (and its imports) as committed', () => {
    const repo = tempDir('review-diff-git');
    const git = (...args: string[]) => execFileSync('git', ['-c', 'user.name=medctc test', '-c', 'user.email=test@medctc.invalid', '-c', 'commit.gpgsign=false', ...args], { cwd: repo, encoding: 'utf8' });
    git('init', '-q');
    mkdirSync(join(repo, 'specs'));
    // The paper setting imported by the ablation, both under version control.
    writeFileSync(join(repo, 'specs', 'medct-vlm.medct'), readFileSync(VLM, 'utf8'));
    writeFileSync(join(repo, 'specs', 'ablation.medct'), readFileSync(TEXT_ONLY, 'utf8'));
    git('add', '.');
    git('commit', '-q', '-m', 'paper setting');
    // Revision 2: the parent's learning rate and rank change (the child inherits both), and a comment.
    const vlm = readFileSync(VLM, 'utf8');
    writeFileSync(join(repo, 'specs', 'medct-vlm.medct'), vlm.replace('lr 1e-4', 'lr 3e-4').replace('const paper_rank = 24', '# smaller\nconst paper_rank = 16'));
    git('commit', '-q', '-am', 'lr 3e-4, rank 16');
    // The working tree: a layout-only edit on top of revision 2.
    writeFileSync(join(repo, 'specs', 'ablation.medct'), readFileSync(join(repo, 'specs', 'ablation.medct'), 'utf8').replace(/\n\n/g, '\n') + '# trailing comment\n');

    const r = medctcIn(repo, 'diff', 'specs/ablation.medct@HEAD~1', 'specs/ablation.medct@HEAD', '--json');
    expect(r.status, r.stderr).toBe(1);
    const d = JSON.parse(r.stdout) as JsonDiff;
    expect(d.changes.map((c) => [c.path, c.a!.value, c.b!.value])).toEqual([['lora.targets[0].rank', 24, 16], ['train.optimizer.lr', 1e-4, 3e-4]]);
    // Provenance on both sides: inherited from the parent file, at that revision's positions (the comment moved the constant down a line).
    expect(d.changes[0]!.a!.origin).toBe('specs/medct-vlm.medct:5:20 (inherited from medct-vlm)');
    expect(d.changes[0]!.b!.origin).toBe('specs/medct-vlm.medct:6:20 (inherited from medct-vlm)');
    expect(effect(d, 'parameters.trainable')).toMatchObject({ a: 12 * 3 * 24 * 1536, b: 12 * 3 * 16 * 1536 });

    // `git show` spelling, and HEAD against the (layout-only edited) working tree: equal.
    const same = medctcIn(repo, 'diff', 'HEAD:specs/ablation.medct', 'specs/ablation.medct');
    expect(same.status, same.stdout + same.stderr).toBe(0);
    const text = medctcIn(repo, 'diff', 'specs/ablation.medct@HEAD~1', 'specs/ablation.medct');
    expect(text.status).toBe(1);
    expect(text.stdout).toContain('~ train.optimizer.lr: 0.0001 -> 0.0003');

    const missing = medctcIn(repo, 'diff', 'specs/ablation.medct@no-such-rev', 'specs/ablation.medct');
    expect(missing.status).toBe(2);
    expect(missing.stderr).toContain('error[E0012]');
    expect(missing.stderr).toContain('no-such-rev');
  });
});
