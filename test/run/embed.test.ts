// medctc embed on the quickstart's model (ct_clip_tiny with the committed pretrained weights):
// the written latents are what the evaluation path computes for the same volume and prompts (the
// eval plan run on the data set's own preprocessed volume, bit for bit); logits are
// exp(temperature) · text·imageᵀ recomputed here from the written latents, and agree with the
// plan's own `logits` output for the pairs it computes; a volume given as NIfTI, as the
// preprocessed .npy and as a CT-CLIP .npz (numpy writes both here) embeds identically; more texts
// than the plan's text batch (not a multiple of it) give the same rows as one text at a time.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { beforeAll, afterAll, describe, expect, it } from 'vitest';
import { compileExperiment, type Compiled } from '../../compiler/build.js';
import { checkFiles } from '../../compiler/check/index.js';
import { emittedLibrary } from '../../compiler/codegen/library.js';
import type { ResolvedExperiment } from '../../compiler/ir/experiment.js';
import { openDataSet, tokenizerFor, type DataItem } from '../../runtime/data/index.js';
import { readMetadata } from '../../runtime/data/ctrate_tables.js';
import { layoutPaths } from '../../runtime/data/layout.js';
import { readNiftiFile } from '../../runtime/data/nifti.js';
import { resampledShape, resizeTrilinear, toWindowedZXY, type Shape3 } from '../../runtime/data/preprocess.js';
import { openDevice } from '../../runtime/device/index.js';
import { createExecutor } from '../../runtime/exec/index.js';
import { readSafetensors, toFloat32 } from '../../runtime/io/safetensors.js';
import { embedInputs, type EmbedTexts } from '../../runtime/run/embed.js';
import { adapterTensorsFor, loadBaseWeights, promptTexts, reportFeeds, textFeeds, volumeBatch, type RunExecutor } from '../../runtime/run/index.js';
import { readAdapter, writeAdapter } from '../../runtime/adapter/index.js';
import { tempDir } from './helpers.js';

const CLI = resolve('dist/cli/medctc.js');
const PYTHON = '/usr/bin/python3';
function medctc(...args: string[]) {
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: build first with \`npx tsc -p tsconfig.json\``);
  return spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', env: { ...process.env, NO_COLOR: '1', MEDCTC_THREADS: '1' } });
}
function numpy(script: string): void {
  const r = spawnSync(PYTHON, ['-c', script], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`numpy could not write the fixtures (install Debian's python3-numpy): ${r.stderr || r.error}`);
}

let dir = '', file = '', exp: ResolvedExperiment, c: Compiled, items: DataItem[] = [], exec: RunExecutor;
const PROMPTS: string[] = [];

beforeAll(async () => {
  dir = tempDir('embed');
  const spec = readFileSync('examples/quickstart.medct', 'utf8')
    .replace('"weights/ct_clip_tiny-source.safetensors"', JSON.stringify(resolve('examples/weights/ct_clip_tiny-source.safetensors')))
    .replace(/root "[^"]*"/, `root "${join(dir, 'data')}"`).replace(/volumes \d+/, 'volumes 10')
    .replace(/cache "[^"]*"/, `cache "${join(dir, 'cache')}"`);
  file = join(dir, 'exp.medct');
  writeFileSync(file, spec);
  const r = checkFiles(file);
  exp = r.experiments[0]!;
  c = compileExperiment(exp, r.sources);
  const ds = await openDataSet(exp.data, exp.prompts, { progress: 'quiet' });
  items = ds.eval.items;
  PROMPTS.push(...promptTexts(exp.prompts));
  const device = await openDevice('cpu');
  exec = await createExecutor(c.plans.eval, device, { kernels: emittedLibrary(device.target) });
  await exec.loadWeights({ seed: exp.seed, tensors: loadBaseWeights(c.plans.eval.model, exp.model.weights!, file) });
  await exec.prepare();
}, 240_000);
afterAll(() => exec?.destroy());

const rows = (a: Float32Array, n: number) => Array.from({ length: n }, (_, i) => a.slice((i * a.length) / n, ((i + 1) * a.length) / n));

