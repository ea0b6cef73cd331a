// Fixes from the language audit: warmup in epochs, one message per mistake, message wording,
// position order, rendering of several spans on one line.
import { describe, expect, it } from 'vitest';
import { checkFiles } from '../../compiler/check/index.js';
import { renderDiagnostics } from '../../base/diagnostics/render.js';
import { diag } from '../../base/diagnostics/catalog.js';
import { planTraining } from '../../runtime/run/train.js';
import { formatMedct as format } from '../../grammar/format.js';
import { parseMedct } from '../../grammar/parse.js';

const check = (files: Record<string, string>, entry = 'main.medct') => {
  const r = checkFiles(entry, { readFile: (p) => { const t = files[p]; if (t === undefined) throw new Error(`ENOENT ${p}`); return t; } });
  return { ...r, errors: r.diagnostics.filter((d) => d.severity === 'error') };
};

const spec = (train: string) => `experiment "w" {
  model ct_clip_tiny
  data synthetic { root "x" }
  lora { target text "encoder.layer.*.attention.self.query" }
  train { ${train} }
}
`;

describe('warmup in epochs', () => {
  it('`warmup 1 epochs` checks and keeps the unit in the IR', () => {
    const r = check({ 'main.medct': spec('schedule cosine { warmup 1 epochs }  epochs 4  batch 2') });
    expect(r.errors).toEqual([]);
    expect(r.experiments[0]!.train!.schedule).toEqual({ kind: 'cosine', warmupSteps: 0, warmupEpochs: 1 });
    expect(r.experiments[0]!.provenance['/train/schedule/warmupEpochs']).toMatchObject({ kind: 'source', line: 5 });
  });

  it('fractional epochs, and `batch 4 epochs 10` on one line is still two fields', () => {
    const r = check({ 'main.medct': spec('schedule linear { warmup 0.5 epochs }  batch 4 epochs 10') });
    expect(r.errors).toEqual([]);
    const t = r.experiments[0]!.train!;
    expect([t.schedule.warmupEpochs, t.batchSize, t.epochs]).toEqual([0.5, 4, 10]);
  });

  it('steps stay integers in warmupSteps', () => {
    const r = check({ 'main.medct': spec('schedule cosine { warmup 7 steps }') });
    expect(r.experiments[0]!.train!.schedule).toEqual({ kind: 'cosine', warmupSteps: 7, warmupEpochs: 0 });
  });

  it('a missing or wrong unit names both accepted units', () => {
    const a = check({ 'main.medct': spec('schedule cosine { warmup 3 }') });
    expect(a.errors.map((d) => d.code)).toEqual(['E2007']);
    expect(a.errors[0]!.message).toBe('`warmup` needs a unit: `steps` or `epochs`');
    const b = check({ 'main.medct': spec('schedule cosine { warmup 3 mm }') });
    expect(b.errors.map((d) => d.code)).toEqual(['E2008']);
    expect(b.errors[0]!.message).toContain('`steps` or `epochs`');
    const c = check({ 'main.medct': spec('schedule cosine { warmup -1 epochs }') });
    expect(c.errors.map((d) => d.code)).toEqual(['E2006']);
  });

  it('run time turns epochs into round(X * batches per epoch) steps', () => {
    const r = check({ 'main.medct': spec('schedule constant { warmup 0.5 epochs }  epochs 3  batch 2  optimizer adamw { lr 1 }') });
    const train = r.experiments[0]!.train!;
    // 10 volumes / batch 2 = 5 batches per epoch; 0.5 epochs = round(2.5) = 3 warmup steps (lr = step / 3).
    const p = planTraining(10, train, 'main.medct');
    expect(p.totalSteps).toBe(15);
    expect([0, 1, 2, 3, 14].map(p.lrAt)).toEqual([0, 1 / 3, 2 / 3, 1, 1]);
  });

  it('formats `warmup 1 epochs` idempotently', () => {
    const src = spec('schedule cosine { warmup 1 epochs }  batch 2 epochs 3');
    const once = format(parseMedct(src, 'a.medct').ast, src);
    expect(format(parseMedct(once, 'a.medct').ast, once)).toBe(once);
    expect(once).toContain('warmup 1 epochs');
  });
});

