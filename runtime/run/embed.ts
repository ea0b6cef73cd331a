// `medctc embed`: the experiment's image latents, text latents and logits for given volumes and
// texts, as CT-CLIP's latent-generation scripts write them for downstream use. It runs the eval
// plan the evaluation runs (same executor, same weights, same merged adapter): each run takes the
// plan's batch of images and of texts, so volumes and texts are fed in lockstep, the last partial
// batch of each padded (a zero volume, copies of a real text row) and the padded rows dropped.
// Logits are exp(temperature) · text·imageᵀ over every (text, image) pair — the official
// `[texts, images]` order — computed from the latents the plan produced (pairs in different runs
// never meet on the device), in float64 and rounded once.
//
// Volume inputs: a NIfTI file is preprocessed by the spec's rules exactly as a run's data set does
// it (runtime/data/prepare.ts: its cache, the 16-bit grid for real data; its metadata row from the
// experiment's data tables when it has one there, else the header's spacing and no metadata
// rescale); `.npy` / `.safetensors` hold the model input itself ((D, H, W), optionally with leading
// 1s); `.npz` is what CT-CLIP's `preprocess_ctrate_*.py` write (`arr_0`: HU clipped to [-1000,
// 1000] / 1000, (z, x, y), resampled, not yet cropped), which is centre-cropped / padded as its
// loaders do.
import { existsSync, readFileSync } from 'node:fs';
import { basename, resolve } from 'node:path';
import { DiagnosticError, fileDiagnostic } from '../../base/diagnostics/types.js';
import { regularFileProblem } from '../../base/files.js';
import type { DataSpec, Preprocess } from '../../compiler/ir/experiment.js';
import { readMetadata, type MetadataRow } from '../data/ctrate_tables.js';
import { layoutPaths } from '../data/layout.js';
import { readNiftiFile } from '../data/nifti.js';
import { cropOrPad, quantizationGrid, type QuantGrid, type Shape3 } from '../data/preprocess.js';
import { VolumeCache } from '../data/cache.js';
import { preprocessEntry } from '../data/prepare.js';
import { readNpy, readNpz, type NpyArray } from '../io/npy.js';
import { withSafetensors } from '../io/safetensors.js';
import type { RunExecutor } from './executor.js';
import { assertFeeds, volumeBatch } from './feeds.js';

export interface EmbedVolume {
  /** As given on the command line. */
  name: string;
  /** The preprocessed volume, (D, H, W) = preprocess.size. */
  load(): Float32Array;
}

/** Token ids and attention mask, [count, maxLength] row-major. */
export interface EmbedTexts { ids: Int32Array; mask: Float32Array; count: number }

export interface Embeddings {
  latent: number;
  /** [volumes, latent], [texts, latent], [texts, volumes]. */
  image: Float32Array;
  text: Float32Array;
  logits: Float32Array;
  temperature: number;
  runs: number;
}

const misfit = (file: string, message: string, help: string): never => {
  throw new DiagnosticError(fileDiagnostic('E5601', `${file}: ${message}`, file, { help }));
};

