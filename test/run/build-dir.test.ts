// The build folder is the program: `medctc run BUILD_DIR` runs what `medctc build` wrote (checked
// against medctc.lock, nothing recompiled) with results byte-identical to `medctc run FILE`; a
// modified build file is refused with exit 2 naming it; run.json reports the memory each plan
// allocated against what it planned.
import { spawnSync } from 'node:child_process';
import { appendFileSync, existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { smallSpec, tempDir } from './helpers.js';

const CLI = resolve('dist/cli/medctc.js');
function medctc(...args: string[]) {
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: build first with \`npx tsc -p tsconfig.json\``);
  return spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' } });
}
const bytes = (...p: string[]) => readFileSync(join(...p));

describe('medctc run BUILD_DIR', () => {
  const dir = tempDir('build-dir');
  // 6 volumes: 5 train (batch 2: 2 steps), 1 eval; baseline too, so both evaluations run.
  const file = smallSpec(dir, { volumes: 6, pathologies: 3, batch: 2, epochs: 1, baseline: true });
  // The spec names the backend, so `medctc run FILE` needs no --backend (an override would be
  // recorded in its experiment.json and make it differ from the build's).
  writeFileSync(file, readFileSync(file, 'utf8').replace(/backend \w+/, 'backend cpu'));
  const build = join(dir, 'build'), fromFile = join(dir, 'from-file');

  it('gives byte-identical metrics, scores and adapter to `medctc run FILE` (cpu backend, same seed)', () => {
    // The data first, as a user would have it: the lock records the data manifest's hash, which
    // a build made before the data existed cannot.
    let r = medctc('synth', '--out', join(dir, 'data'), '--volumes', '6', '--seed', '7', '--site', 'source', '--shape', '40,48,48', '--quiet');
    expect(r.status, r.stderr).toBe(0);
    r = medctc('build', file, '--out', build);
    expect(r.status, r.stderr).toBe(0);
    const before = readdirSync(build).sort();
    r = medctc('run', build, '--backend', 'cpu', '--quiet');
    expect(r.status, r.stderr).toBe(0);
    r = medctc('run', file, '--out', fromFile, '--quiet');
    expect(r.status, r.stderr).toBe(0);
    for (const f of ['metrics.json', 'scores.csv', 'scores.baseline.csv', 'adapter/adapter_model.safetensors', 'plan.train.json', 'plan.eval.json', 'kernels/index.json']) {
      expect(bytes(build, f).equals(bytes(fromFile, f)), f).toBe(true);
    }
    // The build's own files are untouched by running it.
    for (const f of before.filter((x) => x !== 'kernels')) expect(bytes(build, f).equals(bytes(fromFile, f)), f).toBe(true);
    const run = JSON.parse(bytes(build, 'run.json').toString());
    expect(run.build.lock).toMatch(/^[0-9a-f]{64}$/);
    expect(run.build.lock).toBe(JSON.parse(bytes(fromFile, 'run.json').toString()).build.lock);
  }, 240_000);

  it('records planned and allocated bytes per arena; allocation stays within the plan (+ alignment)', () => {
    const run = JSON.parse(bytes(fromFile, 'run.json').toString());
    for (const mode of ['eval', 'train'] as const) {
      const plan = JSON.parse(bytes(fromFile, `plan.${mode}.json`).toString());
      const planned = { weights: plan.memory.weightsBytes, state: plan.memory.stateBytes, work: plan.memory.workPeakBytes };
      for (const arena of ['weights', 'state', 'work'] as const) {
        const m = run.memory[mode][arena];
        expect(m.plannedBytes, `${mode} ${arena}`).toBe(planned[arena]);
        expect(m.allocatedBytes, `${mode} ${arena}`).toBeLessThanOrEqual(m.plannedBytes + plan.memory.alignment);
        expect(m.allocatedBytes, `${mode} ${arena}`).toBeGreaterThan(0);
      }
    }
  });

  it('evaluates a build folder with an adapter: the run\'s own final scores', () => {
    const r = medctc('evaluate', build, '--adapter', join(fromFile, 'adapter'), '--out', join(dir, 'eval'), '--backend', 'cpu', '--quiet');
    expect(r.status, r.stderr).toBe(0);
    expect(bytes(dir, 'eval', 'scores.csv').equals(bytes(fromFile, 'scores.csv'))).toBe(true);
  }, 120_000);

  it('refuses a build whose kernel file was edited: exit 2 naming the file, nothing run', () => {
    const edited = join(dir, 'edited');
    expect(medctc('build', file, '--out', edited).status).toBe(0);
    const kernel = readdirSync(join(edited, 'kernels')).find((f) => f.endsWith('.c'))!;
    appendFileSync(join(edited, 'kernels', kernel), '// tampered\n');
    const r = medctc('run', edited, '--backend', 'cpu', '--quiet');
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('E5568');
    expect(r.stderr).toContain(kernel);
    expect(r.stderr).not.toMatch(/at .*\.js:\d+/);
    expect(existsSync(join(edited, 'metrics.json'))).toBe(false);
    // The reference backend reads no kernel source, but the plans and index are still checked.
    appendFileSync(join(edited, 'plan.eval.json'), ' ');
    const r2 = medctc('evaluate', edited, '--backend', 'reference', '--quiet');
    expect(r2.status).toBe(2);
    expect(r2.stderr).toContain('plan.eval.json');
  }, 120_000);

  it('refuses what would change the program, and a folder that is not a build', () => {
    let r = medctc('run', build, '--epochs', '3');
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('E0001');
    r = medctc('run', dir, '--quiet');
    expect(r.status).toBe(2);
  });
});
