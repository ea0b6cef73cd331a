// `medctc build` end to end through the compiled CLI (`npm test` runs tsc first; alone:
// npx tsc -p tsconfig.json). Inputs are resolved-experiment JSON files, the checker's output.
import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { join, resolve } from 'node:path';
import { experiment, loraSpec, tempDir } from './fixtures.js';
import { validatePlan } from '../../compiler/plan/validate.js';

const CLI = resolve('dist/cli/medctc.js');

function medctc(...args: string[]) {
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: build first with \`npx tsc -p tsconfig.json\``);
  return spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8' });
}

function specFile(value: unknown, extra: Record<string, string> = {}): { dir: string; file: string } {
  const dir = tempDir('medctc-build-');
  for (const [name, text] of Object.entries(extra)) writeFileSync(join(dir, name), text);
  const file = join(dir, 'exp.json');
  writeFileSync(file, JSON.stringify(value));
  return { dir, file };
}

describe('medctc build', () => {
  it('prints the MedCT-VLM parameter count and writes a valid, hashed build folder', () => {
    const { dir, file } = specFile(experiment('ct_clip'), { 'exp.medct': 'experiment medct-vlm {}\n' });
    const out = join(dir, 'build');
    const r = medctc('build', file, '--out', out, '--json');
    expect(r.status, r.stderr).toBe(0);
    const j = JSON.parse(r.stdout);
    expect(j.parameters).toMatchObject({ total: 439_819_929, trainable: 1_671_168 });
    expect(j.parameters.trainableFraction).toBeCloseTo(1_671_168 / 439_819_929, 12);
    // kernels/ appears once compiler/codegen exists; every file there is in the lock too.
    expect(readdirSync(out).filter((f) => f !== 'kernels').sort()).toEqual(['experiment.json', 'medctc.lock', 'plan.eval.json', 'plan.train.json', 'report.json', 'report.md']);
    for (const f of ['plan.eval.json', 'plan.train.json']) expect(validatePlan(JSON.parse(readFileSync(join(out, f), 'utf8')))).toEqual([]);
    const lock = JSON.parse(readFileSync(join(out, 'medctc.lock'), 'utf8'));
    const sha = (p: string) => createHash('sha256').update(readFileSync(p)).digest('hex');
    expect(lock.sources['exp.medct']).toBe(sha(join(dir, 'exp.medct')));
    expect(lock.outputs['plan.train.json']).toBe(sha(join(out, 'plan.train.json')));
    expect(lock.plans.eval).toBe(sha(join(out, 'plan.eval.json')));
    const kernels = existsSync(join(out, 'kernels')) ? readdirSync(join(out, 'kernels')) : [];
    for (const k of kernels) expect(lock.outputs[`kernels/${k}`]).toBe(sha(join(out, 'kernels', k)));
    // The text report says the same.
    const text = medctc('build', file, '--out', join(dir, 'b2'));
    expect(text.stdout).toContain('1,671,168 trainable of 439,819,929 (0.380%)');
  });

  it('is byte-identical across builds', () => {
    const { dir, file } = specFile(experiment('ct_clip_tiny'));
    expect(medctc('build', file, '--out', join(dir, 'a')).status).toBe(0);
    expect(medctc('build', file, '--out', join(dir, 'b')).status).toBe(0);
    const files = (d: string): string[] => readdirSync(d, { recursive: true, withFileTypes: true }).filter((x) => x.isFile()).map((x) => join(x.parentPath, x.name).slice(d.length + 1)).sort();
    expect(files(join(dir, 'b'))).toEqual(files(join(dir, 'a')));
    for (const f of files(join(dir, 'a'))) expect(readFileSync(join(dir, 'b', f)).equals(readFileSync(join(dir, 'a', f))), f).toBe(true);
  });

  it('builds each sweep variant into its own folder', () => {
    const v = (rank: number) => experiment('ct_clip_tiny', {
      name: `tiny@rank=${rank}`, variant: { base: 'tiny', bindings: { rank } },
      lora: loraSpec({ targets: [{ encoder: 'text', match: 'glob', pattern: 'attention.self.query', rank, alpha: rank }] }),
    });
    const { dir, file } = specFile([v(2), v(4)]);
    const r = medctc('build', file, '--out', join(dir, 'sweep'), '--json');
    expect(r.status, r.stderr).toBe(0);
    const j = JSON.parse(r.stdout);
    expect(j.variants.map((x: { parameters: { trainable: number } }) => x.parameters.trainable)).toEqual([2 * 2 * 2 * 64, 2 * 2 * 4 * 64]);
    expect(readdirSync(join(dir, 'sweep')).sort()).toEqual(['tiny@rank=2', 'tiny@rank=4']);
  });

  it('exits 2 with the diagnostic and the nearest module names for a misspelled target', () => {
    const lora = loraSpec({ targets: [{ encoder: 'image', match: 'glob', pattern: 'layers.*.1.to_qv', rank: 4, alpha: 4 }] });
    const { dir, file } = specFile(experiment('ct_clip_tiny', { lora }));
    const r = medctc('build', file, '--out', join(dir, 'x'));
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('error[E3001]');
    expect(r.stderr).toContain('`layers.*.1.to_q`');
    expect(existsSync(join(dir, 'x'))).toBe(false);
    const j = medctc('build', file, '--out', join(dir, 'x'), '--json');
    expect(j.status).toBe(2);
    expect(JSON.parse(j.stdout).diagnostics[0].code).toBe('E3001');
  });
});