describe('one mistake, one message', () => {
  const family = (parentBody: string) => `experiment "base" {
${parentBody}
  data synthetic { root "x" }
}
experiment "child" extends "base" { seed 3 }
experiment "child2" extends "child" { seed 4 }
`;

  it('a typo in a parent is reported once, and its "missing" consequence not at all', () => {
    const r = check({ 'main.medct': family('  modle ct_clip_tiny') });
    expect(r.diagnostics.map((d) => [d.code, d.message])).toEqual([['E2001', 'unknown field `modle` in experiment `base`']]);
    expect(r.diagnostics[0]!.fix!.edits[0]!.replacement).toBe('model');
  });

  it('a field missing from a parent is reported at the parent only', () => {
    const r = check({ 'main.medct': family('  seed 1') });
    expect(r.diagnostics.map((d) => [d.code, d.message])).toEqual([['E2002', 'experiment `base` is missing `model`']]);
  });

  it('a parent in an imported file is not checked, so the child reports what it lacks', () => {
    const r = check({
      'main.medct': 'import "base.medct"\nexperiment "child" extends "base" { seed 3 }\n',
      'base.medct': 'experiment "base" {\n  data synthetic { root "x" }\n}\n',
    });
    expect(r.diagnostics.map((d) => [d.code, d.message])).toEqual([['E2002', 'experiment `child` is missing `model`']]);
  });

  it('no two diagnostics share a code and a primary span', () => {
    const r = check({ 'main.medct': family('  model ct_clip_tiny { latent 0 }\n  sede 1\n  lora { rank 0 target text "x" }') });
    const keys = r.diagnostics.map((d) => `${d.code}@${d.primary?.start}-${d.primary?.end}`);
    expect(keys.length).toBeGreaterThan(1);
    expect(new Set(keys).size).toBe(keys.length);
  });
});

