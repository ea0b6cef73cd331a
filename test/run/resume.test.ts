// Checkpoints and --resume through the compiled CLI on the native CPU backend: a training run
// killed with SIGKILL after a checkpoint was written, resumed with `medctc train --resume`, ends
// with the adapter bytes and the per-step log (loss, lr, gradient norm, dropout seed, volumes) of
// an uninterrupted run; resuming against another experiment is E5593 naming what differs, and a
// folder without a checkpoint is E5592, both exit 2 and leave the checkpoint as it was.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readSafetensors } from '../../runtime/io/index.js';
import { smallSpec, tempDir } from './helpers.js';

const CLI = resolve('dist/cli/medctc.js');
const env = { ...process.env, NO_COLOR: '1', MEDCTC_THREADS: '1' };
function medctc(...args: string[]) {
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: build first with \`npx tsc -p tsconfig.json\``);
  return spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', env });
}

/** Starts training and SIGKILLs it as soon as it reports a checkpoint; resolves with how it ended. */
function trainUntilCheckpoint(...args: string[]): Promise<{ signal: NodeJS.Signals | null; code: number | null; checkpointAt: number | null; stderr: string }> {
  return new Promise((done) => {
    const p = spawn(process.execPath, [CLI, 'train', ...args, '--json'], { env, stdio: ['ignore', 'ignore', 'pipe'] });
    let buf = '', stderr = '', checkpointAt: number | null = null;
    p.stderr.setEncoding('utf8').on('data', (chunk: string) => {
      stderr += chunk;
      buf += chunk;
      let nl;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        let ev: { phase?: string; step?: number } = {};
        try { ev = JSON.parse(line); } catch { continue; }
        if (ev.phase === 'checkpoint' && checkpointAt === null) { checkpointAt = ev.step!; p.kill('SIGKILL'); }
      }
    });
    p.on('exit', (code, signal) => done({ signal, code, checkpointAt, stderr }));
  });
}