/** The eval plan's image and text latents for every input, batch by batch; see the header. */
export async function embedInputs(o: { exec: RunExecutor; volumes: readonly EmbedVolume[]; texts: EmbedTexts | null; filler: EmbedTexts; onRun?: (done: number, total: number) => void }): Promise<Embeddings> {
  const plan = o.exec.plan;
  const bi = plan.batch.images, bt = plan.batch.texts;
  const len = plan.buffers[plan.inputs.input_ids!]!.shape[1]!;
  const volShape = plan.buffers[plan.inputs.volume!]!.shape.slice(2);
  const voxels = volShape.reduce((a, b) => a * b, 1);
  const nv = o.volumes.length, nt = o.texts?.count ?? 0;
  const runs = Math.max(Math.ceil(nv / bi), Math.ceil(nt / bt), 1);
  // Padding rows: a real text row when there is one (any valid row gives finite latents).
  const pad = o.texts && nt > 0 ? o.texts : o.filler;
  let latent = 0;
  let image = new Float32Array(0), text = new Float32Array(0);
  for (let r = 0; r < runs; r++) {
    const vols: Float32Array[] = [];
    for (let b = 0; b < bi; b++) {
      const i = r * bi + b;
      vols.push(i < nv ? o.volumes[i]!.load() : new Float32Array(voxels));
    }
    const ids = new Int32Array(bt * len), mask = new Float32Array(bt * len);
    for (let b = 0; b < bt; b++) {
      const j = r * bt + b;
      const src = j < nt ? o.texts! : pad, row = j < nt ? j : 0;
      ids.set(src.ids.subarray(row * len, (row + 1) * len), b * len);
      mask.set(src.mask.subarray(row * len, (row + 1) * len), b * len);
    }
    const feeds = { volume: volumeBatch(vols), input_ids: ids, attention_mask: mask };
    if (r === 0) assertFeeds(plan, feeds);
    await o.exec.run(feeds);
    const im = await o.exec.output('image_latent'), tx = await o.exec.output('text_latent');
    if (r === 0) {
      latent = im.length / bi;
      image = new Float32Array(nv * latent);
      text = new Float32Array(nt * latent);
    }
    const keepV = Math.max(0, Math.min(bi, nv - r * bi)), keepT = Math.max(0, Math.min(bt, nt - r * bt));
    if (keepV > 0) image.set(im.subarray(0, keepV * latent), r * bi * latent);
    if (keepT > 0) text.set(tx.subarray(0, keepT * latent), r * bt * latent);
    o.onRun?.(r + 1, runs);
  }
  const temperature = (await o.exec.readTensor('temperature'))[0]!;
  const scale = Math.exp(temperature);
  const logits = new Float32Array(nt * nv);
  for (let t = 0; t < nt; t++) {
    for (let v = 0; v < nv; v++) {
      let s = 0;
      for (let k = 0; k < latent; k++) s += text[t * latent + k]! * image[v * latent + k]!;
      logits[t * nv + v] = scale * s;
    }
  }
  return { latent, image, text, logits, temperature, runs };
}

/** The metadata rows of the experiment's data tables by volume name (empty when it has none on disk). */
export function metadataRows(data: DataSpec, baseDir: string): Map<string, MetadataRow> {
  const root = resolve(baseDir, data.source.root);
  const rows = new Map<string, MetadataRow>();
  for (const split of new Set([data.trainSplit, data.evalSplit])) {
    const file = layoutPaths(root, split).metadata;
    if (existsSync(file)) for (const [k, v] of readMetadata(file, file).rows) rows.set(k, v);
  }
  return rows;
}

const dims3 = (a: { shape: number[] }, file: string, want: readonly number[], what: string): Shape3 => {
  const s = [...a.shape];
  while (s.length > 3 && s[0] === 1) s.shift();
  if (s.length !== 3) misfit(file, `holds an array of shape [${a.shape.join(', ')}], not a volume`, `${what} must be (D, H, W), optionally with leading 1s: [${want.join(', ')}]`);
  return s as Shape3;
};

function exactVolume(a: { shape: number[]; data: ArrayLike<number> }, file: string, pp: Preprocess): Float32Array {
  const s = dims3(a, file, pp.size, 'a preprocessed volume');
  if (s.some((d, i) => d !== pp.size[i])) {
    misfit(file, `is a preprocessed volume of [${s.join(', ')}] voxels, the model takes [${pp.size.join(', ')}]`,
      'pass the raw NIfTI (medctc preprocesses it by the spec), or a CT-CLIP .npz (cropped / padded here), or preprocess to the model input');
  }
  return Float32Array.from(a.data);
}

/** How a run preprocesses raw volumes: its cache and, for real data, the 16-bit grid
 *  (runtime/data/prepare.ts), so a NIfTI embeds exactly as the run's data set feeds it. */
export function rawVolumeRules(data: DataSpec, baseDir: string): { cache: VolumeCache; grid: QuantGrid | null } {
  return { cache: new VolumeCache(resolve(baseDir, data.cacheDir)), grid: data.source.kind === 'synthetic' ? null : quantizationGrid(data.preprocess) };
}

