// Fail fast: every mistake that can be found without reading a volume is reported before the
// first volume is read, at the spec field it concerns. The dataset here is a CT-RATE folder whose
// tables are valid but whose volume files are not NIfTI at all: a run that read any volume would
// fail with a NIfTI error (the control case shows that it does), so getting each mistake's own
// code proves it was found first. Positions are checked against the spec text the test wrote.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync, cpSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { generateSynthetic } from '../../runtime/data/synth/generate.js';
import { fromFloat32, writeSafetensors } from '../../runtime/io/safetensors.js';
import { tempDir } from './helpers.js';

const CLI = resolve('dist/cli/medctc.js');
function medctc(...args: string[]) {
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: build first with \`npx tsc -p tsconfig.json\``);
  return spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', env: { ...process.env, NO_COLOR: '1', MEDCTC_THREADS: '1' } });
}

function corruptVolumes(dir: string): number {
  let n = 0;
  for (const e of readdirSync(dir)) {
    const p = join(dir, e);
    if (statSync(p).isDirectory()) n += corruptVolumes(p);
    else if (e.endsWith('.nii.gz')) { writeFileSync(p, 'not a volume'); n++; }
  }
  return n;
}

const SPEC = (o: { data: string; model?: string; warmup?: string; batch?: number; out?: string }) => `experiment "preflight" {
  seed 1
  backend reference
  model ct_clip_tiny {
${o.model ?? ''}
  }
  lora {
    rank 2
    target text "encoder.layer.*.attention.self.query"
  }
  data ct_rate {
    root "${o.data}"
    cache "cache"
  }
  prompts { pathologies ["Cardiomegaly", "Emphysema"] }
  train {
    loss pair_mse
    schedule cosine { ${o.warmup ?? 'warmup 1 steps'} }
    epochs 1
    batch ${o.batch ?? 2}
  }
  outputs { dir "${o.out ?? 'runs/out'}" }
}
`;

/** 1-based line and column of the first occurrence of `needle` in `text`. */
function position(text: string, needle: string): { line: number; col: number } {
  const i = text.indexOf(needle);
  if (i < 0) throw new Error(`${needle} not in the spec`);
  const before = text.slice(0, i).split('\n');
  return { line: before.length, col: before.at(-1)!.length + 1 };
}

let dir = '';
beforeAll(() => {
  dir = tempDir('preflight');
  generateSynthetic({ out: join(dir, 'data'), volumes: 10, seed: 3, site: 'source', shape: [8, 8, 8] });
  expect(corruptVolumes(join(dir, 'data'))).toBeGreaterThanOrEqual(10);
  writeFileSync(join(dir, 'vocab10.txt'), ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]', 'a', 'b', 'c', 'd', 'e'].join('\n') + '\n');
  // A weights file of the wrong model: one tensor, not CT-CLIP's.
  writeSafetensors(join(dir, 'other.safetensors'), [['encoder.weight', fromFloat32(new Float32Array(4), [2, 2])]]);
  writeFileSync(join(dir, 'blocked'), 'a file where the run folder would go');
  // The same data with a misspelt label column.
  cpSync(join(dir, 'data'), join(dir, 'badcsv'), { recursive: true });
  const labels = join(dir, 'badcsv', 'multi_abnormality_labels', 'train_predicted_labels.csv');
  writeFileSync(labels, readFileSync(labels, 'utf8').replace('Cardiomegaly', 'Cardiomegally'));
}, 120_000);

function run(name: string, spec: string) {
  const file = join(dir, `${name}.medct`);
  writeFileSync(file, spec);
  const r = medctc('run', file, '--json', '--quiet');
  expect(r.status, r.stderr).toBe(2);
  const j = JSON.parse(r.stdout) as { ok: boolean; diagnostics: { code: string; message: string; primary: { file: string; line?: number; col?: number } }[] };
  expect(j.ok).toBe(false);
  return { file, d: j.diagnostics[0]!, all: j.diagnostics };
}

describe('medctc run: mistakes found before any volume is read', () => {
  it('control: with no mistake the run does read the (unreadable) volumes', () => {
    const { d } = run('control', SPEC({ data: join(dir, 'data') }));
    expect(d.code).toMatch(/^E500[2-5]$/);
  });

  const cases: { name: string; code: string; spec: () => string; at: string; mentions: string[] }[] = [
    { name: 'missing-vocab', code: 'E5001', spec: () => SPEC({ data: join(dir, 'data'), model: '    vocab "nope/vocab.txt"' }), at: '"nope/vocab.txt"', mentions: ['nope/vocab.txt'] },
    { name: 'vocab-size', code: 'E5031', spec: () => SPEC({ data: join(dir, 'data'), model: '    vocab "vocab10.txt"' }), at: '"vocab10.txt"', mentions: ['10 tokens', 'vocab_size is 512'] },
    { name: 'missing-weights', code: 'E5501', spec: () => SPEC({ data: join(dir, 'data'), model: '    weights "nope.safetensors"' }), at: '"nope.safetensors"', mentions: ['nope.safetensors'] },
    { name: 'wrong-weights', code: 'E5566', spec: () => SPEC({ data: join(dir, 'data'), model: '    weights "other.safetensors"' }), at: '"other.safetensors"', mentions: ['lacks'] },
    { name: 'warmup', code: 'E5560', spec: () => SPEC({ data: join(dir, 'data'), warmup: 'warmup 500 steps' }), at: '500 steps', mentions: ['500 steps'] },
    { name: 'warmup-epochs', code: 'E5560', spec: () => SPEC({ data: join(dir, 'data'), warmup: 'warmup 3 epochs' }), at: '3 epochs', mentions: ['warmup of'] },
    { name: 'batch', code: 'E5564', spec: () => SPEC({ data: join(dir, 'data'), batch: 64 }), at: '64', mentions: ['fewer than one batch of 64'] },
    { name: 'outputs', code: 'E5520', spec: () => SPEC({ data: join(dir, 'data'), out: 'blocked/run' }), at: '"blocked/run"', mentions: ['a file is in the way'] },
  ];
  for (const c of cases) {
    it(`${c.name}: ${c.code} at the spec field`, () => {
      const spec = c.spec();
      const { file, d } = run(c.name, spec);
      expect(d.code, d.message).toBe(c.code);
      for (const m of c.mentions) expect(d.message).toContain(m);
      const want = position(spec, c.at);
      expect(resolve(d.primary.file)).toBe(file);
      expect({ line: d.primary.line, col: d.primary.col }).toEqual(want);
    }, 60_000);
  }

  it('a misspelt label column is E5012 at the CSV header, before any volume', () => {
    const { d } = run('badcsv', SPEC({ data: join(dir, 'badcsv') }));
    expect(d.code, d.message).toBe('E5012');
    expect(d.primary.file).toMatch(/train_predicted_labels\.csv$/);
    expect(d.primary.line).toBe(1);
  }, 60_000);

  it('the human-readable form shows file:line:col and a caret under the field', () => {
    const spec = SPEC({ data: join(dir, 'data'), batch: 64 });
    const file = join(dir, 'caret.medct');
    writeFileSync(file, spec);
    const r = medctc('run', file, '--quiet');
    expect(r.status).toBe(2);
    const p = position(spec, '64');
    expect(r.stderr).toContain(`caret.medct:${p.line}:${p.col}`);
    expect(r.stderr).toMatch(/\|\s+batch 64\n\s*\|\s+\^\^/);
  }, 60_000);
});
