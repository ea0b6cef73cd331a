// The build folder and its lock: what is hashed, what is written when, errors as diagnostics.
import { describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { compileExperiment, writeBuild } from '../../compiler/build.js';
import { DiagnosticError } from '../../base/diagnostics/types.js';
import { experiment, tempDir } from './fixtures.js';

const sha = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');

describe('build folder', () => {
  it('locks sources, the weights header and the data manifest', async () => {
    const dir = tempDir('medctc-lock-');
    const header = Buffer.from(JSON.stringify({ temperature: { dtype: 'F32', shape: [], data_offsets: [0, 4] } }).padEnd(64, ' '));
    const len = Buffer.alloc(8); len.writeBigUInt64LE(BigInt(header.length));
    const data = Buffer.alloc(4); data.writeFloatLE(1);
    writeFileSync(join(dir, 'w.safetensors'), Buffer.concat([len, header, data]));
    mkdirSync(join(dir, 'synth'));
    writeFileSync(join(dir, 'synth', 'manifest.json'), '{"volumes": 3}\n');
    writeFileSync(join(dir, 'exp.medct'), 'experiment x {}\n');
    const e = experiment('ct_clip_tiny', { sources: ['exp.medct'] });
    e.model.weights = 'w.safetensors';
    e.data.source = { ...e.data.source, root: 'synth' } as typeof e.data.source;
    const lock = JSON.parse(await writeBuild(compileExperiment(e), join(dir, 'out'), { baseDir: dir }));
    expect(lock.weights).toEqual({ path: 'w.safetensors', manifest: { sha256: sha(Buffer.concat([len, header])), bytes: 8 + header.length + 4 } });
    expect(lock.data.manifest).toBe(sha('{"volumes": 3}\n'));
    expect(lock.sources['exp.medct']).toBe(sha('experiment x {}\n'));
    expect(lock.compiler).toEqual({ name: 'medctc', version: '0.1.0' });
    expect(readFileSync(join(dir, 'out', 'medctc.lock'), 'utf8')).not.toMatch(/20\d\d-\d\d-\d\d/); // no timestamps
  });

  it('writes no train plan for an evaluation-only experiment', async () => {
    const dir = tempDir('medctc-eval-');
    const c = compileExperiment(experiment('ct_clip_tiny', { train: null }));
    expect(c.plans.train).toBeNull();
    expect(c.report.memory.activations.train).toBeNull();
    await writeBuild(c, dir, { baseDir: dir });
    expect(readdirSync(dir).filter((f) => f !== 'kernels').sort()).toEqual(['experiment.json', 'medctc.lock', 'plan.eval.json', 'report.json', 'report.md']);
  });

  it('reports sizes that do not divide as E3010 at the value in the source', () => {
    const e = experiment('ct_clip_tiny', { provenance: { '/model/image/frames': { kind: 'source', file: 'exp.medct', line: 2, col: 10 } } });
    e.model.image.frames = 30;
    const src = 'model {\n  frames 30\n}\n';
    try {
      compileExperiment(e, new Map([['exp.medct', src]]));
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(DiagnosticError);
      const d = (err as DiagnosticError).diagnostics[0]!;
      expect(d.code).toBe('E3010');
      expect(src.slice(d.primary!.start, d.primary!.end)).toBe('30');
    }
  });
});
