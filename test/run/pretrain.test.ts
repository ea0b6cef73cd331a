// The committed pretrained tiny base (examples/weights/ct_clip_tiny-source.safetensors) is what
// examples/pretrain-tiny.medct produces: the file's sha256 is the recorded one, and re-running the
// pretraining's first epoch (same data, seed, schedule: warmup covers exactly that epoch, so its
// learning rates do not depend on the number of epochs) on the CPU backend with the recorded
// thread count gives the recorded losses bit for bit.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { tempDir } from './helpers.js';

const CLI = resolve('dist/cli/medctc.js');
const RECORD = 'examples/weights/ct_clip_tiny-source.json';
interface Record { file: string; sha256: string; bytes: number; command: string; threads: number; steps: number; firstEpoch: { steps: number; losses: number[] } }
const record = JSON.parse(readFileSync(RECORD, 'utf8')) as Record;

describe('examples/pretrain-tiny.medct', () => {
  it('the committed weights are the recorded file (sha256, size)', () => {
    const bytes = readFileSync(join('examples/weights', record.file));
    expect(bytes.length).toBe(record.bytes);
    expect(createHash('sha256').update(bytes).digest('hex')).toBe(record.sha256);
  });

  it(`its first epoch (${record.firstEpoch.steps} steps) gives the recorded losses bit for bit`, () => {
    if (!existsSync(CLI)) throw new Error(`${CLI} is missing: build first with \`npx tsc -p tsconfig.json\``);
    const out = tempDir('pretrain');
    const r = spawnSync(process.execPath, [CLI, 'train', 'examples/pretrain-tiny.medct', '--out', out, '--set', 'train.epochs=1', '--quiet'],
      { encoding: 'utf8', env: { ...process.env, NO_COLOR: '1', MEDCTC_THREADS: String(record.threads) } });
    expect(r.status, r.stderr).toBe(0);
    const losses = readFileSync(join(out, 'train_log.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { loss?: number }).filter((e) => e.loss !== undefined).map((e) => e.loss);
    expect(losses).toEqual(record.firstEpoch.losses);
  }, 600_000);
});