describe('medctc build input checks', () => {
  it('rejects a resolved-experiment JSON that does not match the IR schema (exit 2, E3022)', () => {
    const bad = { ...experiment('ct_clip_tiny'), seed: 'seven' };
    const { dir, file } = specFile(bad);
    const r = medctc('build', file, '--out', join(dir, 'out'), '--json');
    expect(r.status).toBe(2);
    const d = JSON.parse(r.stdout).diagnostics[0];
    expect(d.code).toBe('E3022');
    expect(d.message).toContain('/seed');
  });
});

describe('medctc build on the example specs (checker + compiler)', () => {
  it('examples/medct-vlm.medct: 1,671,168 trainable of 439,819,929', () => {
    const out = tempDir('medctc-ex-');
    const r = medctc('build', 'examples/medct-vlm.medct', '--out', out, '--json');
    expect(r.status, r.stderr).toBe(0);
    const j = JSON.parse(r.stdout);
    expect([j.parameters.total, j.parameters.trainable]).toEqual([438_148_761 + 24 * 69_632, 24 * 69_632]);
  });

  it('a rank sweep builds one folder per variant, trainable = 69,632 x rank', () => {
    const out = tempDir('medctc-sweep-');
    const r = medctc('build', 'examples/ablation-rank.medct', '--out', out, '--json');
    expect(r.status, r.stderr).toBe(0);
    const variants = JSON.parse(r.stdout).variants as { experiment: string; parameters: { trainable: number } }[];
    expect(variants.length).toBeGreaterThan(1);
    for (const v of variants) {
      const rank = Number(/rank=(\d+)/.exec(v.experiment)![1]);
      expect(v.parameters.trainable).toBe(69_632 * rank);
      expect(existsSync(join(out, v.experiment, 'plan.train.json'))).toBe(true);
    }
  });

  it('points at the misspelled alternative in the source', () => {
    const dir = tempDir('medctc-bad-');
    const src = readFileSync('examples/medct-vlm.medct', 'utf8').replace('{query,key,value}', '{query,kye,value}');
    writeFileSync(join(dir, 'bad.medct'), src);
    const r = medctc('build', join(dir, 'bad.medct'), '--out', join(dir, 'out'));
    expect(r.status).toBe(2);
    const line = src.split('\n').findIndex((l) => l.includes('kye')) + 1;
    expect(r.stderr).toContain(`bad.medct:${line}:`);
    expect(r.stderr).toContain('^^^');
    expect(r.stderr).toContain('`encoder.layer.*.attention.self.key`');
  });
});
