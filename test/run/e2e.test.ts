// `medctc run / train / evaluate` end to end on the real executor, CPU backend, reduced specs
// (few volumes, 3 pathologies) so each test stays well under a minute on 2 cores.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readAdapter } from '../../runtime/adapter/index.js';
import { validateMetrics } from '../../runtime/run/index.js';
import { smallSpec, tempDir } from './helpers.js';

const CLI = resolve('dist/cli/medctc.js');
function medctc(...args: string[]) {
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: build first with \`npx tsc -p tsconfig.json\``);
  return spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' } });
}
const read = (...p: string[]) => readFileSync(join(...p));
const log = (dir: string) => readFileSync(join(dir, 'train_log.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { step: number; loss: number; lr: number });

describe('medctc run (cpu)', () => {
  const dir = tempDir('e2e');
  // 6 volumes: 5 train (batch 2: 2 steps per epoch, one dropped), 1 eval.
  const file = smallSpec(dir, { volumes: 6, pathologies: 3, batch: 2, epochs: 1, baseline: true });
  const out1 = join(dir, 'run1'), out2 = join(dir, 'run2');

  it('builds, trains and evaluates into an auditable run folder', () => {
    const r = medctc('run', file, '--out', out1, '--backend', 'cpu', '--json');
    expect(r.status, r.stderr).toBe(0);
    const summary = JSON.parse(r.stdout);
    expect(summary).toMatchObject({ ok: true, experiment: 'quickstart', train: { steps: 2 } });
    // Progress went to stderr as JSON lines, one per step among them.
    const events = r.stderr.trim().split('\n').map((l) => JSON.parse(l));
    expect(events.filter((e) => e.event === 'step').map((e) => e.step)).toEqual([1, 2]);
    for (const f of ['experiment.json', 'plan.eval.json', 'plan.train.json', 'medctc.lock', 'train_log.jsonl', 'metrics.json', 'metrics.md', 'scores.csv', 'scores.baseline.csv', 'run.json']) {
      expect(existsSync(join(out1, f)), f).toBe(true);
    }
    expect(readdirSync(join(out1, 'adapter')).sort()).toEqual(['adapter_config.json', 'adapter_model.safetensors']);
    const metrics = JSON.parse(read(out1, 'metrics.json').toString());
    expect(validateMetrics(metrics)).toEqual([]);
    expect(metrics).toMatchObject({ volumes: 1, finalModel: 'adapted' });
    const steps = log(out1);
    expect(steps.map((s) => s.step)).toEqual([1, 2]);
    for (const s of steps) expect(Number.isFinite(s.loss) && s.loss > 0).toBe(true);
    const adapter = readAdapter(join(out1, 'adapter'));
    expect(adapter.modules).toHaveLength(14);
    // Warmup 1: step 1 has lr 0, so only step 2 moves the weights: lora_B is no longer all zero.
    expect(adapter.modules.some((m) => m.B.some((x) => x !== 0))).toBe(true);
    const run = JSON.parse(read(out1, 'run.json').toString());
    expect(run).toMatchObject({ backend: 'cpu', seed: 7, train: { steps: 2, droppedPerEpoch: 1 } });
  });

  it('is bit-reproducible on the CPU: same seed, identical adapter, scores and metrics', () => {
    const r = medctc('run', file, '--out', out2, '--backend', 'cpu', '--quiet');
    expect(r.status, r.stderr).toBe(0);
    for (const f of ['adapter/adapter_model.safetensors', 'adapter/adapter_config.json', 'scores.csv', 'scores.baseline.csv', 'metrics.json']) {
      expect(read(out2, f).equals(read(out1, f)), f).toBe(true);
    }
    const same = (l: ReturnType<typeof log>) => l.map((s) => [s.step, s.loss, s.lr]);
    expect(same(log(out2))).toEqual(same(log(out1)));
  });

  it('evaluate reproduces the run: no adapter = the baseline, --adapter = the trained scores', () => {
    const base = join(dir, 'eval-base'), adapted = join(dir, 'eval-adapted');
    let r = medctc('evaluate', file, '--out', base, '--backend', 'cpu', '--quiet');
    expect(r.status, r.stderr).toBe(0);
    expect(read(base, 'scores.csv').equals(read(out1, 'scores.baseline.csv'))).toBe(true);
    r = medctc('evaluate', file, '--adapter', join(out1, 'adapter'), '--out', adapted, '--backend', 'cpu', '--quiet');
    expect(r.status, r.stderr).toBe(0);
    expect(read(adapted, 'scores.csv').equals(read(out1, 'scores.csv'))).toBe(true);
  });
});

describe('medctc train (cpu)', () => {
  it('lowers the training loss on a tiny set it can overfit', () => {
    const dir = tempDir('e2e-overfit');
    // 3 volumes: 2 train (one batch), 1 eval; constant lr, no dropout, same batch every step.
    const file = smallSpec(dir, { volumes: 3, pathologies: 3, batch: 2, epochs: 6, lr: 0.01, dropout: 0, schedule: 'constant', warmup: 0 });
    const out = join(dir, 'out');
    const r = medctc('train', file, '--out', out, '--backend', 'cpu', '--quiet');
    expect(r.status, r.stderr).toBe(0);
    const losses = log(out).map((s) => s.loss);
    expect(losses).toHaveLength(6);
    expect(losses.at(-1)!).toBeLessThan(losses[0]! * 0.9);
    expect(existsSync(join(out, 'metrics.json'))).toBe(false);
    expect(existsSync(join(out, 'adapter', 'adapter_model.safetensors'))).toBe(true);
  });
});