type LogLine = { step: number; epoch: number; batch: number; loss: number; lr: number; gradNorm: number; dropoutSeed: number; volumes: string[] };
const log = (dir: string): LogLine[] => readFileSync(join(dir, 'train_log.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as LogLine);
// Everything a step computed, without its wall-clock time.
const steps = (l: LogLine[]) => l.map(({ step, epoch, batch, loss, lr, gradNorm, dropoutSeed, volumes }) => ({ step, epoch, batch, loss, lr, gradNorm, dropoutSeed, volumes }));
const adapterBytes = (dir: string) => readFileSync(join(dir, 'adapter', 'adapter_model.safetensors'));

describe('checkpoints and --resume (cpu)', () => {
  const dir = tempDir('resume');
  // 24 volumes: 19 train, batch 2 -> 9 steps an epoch, 27 steps; dropout, a cosine schedule with
  // warmup and grad_clip, so the resumed steps need the right lr, dropout seeds, moments and order.
  const file = smallSpec(dir, { volumes: 24, pathologies: 2, batch: 2, epochs: 3, warmup: 3, checkpointEvery: 4, dropout: 0.1 });
  const full = join(dir, 'full'), killed = join(dir, 'killed');

  it('a run killed after a checkpoint resumes to the uninterrupted run\'s adapter bytes and losses', async () => {
    const r = medctc('train', file, '--out', full, '--backend', 'cpu', '--quiet');
    expect(r.status, r.stderr).toBe(0);
    const total = log(full).length;
    expect(total).toBe(27);
    // The uninterrupted run's last checkpoint is the end of training.
    const fin = JSON.parse(readSafetensors(join(full, 'checkpoint.safetensors')).metadata!['medctc.checkpoint']!);
    expect(fin.position).toMatchObject({ step: 27, totalSteps: 27, epoch: 3, batch: 9 });

    const k = await trainUntilCheckpoint(file, '--out', killed, '--backend', 'cpu');
    expect(k.signal, k.stderr.slice(-2000)).toBe('SIGKILL');
    expect(k.checkpointAt).toBe(4);
    // It died mid-training: no adapter, a checkpoint from before the end.
    expect(existsSync(join(killed, 'adapter'))).toBe(false);
    const meta = JSON.parse(readSafetensors(join(killed, 'checkpoint.safetensors')).metadata!['medctc.checkpoint']!);
    expect(meta.position.step).toBeGreaterThanOrEqual(4);
    expect(meta.position.step).toBeLessThan(total);
    expect(meta.rng.dropout.nextStep).toBe(meta.position.step + 1);

    const res = medctc('train', file, '--resume', killed, '--backend', 'cpu', '--json');
    expect(res.status, res.stderr).toBe(0);
    expect(res.stderr).toContain(`resuming after step ${meta.position.step} of 27`);
    expect(JSON.parse(res.stdout)).toMatchObject({ ok: true, train: { steps: 27 } });
    expect(adapterBytes(killed).equals(adapterBytes(full))).toBe(true);
    expect(readFileSync(join(killed, 'adapter', 'adapter_config.json'), 'utf8')).toBe(readFileSync(join(full, 'adapter', 'adapter_config.json'), 'utf8'));
    expect(steps(log(killed))).toEqual(steps(log(full)));
    const run = JSON.parse(readFileSync(join(killed, 'run.json'), 'utf8'));
    expect(run.train).toMatchObject({ steps: 27, resumedAfter: meta.position.step });
  }, 300_000);

  it('resuming with another spec is E5593 naming the difference; without a checkpoint E5592', () => {
    const before = readFileSync(join(full, 'checkpoint.safetensors'));
    const other = join(dir, 'other');
    mkdirSync(other, { recursive: true });
    const changed = join(other, 'exp.medct');
    writeFileSync(changed, readFileSync(file, 'utf8').replace(/lr [0-9.e-]+;/, 'lr 0.002;'));
    const r = medctc('train', changed, '--resume', full, '--backend', 'cpu', '--quiet');
    expect(r.status, r.stderr).toBe(2);
    expect(r.stderr).toContain('error[E5593]');
    expect(r.stderr).toContain('train.optimizer.lr: 0.001 in the checkpoint, 0.002 now');
    // The caret is at the changed value in the spec.
    const lrLine = readFileSync(changed, 'utf8').split('\n').findIndex((l) => l.includes('lr 0.002;')) + 1;
    expect(r.stderr).toMatch(new RegExp(`exp\\.medct:${lrLine}:\\d+`));
    expect(r.stderr).not.toMatch(/at .*\.js:\d+/);
    // An override is a difference too.
    const o = medctc('train', file, '--resume', full, '--backend', 'cpu', '--quiet', '--epochs', '4');
    expect(o.status, o.stderr).toBe(2);
    expect(o.stderr).toContain('train.epochs: 3 in the checkpoint, 4 now');
    expect(readFileSync(join(full, 'checkpoint.safetensors')).equals(before)).toBe(true);
    const none = medctc('train', file, '--resume', join(dir, 'empty'), '--backend', 'cpu', '--quiet');
    expect(none.status, none.stderr).toBe(2);
    expect(none.stderr).toContain('error[E5592]');
    expect(none.stderr).toContain('no checkpoint to resume from');
    // A file of that name medctc did not write is never replaced.
    const foreign = join(dir, 'foreign');
    mkdirSync(foreign, { recursive: true });
    writeFileSync(join(foreign, 'checkpoint.safetensors'), 'mine');
    const f = medctc('train', file, '--out', foreign, '--backend', 'cpu', '--quiet');
    expect(f.status, f.stderr).toBe(2);
    expect(f.stderr).toContain('error[E5590]');
    expect(readFileSync(join(foreign, 'checkpoint.safetensors'), 'utf8')).toBe('mine');
    const both = medctc('train', file, '--resume', full, '--out', join(dir, 'elsewhere'));
    expect(both.status).toBe(2);
    expect(both.stderr).toContain('--out');
  }, 120_000);
});
