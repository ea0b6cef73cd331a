// `medctc build --onnx` through the compiled CLI (`npm test` runs tsc first): model.onnx is
// written into the build folder, hashed in medctc.lock, equals exportOnnx of the eval graph with
// the seeded init, and runs in onnxruntime.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { compileExperiment } from '../../compiler/build.js';
import { checkFiles } from '../../compiler/check/index.js';
import { exportOnnx } from '../../compiler/export/onnx/index.js';
import { initWeights } from '../../runtime/exec/init.js';
import { runOnnxWithDims } from './ort.js';

const CLI = resolve('dist/cli/medctc.js');
const dir = mkdtempSync(join(tmpdir(), 'medctc-onnx-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function medctc(...args: string[]) {
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: build first with \`npx tsc -p tsconfig.json\``);
  return spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8' });
}

describe('medctc build --onnx', () => {
  it('writes model.onnx (locked, equal to the in-process export) and onnxruntime runs it', async () => {
    const out = join(dir, 'build');
    const r = medctc('build', 'test/run/fixtures/small.medct', '--out', out, '--onnx', '--json');
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const bytes = readFileSync(join(out, 'model.onnx'));
    const lock = JSON.parse(readFileSync(join(out, 'medctc.lock'), 'utf8'));
    expect(lock.outputs['model.onnx']).toBe(createHash('sha256').update(bytes).digest('hex'));

    const c = compileExperiment(checkFiles('test/run/fixtures/small.medct').experiments[0]!);
    const want = exportOnnx(c.graphs.eval, initWeights(c.graphs.eval.tensors, c.experiment.seed));
    expect(Buffer.compare(bytes, Buffer.from(want))).toBe(0);

    const [texts, len] = c.graphs.eval.tensors.find((t) => t.name === 'input_ids')!.shape as [number, number];
    const res = await runOnnxWithDims(new Uint8Array(bytes), {
      volume: new Float32Array(32 ** 3).fill(0.1),
      input_ids: new Int32Array(texts * len).fill(5),
      attention_mask: new Float32Array(texts * len).fill(1),
    });
    expect(res.dims.logits).toEqual([1, texts]);
    expect(res.outputs.logits!.every(Number.isFinite)).toBe(true);
  });

  it('leaves model.onnx out without the flag', () => {
    const out = join(dir, 'plain');
    expect(medctc('build', 'test/run/fixtures/small.medct', '--out', out).status).toBe(0);
    expect(existsSync(join(out, 'model.onnx'))).toBe(false);
  });
});
