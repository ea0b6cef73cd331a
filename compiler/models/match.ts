// Which architecture preset a state dict is, from its tensor names and shapes alone: the sizes
// are read back off the shapes (dim from the patch embedding, depths from the layer indices...),
// then the model is built at the preset's sizes and at the read-back sizes and both are compared
// name by name. `medctc inspect` reports the result, so a user holding an unknown checkpoint
// learns the spec to write (`model ct_clip { image { dim 128 } }`) or what does not fit.
import type { Architecture, ImageEncoderSizes, TextEncoderSizes } from '../ir/experiment.js';
import { buildModel } from './index.js';
import { PRESETS } from './presets.js';

/** Buffers only the quantiser's EMA training updates: the forward never reads them, and which of
 *  them a checkpoint has depends on the vector-quantize-pytorch version that wrote it. */
export const EMA_ONLY_BUFFERS: readonly string[] = [
  'visual_transformer.vq._codebook.initted',
  'visual_transformer.vq._codebook.cluster_size',
  'visual_transformer.vq._codebook.embed_avg',
];

export interface SizeDiff { field: string; file: number; preset: number }

export interface ModelComparison {
  /** Tensors of the model present with the same shape. */
  matched: number;
  /** Tensors the model has (EMA-only buffers included). */
  expected: number;
  missing: string[];
  /** EMA-only buffers the file lacks (never an obstacle to loading). */
  optionalMissing: string[];
  wrongShape: { name: string; file: number[]; model: number[] }[];
  /** In the file, not in the model (e.g. BERT's position_ids); ignored when loading. */
  unexpected: string[];
  /** Elements of the matched tensors that are the model's parameters, and of its buffers (the VQ
   *  codebook, LayerNorm betas): a state dict does not say which is which, the model does. */
  parameters: number;
  buffers: number;
}

export interface PresetMatch {
  preset: Architecture;
  /** The file against the preset as it is. */
  asPreset: ModelComparison;
  /** Sizes read off the file that differ from the preset (spec fields). */
  sizeDiffs: SizeDiff[];
  /** The file against the preset with those sizes overridden, or null when they could not be read. */
  atFileSizes: ModelComparison | null;
  /** The override block for the spec, when the file is this architecture at other sizes. */
  specOverride: string | null;
}

export interface ArchitectureMatch {
  /** 'preset': fits the preset as is; 'sizes': fits it with size overrides; 'none': neither. */
  kind: 'preset' | 'sizes' | 'none';
  best: PresetMatch;
  all: PresetMatch[];
}

const fits = (c: ModelComparison): boolean => c.missing.length === 0 && c.wrongShape.length === 0;
const same = (a: readonly number[], b: readonly number[]): boolean => a.length === b.length && a.every((d, i) => d === b[i]);

interface ModelTensor { shape: number[]; buffer: boolean }

function modelTensors(architecture: Architecture, image: ImageEncoderSizes, text: TextEncoderSizes, latentDim: number): Map<string, ModelTensor> | null {
  try {
    const g = buildModel({ architecture, weights: null, image, text, latentDim }, { imageBatch: 1, textBatch: 1 });
    return new Map(g.tensors.filter((t) => (t.role === 'param' || t.role === 'buffer') && !t.lora).map((t) => [t.name, { shape: [...t.shape], buffer: t.role === 'buffer' }]));
  } catch {
    return null; // sizes read off a foreign file can be inconsistent; then it simply does not fit
  }
}

function compareTensors(file: ReadonlyMap<string, readonly number[]>, model: ReadonlyMap<string, ModelTensor>): ModelComparison {
  const out: ModelComparison = { matched: 0, expected: model.size, missing: [], optionalMissing: [], wrongShape: [], unexpected: [], parameters: 0, buffers: 0 };
  for (const [name, { shape, buffer }] of model) {
    const got = file.get(name);
    if (!got) (EMA_ONLY_BUFFERS.includes(name) ? out.optionalMissing : out.missing).push(name);
    else if (!same(got, shape)) out.wrongShape.push({ name, file: [...got], model: [...shape] });
    else {
      out.matched++;
      out[buffer ? 'buffers' : 'parameters'] += shape.reduce((a, d) => a * d, 1);
    }
  }
  for (const name of file.keys()) if (!model.has(name)) out.unexpected.push(name);
  return out;
}

const layerCount = (names: readonly string[], re: RegExp): number | undefined => {
  const idx = names.map((n) => re.exec(n)).filter((m) => m !== null).map((m) => Number(m![1]));
  return idx.length ? Math.max(...idx) + 1 : undefined;
};
const intSqrt = (n: number | undefined): number | undefined => {
  if (n === undefined) return undefined;
  const r = Math.round(Math.sqrt(n));
  return r * r === n ? r : undefined;
};
const exactDiv = (a: number | undefined, b: number | undefined): number | undefined =>
  a !== undefined && b !== undefined && b > 0 && a % b === 0 ? a / b : undefined;

/** Sizes the shapes determine. Not in the weights at all: image frames (the latent averages over
 *  depth), text heads (a split of hidden) and max_length (a run-time choice). */