/** One volume input (see the header for what each format holds). `meta` gives NIfTI files their metadata row. */
export function volumeInput(path: string, pp: Preprocess, meta: ReadonlyMap<string, MetadataRow>, raw: { cache: VolumeCache; grid: QuantGrid | null },
                            note: (line: string) => void = () => {}): EmbedVolume {
  const lower = path.toLowerCase();
  const problem = regularFileProblem(path);
  if (problem) throw new DiagnosticError(fileDiagnostic('E5602', `cannot read ${path}: ${problem}`, path));
  if (lower.endsWith('.nii') || lower.endsWith('.nii.gz')) {
    const row = meta.get(basename(path));
    if (!row) note(`${path}: no row in the experiment's metadata tables; spacing from the NIfTI header, no metadata rescale`);
    return {
      name: path,
      load: () => {
        let m = row;
        if (!m) {
          const [px, py, pz] = readNiftiFile(path, path).pixdim;
          m = { line: 0, slope: 1, intercept: 0, xySpacing: [px, py], zSpacing: pz };
        }
        return preprocessEntry({ path, shownAs: path, meta: m, pp, grid: raw.grid }, raw.cache).data;
      },
    };
  }
  if (lower.endsWith('.npz')) {
    return {
      name: path,
      load: () => {
        const members = readNpz(path);
        const a: NpyArray | undefined = members.get('arr_0') ?? (members.size === 1 ? [...members.values()][0] : undefined);
        if (!a) return misfit(path, `holds ${members.size} arrays (${[...members.keys()].join(', ')}) and none is arr_0`, 'save the volume with np.savez(path, volume), as CT-CLIP\'s preprocessing does');
        const s = dims3(a, path, pp.size, 'a CT-CLIP .npz volume');
        return cropOrPad(Float32Array.from(a.data), s, pp.size, pp.padValue);
      },
    };
  }
  if (lower.endsWith('.npy')) return { name: path, load: () => exactVolume(readNpy(path), path, pp) };
  if (lower.endsWith('.safetensors')) {
    return {
      name: path,
      load: () => withSafetensors(path, (f) => {
        const names = f.names();
        const name = names.includes('volume') ? 'volume' : names.length === 1 ? names[0]! : misfit(path, `holds ${names.length} tensors and none is named "volume"`, 'name the tensor "volume"');
        return exactVolume({ shape: [...f.info(name).shape], data: f.readF32(name) }, path, pp);
      }),
    };
  }
  return misfit(path, 'is not a volume format medctc reads', 'pass .nii / .nii.gz (raw), .npz (CT-CLIP preprocessed), .npy or .safetensors (the model input)');
}

/** Token ids from `.npy` ([N, L] integers) or `.json` ([[id, ...], ...]): padded with `padId` to
 *  `maxLength` (longer is an error), attention 1 on every non-pad id, each id below `vocabSize`. */
export function tokenIdsInput(path: string, o: { maxLength: number; padId: number; vocabSize: number }): EmbedTexts {
  let rows: number[][];
  if (path.toLowerCase().endsWith('.json')) {
    let v: unknown;
    try { v = JSON.parse(readText(path)); } catch (e) { return misfit(path, `is not valid JSON: ${(e as Error).message}`, 'write a list of token-id lists'); }
    if (!Array.isArray(v) || !v.every((r) => Array.isArray(r) && r.every((x) => Number.isInteger(x)))) return misfit(path, 'is not a list of integer lists', 'write [[101, 2023, ...], ...]');
    rows = v as number[][];
  } else {
    const a = readNpy(path);
    if (!a.dtype.startsWith('i') && !a.dtype.startsWith('u')) misfit(path, `holds ${a.dtype} values, not token ids`, 'save the ids as an integer array');
    if (a.shape.length !== 2) misfit(path, `holds shape [${a.shape.join(', ')}], not [texts, tokens]`, 'save a 2-D array [texts, tokens]');
    const [n, l] = a.shape as [number, number];
    rows = Array.from({ length: n }, (_, i) => Array.from(a.data.subarray(i * l, (i + 1) * l)));
  }
  const L = o.maxLength;
  const ids = new Int32Array(rows.length * L).fill(o.padId), mask = new Float32Array(rows.length * L);
  rows.forEach((r, i) => {
    let used = r.length;
    while (used > 0 && r[used - 1] === o.padId) used--;
    if (used > L) misfit(path, `text ${i} has ${used} tokens, more than the model's max_length ${L}`, 'truncate the ids to max_length (keeping [SEP]) or raise model.text.max_length');
    for (let k = 0; k < used; k++) {
      const id = r[k]!;
      if (id < 0 || id >= o.vocabSize) misfit(path, `text ${i} has token id ${id}, outside the vocabulary [0, ${o.vocabSize})`, 'the ids must come from the model\'s tokenizer');
      ids[i * L + k] = id;
      if (id !== o.padId) mask[i * L + k] = 1;
    }
  });
  return { ids, mask, count: rows.length };
}

function readText(path: string): string {
  try { return readFileSync(path, 'utf8'); } catch (e) { return misfit(path, `cannot read: ${(e as NodeJS.ErrnoException).code ?? String(e)}`, 'check the path'); }
}
