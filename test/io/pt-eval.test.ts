// The quickstart's pretrained ct_clip_tiny base saved by PyTorch itself (torch.save of the
// committed safetensors file's tensors, zip format, and without the quantiser's EMA-only buffers
// as the official code writes it) evaluates through `medctc evaluate` to the same scores, byte for
// byte, as the safetensors file: the .pt loader hands the model the same weights.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { medctc } from '../review/cli.js';

const PYTHON = '/usr/bin/python3';
const SOURCE = resolve('examples/weights/ct_clip_tiny-source.safetensors');

describe('a torch.save checkpoint of the tiny base evaluates like its safetensors file', () => {
  const dir = mkdtempSync(join(tmpdir(), 'medctc-pt-eval-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('same scores.csv and metrics from the .pt (zip, no EMA buffers) and the safetensors file', () => {
    const pt = join(dir, 'base.pt');
    // A plain safetensors reader (header JSON + little-endian data), so no safetensors package is needed.
    const w = spawnSync(PYTHON, ['-c', `import json, struct, sys, numpy as np, torch
raw = open(sys.argv[1], 'rb').read(); n = struct.unpack('<Q', raw[:8])[0]; head = json.loads(raw[8:8 + n]); body = raw[8 + n:]
dt = {'F32': np.float32, 'F16': np.float16, 'I64': np.int64}
sd = {}
for k, v in head.items():
    if k == '__metadata__' or k.endswith('embed_avg'): continue
    a, b = v['data_offsets']
    sd[k] = torch.from_numpy(np.frombuffer(body[a:b], dtype=dt[v['dtype']]).reshape(v['shape']).copy())
torch.save(sd, sys.argv[2])`, SOURCE, pt], { encoding: 'utf8' });
    expect(w.status, `PyTorch could not write the checkpoint (Debian's python3-torch; .ci/run installs it): ${w.stderr}`).toBe(0);
    expect(readFileSync(pt).subarray(0, 2).toString('latin1')).toBe('PK'); // torch.save's zip format

    const evaluate = (weights: string, out: string) => medctc('evaluate', 'examples/quickstart.medct', '--quiet', '--backend', 'cpu', '--out', out,
      '--set', `model.weights=${JSON.stringify(weights)}`, '--set', 'data.root=".cache/synth/pt-eval-ci"', '--set', 'data.volumes=30',
      '--set', 'evaluate.bootstrap=none', '--set', 'evaluate.baseline=false');
    const a = evaluate(SOURCE, join(dir, 'st')), b = evaluate(pt, join(dir, 'pt'));
    expect(a.status, a.stderr).toBe(0);
    expect(b.status, b.stderr).toBe(0);
    const scores = (d: string) => readFileSync(join(dir, d, 'scores.csv'), 'utf8');
    expect(scores('st').split('\n').length).toBeGreaterThan(3);
    expect(scores('pt')).toBe(scores('st'));
    const mean = (d: string) => JSON.parse(readFileSync(join(dir, d, 'metrics.json'), 'utf8')).final.mean;
    expect(mean('pt')).toEqual(mean('st'));
  }, 300_000);
});