export function readSizes(file: ReadonlyMap<string, readonly number[]>): { image: Partial<ImageEncoderSizes>; text: Partial<TextEncoderSizes>; latentDim?: number } {
  const s = (name: string, axis: number): number | undefined => file.get(name)?.[axis];
  const names = [...file.keys()];
  const v = 'visual_transformer';
  const dim = s(`${v}.to_patch_emb.2.weight`, 0);
  const patchArea = s(`${v}.to_pixels_first_frame.0.weight`, 0);
  const patchSize = intSqrt(patchArea);
  const tokens = exactDiv(s('to_visual_latent.weight', 1), dim);
  const side = intSqrt(tokens);
  const image: Partial<ImageEncoderSizes> = {
    dim,
    spatialDepth: layerCount(names, /^visual_transformer\.enc_spatial_transformer\.layers\.(\d+)\./),
    temporalDepth: layerCount(names, /^visual_transformer\.enc_temporal_transformer\.layers\.(\d+)\./),
    heads: s(`${v}.spatial_rel_pos_bias.net.2.weight`, 0),
    dimHead: s(`${v}.enc_spatial_transformer.layers.0.1.q_scale`, 0),
    imageSize: side !== undefined && patchSize !== undefined ? side * patchSize : undefined,
    patchSize,
    temporalPatchSize: exactDiv(s(`${v}.to_patch_emb.2.weight`, 1), patchArea),
    codebookSize: s(`${v}.vq._codebook.embed`, 1),
    ffInner: s(`${v}.enc_spatial_transformer.layers.0.3.4.weight`, 1),
  };
  const t = 'text_transformer';
  const text: Partial<TextEncoderSizes> = {
    vocabSize: s(`${t}.embeddings.word_embeddings.weight`, 0),
    hidden: s(`${t}.embeddings.word_embeddings.weight`, 1),
    layers: layerCount(names, /^text_transformer\.encoder\.layer\.(\d+)\./),
    intermediate: s(`${t}.encoder.layer.0.intermediate.dense.weight`, 0),
    maxPositions: s(`${t}.embeddings.position_embeddings.weight`, 0),
    typeVocabSize: s(`${t}.embeddings.token_type_embeddings.weight`, 0),
  };
  const drop = <T extends object>(o: T): T => Object.fromEntries(Object.entries(o).filter(([, x]) => x !== undefined)) as T;
  const latentDim = s('to_visual_latent.weight', 0);
  return { image: drop(image), text: drop(text), ...(latentDim !== undefined ? { latentDim } : {}) };
}

const snake = (k: string): string => k.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);

/** The file against every preset, best first (fits as is, then fits with overrides, then most tensors matched). */
export function matchArchitecture(file: ReadonlyMap<string, readonly number[]>): ArchitectureMatch {
  const read = readSizes(file);
  const all: PresetMatch[] = [];
  for (const preset of Object.keys(PRESETS) as Architecture[]) {
    const p = PRESETS[preset];
    const asPreset = compareTensors(file, modelTensors(preset, p.image, p.text, p.latentDim)!);
    const sizeDiffs: SizeDiff[] = [];
    for (const [k, x] of Object.entries(read.image)) if (x !== (p.image as unknown as Record<string, number>)[k]) sizeDiffs.push({ field: `image.${snake(k)}`, file: x as number, preset: (p.image as unknown as Record<string, number>)[k]! });
    for (const [k, x] of Object.entries(read.text)) if (x !== (p.text as unknown as Record<string, number>)[k]) sizeDiffs.push({ field: `text.${snake(k)}`, file: x as number, preset: (p.text as unknown as Record<string, number>)[k]! });
    if (read.latentDim !== undefined && read.latentDim !== p.latentDim) sizeDiffs.push({ field: 'latent', file: read.latentDim, preset: p.latentDim });
    let atFileSizes: ModelComparison | null = null;
    if (sizeDiffs.length > 0) {
      const image = { ...p.image, ...read.image }, text = { ...p.text, ...read.text };
      // Frames are not in the weights either: keep the preset's number of depth tokens.
      image.frames = image.temporalPatchSize * Math.max(1, Math.round(p.image.frames / p.image.temporalPatchSize));
      // BERT's heads are not in the weights: keep the preset's when they still divide hidden.
      if (text.hidden % text.heads !== 0) text.heads = 1;
      const m = modelTensors(preset, image, text, read.latentDim ?? p.latentDim);
      atFileSizes = m ? compareTensors(file, m) : null;
    }
    const blocks: string[] = [];
    const image = sizeDiffs.filter((d) => d.field.startsWith('image.')).map((d) => `${d.field.slice(6)} ${d.file}`);
    const text = sizeDiffs.filter((d) => d.field.startsWith('text.')).map((d) => `${d.field.slice(5)} ${d.file}`);
    if (image.length) blocks.push(`image { ${image.join('  ')} }`);
    if (text.length) blocks.push(`text { ${text.join('  ')} }`);
    const latent = sizeDiffs.find((d) => d.field === 'latent');
    if (latent) blocks.push(`latent ${latent.file}`);
    const specOverride = atFileSizes && fits(atFileSizes) ? `model ${preset} { ${blocks.join('  ')} }` : null;
    all.push({ preset, asPreset, sizeDiffs, atFileSizes, specOverride });
  }
  const rank = (m: PresetMatch): number[] => [fits(m.asPreset) ? 0 : 1, m.specOverride ? 0 : 1, -Math.max(m.asPreset.matched, m.atFileSizes?.matched ?? 0), m.sizeDiffs.length];
  all.sort((a, b) => { const ra = rank(a), rb = rank(b); for (let i = 0; i < ra.length; i++) if (ra[i] !== rb[i]) return ra[i]! - rb[i]!; return 0; });
  const best = all[0]!;
  return { kind: fits(best.asPreset) ? 'preset' : best.specOverride ? 'sizes' : 'none', best, all };
}