describe('medctc embed', () => {
  it('writes the evaluation path\'s latents; NIfTI, .npy and CT-CLIP .npz inputs agree; logits are [texts, images]', async () => {
    expect(items.length).toBeGreaterThanOrEqual(2);
    const [a, b] = [items[0]!, items[1]!];
    // The evaluation path: the eval plan on the data set's volume and the prompts' feeds.
    const text = textFeeds(tokenizerFor(exp.model.text, exp.model.architecture), exp.prompts, exp.model.text.maxLength);
    await exec.run({ volume: volumeBatch([await a.load()]), input_ids: text.input_ids, attention_mask: text.attention_mask });
    const evalImage = await exec.output('image_latent'), evalText = await exec.output('text_latent'), evalLogits = await exec.output('logits');

    // The same volume preprocessed (.npy), and as CT-CLIP's preprocessing leaves it (.npz: windowed,
    // / 1000, (z, x, y), resampled, not cropped), written by numpy from the raw float32 bytes.
    writeFileSync(join(dir, 'pre.f32'), await a.load());
    const meta = readMetadata(layoutPaths(join(dir, 'data'), 'valid').metadata, 'meta').rows.get(a.volumeName)!;
    const vol = readNiftiFile(a.path);
    const zxy: Shape3 = [vol.dims[2], vol.dims[0], vol.dims[1]];
    const win = toWindowedZXY(vol.data, vol.dims, { headerSlope: vol.sclSlope, headerInter: vol.sclInter, slope: meta.slope, intercept: meta.intercept }, [-1000, 1000]);
    const size = resampledShape(zxy, [meta.zSpacing, meta.xySpacing[0], meta.xySpacing[1]], [10, 10, 10]);
    const res = resizeTrilinear(win, zxy, size).map((x) => x / 1000);
    writeFileSync(join(dir, 'ctclip.f32'), res);
    numpy(`import numpy as np
d = ${JSON.stringify(dir)}
np.save(d + '/pre.npy', np.fromfile(d + '/pre.f32', np.float32).reshape(1, 32, 32, 32))
np.savez(d + '/ctclip.npz', np.fromfile(d + '/ctclip.f32', np.float32).reshape(${size.join(', ')}))`);

    const texts = [...PROMPTS, 'Emphysema.', 'no acute findings', 'cardiomegaly and pleural effusion', 'x'];
    const out = join(dir, 'latents.safetensors');
    const r = medctc('embed', file, '--volumes', a.path, b.path, join(dir, 'pre.npy'), join(dir, 'ctclip.npz'), '--texts', ...texts, '--out', out, '--backend', 'cpu', '--json');
    expect(r.status, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ ok: true, volumes: 4, texts: texts.length, latent: 64, runs: 4 });
    const st = readSafetensors(out);
    expect([...st.tensors.keys()].sort()).toEqual(['image_latents', 'logits', 'text_latents']);
    expect(st.tensors.get('image_latents')!.shape).toEqual([4, 64]);
    expect(st.tensors.get('text_latents')!.shape).toEqual([texts.length, 64]);
    expect(st.tensors.get('logits')!.shape).toEqual([texts.length, 4]);
    expect(st.metadata).toMatchObject({ format: 'medctc-embed', logits_order: 'texts,images', experiment: 'quickstart' });
    expect(JSON.parse(st.metadata!.texts!)).toEqual(texts);
    const image = rows(toFloat32(st.tensors.get('image_latents')!), 4), txt = rows(toFloat32(st.tensors.get('text_latents')!), texts.length);
    const logits = toFloat32(st.tensors.get('logits')!);

    expect(image[0]).toEqual(evalImage);
    expect(image[1]).not.toEqual(evalImage);
    expect(image[2]).toEqual(image[0]);
    expect(image[3]).toEqual(image[0]);
    expect(Float32Array.from(txt.slice(0, PROMPTS.length).flatMap((t) => [...t]))).toEqual(evalText);
    // Logits recomputed from the written latents and the written temperature.
    const scale = Math.exp(Number(st.metadata!.temperature));
    expect(Number(st.metadata!.logit_scale)).toBeCloseTo(scale, 12);
    for (let t = 0; t < texts.length; t++) {
      for (let v = 0; v < 4; v++) {
        const dot = txt[t]!.reduce((s, x, k) => s + x * image[v]![k]!, 0);
        expect(logits[t * 4 + v]).toBeCloseTo(scale * dot, 4);
      }
    }
    // ...and the plan's own logits ([images, texts]) for volume a against the prompts.
    for (let t = 0; t < PROMPTS.length; t++) expect(logits[t * 4]).toBeCloseTo(evalLogits[t]!, 4);
  }, 240_000);

  it('batching: 3 volumes and 40 texts in one call give the rows of one volume or text at a time', async () => {
    const tok = tokenizerFor(exp.model.text, exp.model.architecture);
    const texts = [...PROMPTS, 'one', 'two more words', 'Emphysema.', 'Lung nodule is present.'];
    expect(texts.length % c.plans.eval.batch.texts).not.toBe(0);
    const feed = (t: string[]): EmbedTexts => { const f = reportFeeds(tok, t, exp.model.text.maxLength); return { ids: f.input_ids, mask: f.attention_mask, count: t.length }; };
    const filler = feed(['']);
    const vols = await Promise.all(items.slice(0, 2).map((it) => it.load()));
    const inputs = [vols[0]!, vols[1]!, vols[0]!].map((v, i) => ({ name: `v${i}`, load: () => v }));
    const all = await embedInputs({ exec, volumes: inputs, texts: feed(texts), filler });
    expect(all.runs).toBe(3);
    const allImage = rows(all.image, 3), allText = rows(all.text, texts.length);
    for (let i = 0; i < 3; i++) {
      const one = await embedInputs({ exec, volumes: [inputs[i]!], texts: null, filler });
      expect(allImage[i], `volume ${i}`).toEqual(one.image);
    }
    for (let t = 0; t < texts.length; t++) {
      const one = await embedInputs({ exec, volumes: [], texts: feed([texts[t]!]), filler });
      expect(allText[t], `text ${t}`).toEqual(one.text);
    }
    expect(allImage[2]).toEqual(allImage[0]);
  }, 240_000);

  it('--adapter: the latents of the model with the adapter merged, as the evaluation with that adapter computes them', async () => {
    // A PEFT adapter with non-zero B on every adapted module (deterministic values).
    const modules = c.plans.eval.model.lora!.adapters.map((g, gi) => ({
      path: g.module, rank: g.rank, alpha: g.alpha, inFeatures: g.inFeatures, outFeatures: g.outFeatures,
      A: Float32Array.from({ length: g.rank * g.inFeatures }, (_, i) => Math.sin(i + gi) * 0.05),
      B: Float32Array.from({ length: g.outFeatures * g.rank }, (_, i) => Math.cos(i * 3 + gi) * 0.05),
    }));
    const ad = join(dir, 'adapter');
    writeAdapter(ad, { settings: { baseModel: null, dropout: 0, rslora: false, init: 'kaiming' }, modules, saved: [] });
    const out = join(dir, 'adapted.safetensors'), plain = join(dir, 'plain.safetensors');
    const args = [file, '--volumes', items[0]!.path, '--texts', PROMPTS[0]!, PROMPTS[1]!, '--backend', 'cpu', '--quiet'];
    expect(medctc('embed', ...args, '--adapter', ad, '--out', out).status).toBe(0);
    expect(medctc('embed', ...args, '--out', plain).status).toBe(0);
    const got = readSafetensors(out), base = readSafetensors(plain);
    // (The image side goes through the quantiser, which snaps a small change back to the same codes.)
    expect(toFloat32(got.tensors.get('text_latents')!)).not.toEqual(toFloat32(base.tensors.get('text_latents')!));
    // The evaluation path with the same adapter: its tensors written into a second eval executor, merged by prepare().
    const device = await openDevice('cpu');
    const ex = await createExecutor(c.plans.eval, device, { kernels: emittedLibrary(device.target) });
    try {
      await ex.loadWeights({ seed: exp.seed, tensors: loadBaseWeights(c.plans.eval.model, exp.model.weights!, file) });
      for (const [n, v] of adapterTensorsFor(c.plans.eval.model, readAdapter(ad), ad)) await ex.writeTensor(n, v);
      await ex.prepare();
      const text = textFeeds(tokenizerFor(exp.model.text, exp.model.architecture), exp.prompts, exp.model.text.maxLength);
      await ex.run({ volume: volumeBatch([await items[0]!.load()]), input_ids: text.input_ids, attention_mask: text.attention_mask });
      expect(toFloat32(got.tensors.get('image_latents')!)).toEqual(await ex.output('image_latent'));
      expect(toFloat32(got.tensors.get('text_latents')!)).toEqual((await ex.output('text_latent')).slice(0, 2 * 64));
      expect(got.metadata!.adapter).toBe(ad);
    } finally {
      ex.destroy();
    }
  }, 240_000);

  it('an .npy of the wrong size is E5601 (exit 2) and writes nothing', () => {
    numpy(`import numpy as np; np.save(${JSON.stringify(join(dir, 'small.npy'))}, np.zeros((16, 32, 32), np.float32))`);
    const out = join(dir, 'bad.safetensors');
    const r = medctc('embed', file, '--volumes', join(dir, 'small.npy'), '--out', out, '--backend', 'cpu');
    expect(r.status, r.stderr).toBe(2);
    expect(r.stderr).toContain('E5601');
    expect(r.stderr).toContain('[16, 32, 32]');
    expect(existsSync(out)).toBe(false);
  }, 120_000);

  it('a volume that is missing or a folder is E5602 (exit 2) and writes nothing', () => {
    const out = join(dir, 'missing.safetensors');
    for (const [input, what] of [[join(dir, 'nope.npy'), 'does not exist'], [dir, 'folder']] as const) {
      const r = medctc('embed', file, '--volumes', input, '--out', out, '--backend', 'cpu');
      expect(r.status, r.stderr).toBe(2);
      expect(r.stderr).toContain('E5602');
      expect(r.stderr).toContain(what);
      expect(r.stderr).not.toMatch(/at .*\.js:\d+/);
    }
    expect(existsSync(out)).toBe(false);
  }, 120_000);
});