describe('message wording', () => {
  const prompts = (body: string) => `experiment "e" {\n  model ct_clip_tiny\n  data synthetic { root "x" }\n  prompts { ${body} }\n}\n`;

  it('E2030 says the template does not contain `{pathology}`', () => {
    const r = check({ 'main.medct': prompts('positive "no placeholder"') });
    expect(r.errors.map((d) => d.message)).toEqual(['positive template does not contain `{pathology}`']);
    const two = check({ 'main.medct': prompts('negative "{pathology} {pathology}"') });
    expect(two.errors.map((d) => d.message)).toEqual(['negative template contains `{pathology}` 2 times']);
  });

  it('bare pathology names: put them in quotes, with a fix that spells the known label', () => {
    const src = prompts('pathologies [Lung_nodule, Emphysema, Mystery]');
    const r = check({ 'main.medct': src });
    expect(r.errors.map((d) => d.code)).toEqual(['E2004', 'E2004', 'E2004']);
    for (const d of r.errors) expect(d.help).toBe('put each name in quotes, e.g. `pathologies ["Lung nodule"]`');
    const fixes = r.errors.map((d) => d.fix!.edits[0]!);
    expect(fixes.map((e) => [src.slice(e.span.start, e.span.end), e.replacement])).toEqual([
      ['Lung_nodule', '"Lung nodule"'], ['Emphysema', '"Emphysema"'], ['Mystery', '"Mystery"'],
    ]);
    // Applying the fixes to the known names gives a spec that checks.
    let fixed = src;
    for (const e of fixes.slice(0, 2).reverse()) fixed = fixed.slice(0, e.span.start) + e.replacement + fixed.slice(e.span.end);
    fixed = fixed.replace(', Mystery', '');
    const ok = check({ 'main.medct': fixed });
    expect(ok.errors).toEqual([]);
    expect(ok.experiments[0]!.prompts.pathologies).toEqual(['Lung nodule', 'Emphysema']);
  });

  it('a number in quotes is named as such, with a fix that removes the quotes', () => {
    const takes = { seed: 'an integer', lr: 'a number', warmup: 'a duration: `N steps` or `X epochs`' };
    // A duration's fraction of an epoch is a duration, not "an integer"; a quoted bare count gets the unit it needs.
    for (const [field, quoted, plain] of [['seed', '"42"', '42'], ['lr', '"3e-4"', '3e-4'], ['warmup', '"2 epochs"', '2 epochs'],
      ['warmup', '"0.5 epochs"', '0.5 epochs'], ['warmup', '"8"', '8 steps']] as const) {
      const body = field === 'seed' ? null : field === 'lr' ? `optimizer adamw { lr ${quoted} }  epochs 4  batch 2` : `schedule cosine { warmup ${quoted} }  epochs 4  batch 2`;
      const src = body === null ? spec('epochs 4  batch 2').replace('model ct_clip_tiny', `seed ${quoted}\n  model ct_clip_tiny`) : spec(body);
      const r = check({ 'main.medct': src });
      expect(r.errors.map((d) => [d.code, d.message, d.help])).toEqual([['E2004', `\`${field}\` expects ${takes[field]}, found a string`, `write it without quotes: \`${field} ${plain}\``]]);
      const e = r.errors[0]!.fix!.edits[0]!;
      expect([src.slice(e.span.start, e.span.end), e.replacement]).toEqual([quoted, plain]);
      const fixed = src.slice(0, e.span.start) + e.replacement + src.slice(e.span.end);
      expect(check({ 'main.medct': fixed }).errors).toEqual([]);
    }
    // Text that is not a number keeps the general message; a duration's example carries its unit.
    expect(check({ 'main.medct': spec('schedule cosine { warmup "soon" }') }).errors.map((d) => d.help)).toEqual(['write `warmup 8 steps`']);
  });

  it('a single bare known name gets a list fix', () => {
    const src = prompts('pathologies emphysema');
    const r = check({ 'main.medct': src });
    expect(r.errors.map((d) => d.code)).toEqual(['E2004']);
    expect(r.errors[0]!.fix!.edits[0]!.replacement).toBe('["Emphysema"]');
  });

  it('help never pastes a description where a value belongs', () => {
    const r = check({ 'main.medct': 'experiment "e" {\n  model ct_clip_tiny\n  data synthetic { root "x" }\n  lora 3\n  outputs { adapter "yes" }\n  train { loss }\n}\n' });
    const helps = r.errors.map((d) => d.help!);
    expect(helps.length).toBeGreaterThan(1);
    for (const h of helps) expect(h).not.toMatch(/write `\w+ (a|an) [a-z]/);
  });
});

describe('rendering and order', () => {
  it('spans on one line share one copy of the line, rustc-style', () => {
    const src = 'experiment "e" {\n  evaluate { } evaluate { }\n}\n';
    const d = diag('E2003', '`evaluate` is set twice', { file: 'a.medct', start: src.lastIndexOf('evaluate'), end: src.lastIndexOf('evaluate') + 8, label: 'set again here' },
      { secondary: [{ file: 'a.medct', start: 19, end: 27, label: 'first set here' }] });
    expect(src.slice(d.primary!.start, d.primary!.end)).toBe('evaluate');
    const out = renderDiagnostics([d], new Map([['a.medct', src]]), { color: false });
    expect(out).toBe([
      'error[E2003]: `evaluate` is set twice',
      ' --> a.medct:2:16',
      '  |',
      '2 |   evaluate { } evaluate { }',
      '  |   --------     ^^^^^^^^ set again here',
      '  |   |',
      '  |   first set here',
      '  |',
    ].join('\n'));
    expect(out.split('\n').filter((l) => l.includes('evaluate { } evaluate')).length).toBe(1);
  });

  it('diagnostics are shown by file, then line and column, stably', () => {
    const src = 'a\nbb\nccc\n';
    const at = (file: string, start: number, msg: string) => diag('E2001', msg, { file, start, end: start + 1 });
    const ds = [at('y.medct', 0, 'y1'), at('x.medct', 5, 'x3'), at('y.medct', 2, 'y2'), at('x.medct', 0, 'x1'), at('x.medct', 5, 'x3b'), diag('E2025', 'nowhere', null)];
    const out = renderDiagnostics(ds, new Map([['x.medct', src], ['y.medct', src]]), { color: false });
    const order = [...out.matchAll(/^error\[E\d+\]: (\S+)$/gm)].map((m) => m[1]);
    expect(order).toEqual(['y1', 'y2', 'x1', 'x3', 'x3b', 'nowhere']);
  });

  it('the checker returns syntax errors in position order', () => {
    const src = 'experiment "e" {\n  seed [1, 2\n  model ct_clip_tiny @\n  data synthetic { root "x }\n}\n';
    const r = check({ 'main.medct': src });
    expect(r.errors.length).toBeGreaterThan(1);
    const starts = r.errors.map((d) => d.primary!.start);
    expect(starts).toEqual([...starts].sort((a, b) => a - b));
  });
});

describe('warmupEpochs in hand-written IR', () => {
  it('is optional in the schema (absent = 0) and must be >= 0 when present', async () => {
    const { validateExperiment } = await import('../../compiler/check/index.js');
    const r = check({ 'main.medct': spec('schedule cosine { warmup 2 steps }') });
    const ir = r.experiments[0]!;
    expect(validateExperiment(ir)).toEqual([]);
    const { warmupEpochs: _, ...older } = ir.train!.schedule;
    expect(validateExperiment({ ...ir, train: { ...ir.train!, schedule: older } })).toEqual([]);
    expect(validateExperiment({ ...ir, train: { ...ir.train!, schedule: { ...older, warmupEpochs: -1 } } }).join()).toContain('warmupEpochs');
    expect(planTraining(8, { ...ir.train!, schedule: older, batchSize: 2 }, 'x').lrAt(1)).toBe(ir.train!.optimizer.lr / 2);
  });
});

describe('inherited mistakes name their author', () => {
  it('a child declared before its parent still reports the parent\'s typo under the parent', () => {
    const r = check({ 'main.medct': 'experiment "child" extends "base" { seed 3 }\nexperiment "base" {\n  modle ct_clip_tiny\n  data synthetic { root "x" }\n}\n' });
    expect(r.diagnostics.map((d) => [d.code, d.message])).toEqual([['E2001', 'unknown field `modle` in experiment `base`']]);
  });
});

describe('rendering several spans on one line (property)', () => {
  it('prints the line once, one marker per span column, every label, for any spans', async () => {
    const fc = (await import('fast-check')).default;
    const line = 'experiment "e" { rank 8 alpha 16 dropout 0.1 rank 9 }';
    const src = `${line}\n`;
    const span = fc.tuple(fc.nat(line.length - 1), fc.integer({ min: 1, max: 12 }), fc.option(fc.stringMatching(/^[a-z]{1,8}$/), { nil: undefined }));
    fc.assert(fc.property(span, fc.array(span, { maxLength: 4 }), (p, sec) => {
      const mk = ([s, n, label]: [number, number, string | undefined]) => ({ file: 'a.medct', start: s, end: Math.min(line.length, s + n), ...(label ? { label } : {}) });
      const d = diag('E2003', 'm', mk(p), { secondary: sec.map(mk) });
      const out = renderDiagnostics([d], new Map([['a.medct', src]]), { color: false });
      expect(out.split('\n').filter((l) => l === `1 | ${line}`).length).toBe(1);
      for (const s of [d.primary!, ...d.secondary]) if (s.label) expect(out).toContain(s.label);
      const markerLine = out.split('\n')[4]!;
      expect(markerLine[4 + p[0]]).toMatch(/[\^-]/);
    }), { numRuns: 300 });
  });
});
