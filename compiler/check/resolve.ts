// One experiment variant's entries -> ResolvedExperiment: every field typed and range-checked,
// every default filled in (architecture presets for sizes and preprocessing, the documented
// defaults in spec/language.md for the rest), provenance recorded for every leaf.
import type { Entry, ExperimentDecl, Value } from '../../grammar/ast.js';
import { diag } from '../../base/diagnostics/catalog.js';
import { PRESETS } from '../models/presets.js';
import {
  CT_RATE_PATHOLOGIES, EXPERIMENT_IR_VERSION, HU_SOURCES, SYNTHETIC_SITES, isSyntheticSite, type SyntheticSite, type Architecture, type BackendName, type DataSpec, type EvaluateSpec,
  type ImageEncoderSizes, type LoraSpec, type LoraTarget, type Metric, type ModelSpec, type OutputSpec, type Preprocess,
  type PromptSpec, type ResolvedExperiment, type TextEncoderSizes, type TrainSpec,
} from '../ir/experiment.js';
import { Reader } from './values.js';
import { FIELDS, REPEATABLE, SYNTHETIC_ONLY } from '../../grammar/fields.js';
import { checkPattern } from './patterns.js';
import { didYouMean } from './suggest.js';

const VOCABFINE = { use: 'pair_mse' as const, why: 'CT-CLIP\'s VocabFine loss (softmax over the present/absent pair, MSE to the label) is `pair_mse`' };
const LOSS_ALIASES = {
  pair_softmax: VOCABFINE, softmax: VOCABFINE, vocabfine: VOCABFINE,
  cross_entropy: { use: 'pair_ce' as const, why: 'cross-entropy over the present/absent pair is `pair_ce`' },
  infonce: { use: 'clip' as const, why: 'the symmetric InfoNCE loss is `clip`' },
};

export const DEFAULT_POSITIVE = '{pathology} is present.';
export const DEFAULT_NEGATIVE = '{pathology} is not present.';
const METRICS: readonly Metric[] = ['auroc', 'accuracy', 'macro_f1', 'weighted_f1', 'precision', 'recall', 'specificity'];

const IMAGE_KEYS: Record<string, Exclude<keyof ImageEncoderSizes, 'quantize'>> = {
  dim: 'dim', spatial_depth: 'spatialDepth', temporal_depth: 'temporalDepth', heads: 'heads', dim_head: 'dimHead',
  image_size: 'imageSize', frames: 'frames', patch_size: 'patchSize', temporal_patch_size: 'temporalPatchSize',
  codebook_size: 'codebookSize', ff_inner: 'ffInner',
};
const TEXT_KEYS: Record<string, Exclude<keyof TextEncoderSizes, 'vocab'>> = {
  vocab_size: 'vocabSize', hidden: 'hidden', layers: 'layers', heads: 'heads', intermediate: 'intermediate',
  max_positions: 'maxPositions', type_vocab_size: 'typeVocabSize', max_length: 'maxLength',
};

/** The field rules of the block at `path` (grammar/fields.ts), optionally without some fields. */
const rules = (path: string, without: readonly string[] = []) => Object.fromEntries(FIELDS[path]!.filter((k) => !without.includes(k))
  .map((k) => [k, { repeat: REPEATABLE[path]?.includes(k) ?? false }])) as Record<string, { repeat?: boolean }>;

const isNone = (v: Value | undefined): boolean => v?.kind === 'ident' && v.name === 'none';

export interface VariantInput {
  decl: ExperimentDecl;
  entries: Entry[];
  name: string;
  variant: ResolvedExperiment['variant'];
  sources: string[];
}

/** Resolves one variant; the IR is returned even when errors were reported (callers drop it then). */
export function resolveExperiment(r: Reader, input: VariantInput): ResolvedExperiment {
  const { decl } = input;
  const f = r.fields(input.entries, rules(''), `experiment \`${decl.name}\``);
  const get = (k: string) => f.get(k)?.[0];

  const seedE = get('seed');
  const seed = (seedE && r.int(seedE, '/seed', { min: 0, max: 2 ** 32 - 1 })) ?? 0;
  const backendE = get('backend');
  const backend: BackendName = (backendE && r.enumOf(backendE, r.single(backendE, 'a backend'), '/backend', ['auto', 'cpu', 'webgpu', 'cuda', 'reference'] as const)) ?? 'auto';

  const modelE = get('model');
  if (!modelE && !r.parentChecked) r.missing(decl.namePos, decl.block, 'model', `experiment \`${decl.name}\``, 'model ct_clip { ... }');
  const model = resolveModel(r, modelE);

  const dataE = get('data');
  if (!dataE && !r.parentChecked) r.missing(decl.namePos, decl.block, 'data', `experiment \`${decl.name}\``, 'data ct_rate { root "data/ct-rate" }');
  const data = resolveData(r, dataE, model, input.name);

  const loraE = get('lora');
  const lora = loraE ? resolveLora(r, loraE, model) : null;
  const prompts = resolvePrompts(r, get('prompts'));
  const trainE = get('train');
  const train = trainE ? resolveTrain(r, trainE) : null;
  const evaluate = resolveEvaluate(r, get('evaluate'));
  const outputs = resolveOutputs(r, get('outputs'), input.name, lora !== null);

  if (train && !lora && !train.trainBase && trainE && !isNone(trainE.args[0])) {
    r.diags.push(diag('E2045', 'training has nothing to train', r.at(trainE.keyPos, 'this trains neither LoRA nor the base model', trainE),
      { help: 'add a `lora { ... }` block, set `train_base true`, or remove `train` for an evaluation-only run' }));
  }
  const adapterE = get('outputs')?.block?.entries.find((e) => e.key === 'adapter');
  if (outputs.adapter && !lora && adapterE) {
    r.diags.push(diag('E2045', 'an adapter is requested but the experiment has no LoRA', r.at(adapterE, 'adapter true', adapterE),
      { help: 'add a `lora { ... }` block or write `adapter false`' }));
  }

  return {
    irVersion: EXPERIMENT_IR_VERSION, name: input.name, variant: input.variant, seed, backend, model, lora, data, prompts,
    train, evaluate, outputs, sources: input.sources, provenance: r.prov,
  };
}

function resolveModel(r: Reader, e: Entry | undefined): ModelSpec {
  let arch: Architecture = 'ct_clip';
  if (e) arch = r.enumOf(e, e.args[0] ?? undefined, '/model/architecture', ['ct_clip', 'ct_clip_tiny'] as const) ?? 'ct_clip';
  if (e && e.args.length === 0) r.diags.push(diag('E2002', '`model` needs an architecture', r.at(e.keyPos, 'architecture missing', e), { help: 'write `model ct_clip { ... }` or `model ct_clip_tiny { ... }`' }));
  if (e && e.args.length > 1) r.diags.push(diag('E2004', '`model` takes one architecture name', r.at(e.args[1]!, 'unexpected', e), { help: 'write `model ct_clip { ... }`' }));
  const preset = PRESETS[arch];
  const image: ImageEncoderSizes = { ...preset.image };
  const text = { ...preset.text };
  let latentDim = preset.latentDim;
  let weights: string | null = null;
  const f = r.fields(e?.block?.entries ?? [], rules('model'), '`model`');
  const w = f.get('weights')?.[0];
  if (w) weights = isNone(w.args[0]) ? (r.note('/model/weights', w.args[0]!, w), null) : r.str(w, '/model/weights') ?? null;
  const v = f.get('vocab')?.[0];
  if (v) text.vocab = isNone(v.args[0]) ? (r.note('/model/text/vocab', v.args[0]!, v), null) : r.str(v, '/model/text/vocab') ?? null;
  const l = f.get('latent')?.[0];
  if (l) latentDim = r.int(l, '/model/latentDim', { min: 1 }) ?? latentDim;
  const img = f.get('image')?.[0];
  if (img) {
    r.onlyBlock(img);
    const g = r.fields(img.block?.entries ?? [], rules('model.image'), '`model image`');
    for (const [k, es] of g) {
      if (k === 'quantize') { image.quantize = r.bool(es[0]!, '/model/image/quantize') ?? image.quantize; continue; }
      const key = IMAGE_KEYS[k]!;
      image[key] = r.int(es[0]!, `/model/image/${key}`, { min: 1 }) ?? image[key];
    }
  }
  const txt = f.get('text')?.[0];
  if (txt) {
    r.onlyBlock(txt);
    const g = r.fields(txt.block?.entries ?? [], rules('model.text'), '`model text`');
    for (const [k, es] of g) { const key = TEXT_KEYS[k]!; text[key] = r.int(es[0]!, `/model/text/${key}`, { min: 1 }) ?? text[key]; }
    if (text.heads > 0 && text.hidden % text.heads !== 0) {
      const at = g.get('heads')?.[0] ?? g.get('hidden')?.[0] ?? txt;
      r.diags.push(diag('E2044', `text heads (${text.heads}) do not divide hidden size (${text.hidden})`, r.at(at, 'here', at), { help: 'choose heads so that hidden / heads is an integer' }));
    }
    if (text.maxLength > text.maxPositions) {
      const at = g.get('max_length')?.[0] ?? txt;
      r.diags.push(diag('E2006', `text max_length (${text.maxLength}) exceeds max_positions (${text.maxPositions})`, r.at(at, 'too long', at), { help: `use max_length <= ${text.maxPositions}` }));
    }
  }
  for (const [dimKey, patchKey, label] of [['frames', 'temporalPatchSize', 'frames'], ['imageSize', 'patchSize', 'image_size']] as const) {
    if (image[dimKey] % image[patchKey] !== 0) {
      const at = img?.block?.entries.find((x) => x.key === label || x.key === (patchKey === 'patchSize' ? 'patch_size' : 'temporal_patch_size')) ?? img ?? e;
      if (at) r.diags.push(diag('E2041', `image ${label} (${image[dimKey]}) is not divisible by ${patchKey === 'patchSize' ? 'patch_size' : 'temporal_patch_size'} (${image[patchKey]})`,
        r.at(at, 'here', at), { help: 'the volume is cut into whole patches; choose sizes that divide evenly' }));
    }
  }
  return { architecture: arch, weights, image, text, latentDim };
}

function resolveData(r: Reader, e: Entry | undefined, model: ModelSpec, name: string): DataSpec {
  const preset = PRESETS[model.architecture].preprocess;
  const kind = e ? r.enumOf(e, e.args[0], '/data/source/kind', ['ct_rate', 'synthetic'] as const) : undefined;
  r.onlyBlock(e, 1, 'data ct_rate { ... }');
  if (e && e.args.length === 0) r.diags.push(diag('E2002', '`data` needs a source', r.at(e.keyPos, 'source missing', e), { help: 'write `data ct_rate { root "..." }` or `data synthetic { root "..." }`' }));
  const f = r.fields(e?.block?.entries ?? [], rules('data', kind === 'synthetic' ? [] : SYNTHETIC_ONLY), kind ? `\`data ${kind}\`` : '`data`');
  const get = (k: string) => f.get(k)?.[0];
  const rootE = get('root');
  if (e && kind && !rootE) r.missing(e.keyPos, e, 'root', `\`data ${kind}\``, 'root "data/ct-rate"');
  const root = (rootE && r.str(rootE, '/data/source/root')) ?? (kind === 'synthetic' ? `.cache/synth/${name}` : 'data/ct-rate');
  let source: DataSpec['source'];
  if (kind === 'synthetic') {
    const volumesE = get('volumes'), seedE = get('seed'), siteE = get('site'), shapeE = get('shape');
    const volumes = (volumesE && r.int(volumesE, '/data/source/volumes', { min: 2 })) ?? 48;
    const seed = (seedE && r.int(seedE, '/data/source/seed', { min: 0, max: 2 ** 32 - 1 })) ?? 0;
    let site: SyntheticSite = 'source';
    if (siteE) {
      const s = r.str(siteE, '/data/source/site');
      if (s !== undefined && !isSyntheticSite(s)) {
        const v = siteE.args[0]!;
        const guess = didYouMean(s, [...SYNTHETIC_SITES]);
        r.diags.push(diag('E2005', `unknown acquisition site \`${s}\``, r.at(v, `expected one of ${SYNTHETIC_SITES.map((x) => `"${x}"`).join(', ')}`, siteE),
          guess ? { help: `did you mean "${guess}"?`, fix: r.replaceFix(v, siteE, JSON.stringify(guess)) } : { help: `sites: ${SYNTHETIC_SITES.join(', ')}` }));
      } else if (s !== undefined) site = s;
    }
    const shape = (shapeE && r.numList(shapeE, r.single(shapeE, 'a list [D, H, W] voxels'), '/data/source/shape', { n: 3, int: true, min: 1, unit: 'voxels' })) ?? [40, 48, 48];
    source = { kind: 'synthetic', root, volumes, seed, site, shape: shape as [number, number, number] };
  } else source = { kind: 'ct_rate', root };

  const trainE = get('train'), evalE = get('eval'), limitE = get('limit'), cacheE = get('cache');
  const trainSplit = (trainE && r.str(trainE, '/data/trainSplit')) ?? 'train';
  const evalSplit = (evalE && r.str(evalE, '/data/evalSplit')) ?? 'valid';
  let limit: number | null = null;
  if (limitE) limit = isNone(limitE.args[0]) ? (r.note('/data/limit', limitE.args[0]!, limitE), null) : r.int(limitE, '/data/limit', { min: 1 }) ?? null;
  const cacheDir = (cacheE && r.str(cacheE, '/data/cacheDir')) ?? '.cache/preprocess';
  const preprocess = resolvePreprocess(r, get('preprocess'), model, preset);
  return { source, trainSplit, evalSplit, limit, preprocess, cacheDir };
}

function resolvePreprocess(r: Reader, e: Entry | undefined, model: ModelSpec, preset: Preprocess): Preprocess {
  r.onlyBlock(e);
  const f = r.fields(e?.block?.entries ?? [], rules('data.preprocess'), '`preprocess`');
  const get = (k: string) => f.get(k)?.[0];
  const p: Preprocess = { ...preset, windowHU: [...preset.windowHU], spacingMm: [...preset.spacingMm], size: [...preset.size] };
  const win = get('window');
  if (win) {
    const w = r.numList(win, r.single(win, '[lo, hi] HU'), '/data/preprocess/windowHU', { n: 2, unit: 'HU' });
    if (w && !(w[0]! < w[1]!)) {
      r.diags.push(diag('E2042', `HU window [${w[0]}, ${w[1]}] is empty`, r.at(win.args[0]!, 'low must be below high', win),
        { help: 'write the window as [lo, hi] with lo < hi, e.g. [-1000, 1000] HU' }));
    } else if (w) p.windowHU = w as [number, number];
  }
  const sp = get('spacing');
  if (sp) p.spacingMm = (r.numList(sp, r.single(sp, '[z, y, x] mm'), '/data/preprocess/spacingMm', { n: 3, gt: 0, unit: 'mm' }) ?? p.spacingMm) as Preprocess['spacingMm'];
  const want: [number, number, number] = [model.image.frames, model.image.imageSize, model.image.imageSize];
  const sz = get('size');
  if (sz) {
    const v = r.single(sz, '[D, H, W] voxels');
    const s = r.numList(sz, v, '/data/preprocess/size', { n: 3, int: true, min: 1, unit: 'voxels' });
    if (s && s.some((x, i) => x !== want[i])) {
      const text = `[${want.join(', ')}] voxels`;
      r.diags.push(diag('E2040', `preprocess size [${s.join(', ')}] does not match the model input [${want.join(', ')}]`, r.at(v!, `the model takes (frames, image_size, image_size) = (${want.join(', ')})`, sz),
        { help: 'the volume must be cut to exactly the model input; change the size or the model sizes', fix: r.replaceFix(v!, sz, text) }));
    } else if (s) p.size = s as Preprocess['size'];
  } else p.size = want;
  const sc = get('scale');
  if (sc) p.scale = r.number(sc, '/data/preprocess/scale', { gt: 0 }) ?? p.scale;
  const pad = get('pad');
  if (pad) p.padValue = r.number(pad, '/data/preprocess/padValue') ?? p.padValue;
  const hu = get('hu');
  if (hu) p.hu = r.enumOf(hu, r.single(hu, 'where HU come from'), '/data/preprocess/hu', HU_SOURCES) ?? p.hu;
  return p;
}

function resolveLora(r: Reader, e: Entry, model: ModelSpec): LoraSpec | null {
  if (isNone(e.args[0])) { r.note('/lora', e.args[0]!, e); return null; }
  if (e.args.length) r.wrongType(e.args[0]!, 'a block `{ ... }` or `none`', e);
  const f = r.fields(e.block?.entries ?? [], rules('lora'), '`lora`');
  const get = (k: string) => f.get(k)?.[0];
  const rankE = get('rank'), alphaE = get('alpha');
  const rank = (rankE && r.int(rankE, '/lora/rank', { min: 1 })) ?? 8;
  const alpha = (alphaE && r.number(alphaE, '/lora/alpha', { gt: 0 })) ?? rank;
  const dE = get('dropout');
  const dropout = (dE && r.number(dE, '/lora/dropout', { min: 0, lt: 1 })) ?? 0;
  const rsE = get('rslora');
  const rslora = (rsE && r.bool(rsE, '/lora/rslora')) ?? false;
  const initE = get('init');
  const init = (initE && r.enumOf(initE, r.single(initE, '`kaiming` or `gaussian`'), '/lora/init', ['kaiming', 'gaussian'] as const)) ?? 'kaiming';
  const targets: LoraTarget[] = [];
  const targetEs = f.get('target') ?? [];
  if (!targetEs.length) r.missing(e.keyPos, e, 'target', '`lora`', 'target text "encoder.layer.*.attention.self.{query,key,value}"');
  for (const t of targetEs) {
    const i = targets.length, ptr = `/lora/targets/${i}`;
    const encoder = r.enumOf(t, t.args[0], `${ptr}/encoder`, ['text', 'image'] as const);
    if (t.args.length === 0) { r.diags.push(diag('E2002', '`target` needs an encoder and a pattern', r.at(t.keyPos, 'incomplete', t), { help: 'write `target text "encoder.layer.*.attention.self.query"`' })); continue; }
    let match: 'glob' | 'regex' = 'glob';
    let patV: Value | undefined = t.args[1];
    if (t.args[1]?.kind === 'ident' && (t.args[1].name === 'regex' || t.args[1].name === 'glob')) { match = t.args[1].name; r.note(`${ptr}/match`, t.args[1], t); patV = t.args[2]; }
    const extra = t.args[match === 'glob' && t.args[1]?.kind !== 'ident' ? 2 : 3];
    if (extra) r.diags.push(diag('E2004', '`target` takes an encoder, an optional `glob`/`regex`, and one pattern', r.at(extra, 'unexpected', t), { help: 'write one `target` line per pattern, or use `{a,b}` alternation' }));
    if (!patV) { r.diags.push(diag('E2002', '`target` needs a pattern', r.at(t, 'pattern missing', t), { help: `write \`target ${encoder ?? 'text'} "module.path.*"\`` })); continue; }
    const pattern = r.str(t, `${ptr}/pattern`, patV);
    if (pattern !== undefined) {
      const problem = checkPattern(pattern, match);
      if (problem) r.diags.push(diag('E2043', `invalid ${match} pattern: ${problem}`, r.at(patV, problem, t), { help: match === 'glob' ? 'globs are dotted paths with `*`, `**` (whole segments) and `{a,b}` alternation' : 'regexes use ECMAScript syntax and must match the whole module path' }));
    }
    const g = r.fields(t.block?.entries ?? [], rules('lora.target'), '`target`');
    const tr = g.get('rank')?.[0], ta = g.get('alpha')?.[0];
    const trank = (tr && r.int(tr, `${ptr}/rank`, { min: 1 })) ?? rank;
    const talpha = (ta && r.number(ta, `${ptr}/alpha`, { gt: 0 })) ?? alpha;
    if (!tr && rankE?.args[0] && r.prov['/lora/rank']) r.prov[`${ptr}/rank`] = r.prov['/lora/rank'];
    if (!ta && alphaE?.args[0] && r.prov['/lora/alpha']) r.prov[`${ptr}/alpha`] = r.prov['/lora/alpha'];
    if (encoder && pattern !== undefined) targets.push({ encoder, match, pattern, rank: trank, alpha: talpha });
  }
  const layers: LoraSpec['layers'] = { text: null, image: null };
  for (const le of f.get('layers') ?? []) {
    const enc = r.enumOf(le, le.args[0], null, ['text', 'image'] as const);
    if (!enc) continue;
    const v = le.args[1];
    if (isNone(v) || (v?.kind === 'ident' && v.name === 'all')) { r.note(`/lora/layers/${enc}`, v!, le); continue; }
    const depth = enc === 'text' ? model.text.layers : model.image.spatialDepth + model.image.temporalDepth;
    const xs = r.numList(le, v ?? (r.diags.push(diag('E2002', '`layers` needs a list of layer indices', r.at(le, 'list missing', le), { help: 'write `layers text [0, 1]` or `layers text all`' })), undefined), `/lora/layers/${enc}`, { int: true, min: 0, max: depth - 1, help: `the ${enc} encoder has ${depth} layers: 0..${depth - 1}` });
    if (xs) layers[enc] = [...new Set(xs)].sort((a, b) => a - b);
  }
  const mts = get('modules_to_save');
  const modulesToSave: string[] = [];
  if (mts) {
    const v = r.deref(r.single(mts, '["module.path", ...]') ?? { kind: 'error', start: 0, end: 0 });
    if (v.kind === 'list') {
      v.items.forEach((it, i) => {
        const s = r.str(mts, `/lora/modulesToSave/${i}`, it);
        if (s === undefined) return;
        const problem = checkPattern(s, 'glob');
        if (problem) r.diags.push(diag('E2043', `invalid glob pattern: ${problem}`, r.at(it, problem, mts), { help: 'globs are dotted paths with `*`, `**` and `{a,b}`' }));
        else modulesToSave.push(s);
      });
      r.note('/lora/modulesToSave', v, mts);
    } else r.wrongType(v, 'a list of module patterns', mts);
  }
  return { targets, dropout, rslora, init, layers, modulesToSave };
}

function resolvePrompts(r: Reader, e: Entry | undefined): PromptSpec {
  r.onlyBlock(e);
  const f = r.fields(e?.block?.entries ?? [], rules('prompts'), '`prompts`');
  const get = (k: string) => f.get(k)?.[0];
  const template = (k: 'positive' | 'negative', dflt: string): string => {
    const te = get(k);
    if (!te) return dflt;
    const s = r.str(te, `/prompts/${k}`);
    if (s === undefined) return dflt;
    const n = s.split('{pathology}').length - 1;
    if (n !== 1) {
      r.diags.push(diag('E2030', `${k} template ${n === 0 ? 'does not contain `{pathology}`' : `contains \`{pathology}\` ${n} times`}`, r.at(te.args[0]!, 'must contain `{pathology}` exactly once', te),
        { help: `e.g. \`${k} ${JSON.stringify(k === 'positive' ? DEFAULT_POSITIVE : DEFAULT_NEGATIVE)}\`` }));
      return dflt;
    }
    return s;
  };
  const positive = template('positive', DEFAULT_POSITIVE);
  const negative = template('negative', DEFAULT_NEGATIVE);
  const declared = new Set<string>();
  const decl = get('declare');
  if (decl) {
    const v = r.deref(r.single(decl, '["Name", ...]') ?? { kind: 'error', start: 0, end: 0 });
    if (v.kind === 'list') for (const it of v.items) { if (it.kind === 'string') declared.add(it.value); else r.wrongType(it, 'a string', decl); }
    else r.wrongType(v, 'a list of pathology names', decl);
  }
  const known = [...CT_RATE_PATHOLOGIES, ...declared];
  let pathologies: string[] = [...CT_RATE_PATHOLOGIES];
  const pe = get('pathologies');
  if (pe) {
    const v = r.deref(r.single(pe, '`ct_rate.all` or a list of names') ?? { kind: 'error', start: 0, end: 0 });
    if (v.kind === 'ident' && v.name === 'ct_rate.all') r.note('/prompts/pathologies', v, pe);
    else if (v.kind === 'ident' && knownAs(v.name, known)) {
      const quoted = `[${JSON.stringify(knownAs(v.name, known))}]`;
      r.diags.push(diag('E2004', `\`pathologies\` takes a list of names in quotes, found name \`${v.name}\``, r.at(v, `write ${quoted}`, pe),
        { help: 'put each name in quotes, e.g. `pathologies ["Lung nodule"]`', fix: r.replaceFix(v, pe, quoted) }));
    } else if (v.kind === 'ident') r.unknownName(v, '`ct_rate.all` or a list of names', pe);
    else if (v.kind === 'list') {
      const out: string[] = [];
      const firstAt = new Map<string, Value>();
      v.items.forEach((it) => {
        if (it.kind === 'ident') { bareName(r, it, pe, known); return; }
        if (it.kind !== 'string') { r.wrongType(it, 'a pathology name in quotes', pe); return; }
        if (!known.includes(it.value)) {
          const guess = didYouMean(it.value, known);
          r.diags.push(diag('E2031', `unknown pathology "${it.value}"`, r.at(it, guess ? `did you mean "${guess}"?` : 'not a CT-RATE label', pe),
            guess ? { help: 'pathology names are case-sensitive CT-RATE labels, or names listed in `declare [...]`', fix: r.replaceFix(it, pe, JSON.stringify(guess)) } : { help: 'use a CT-RATE label, or list the name in `declare [...]`' }));
          return;
        }
        const prev = firstAt.get(it.value);
        if (prev) { r.diags.push(diag('E2032', `pathology "${it.value}" is listed twice`, r.at(it, 'listed again here', pe), { secondary: [r.at(prev, 'first listed here', pe)], help: 'remove the duplicate' })); return; }
        firstAt.set(it.value, it);
        r.note(`/prompts/pathologies/${out.length}`, it, pe);
        out.push(it.value);
      });
      if (v.items.length === 0) r.diags.push(diag('E2009', '`pathologies` is empty', r.at(v, 'no pathologies', pe), { help: 'list at least one, or write `pathologies ct_rate.all`' }));
      r.note('/prompts/pathologies', v, pe);
      pathologies = out;
    } else r.wrongType(v, '`ct_rate.all` or a list of names', pe);
  }
  return { positive, negative, pathologies };
}

const knownAs = (bare: string, known: readonly string[]): string | undefined => {
  const norm = (s: string) => s.replace(/_/g, ' ').toLowerCase();
  return known.find((k) => norm(k) === norm(bare));
};

/** `pathologies [Emphysema]`: names are strings. The fix quotes the name, as the known label it
 *  spells when `_` stands for a space and case differs (`Lung_nodule` -> "Lung nodule"). */
function bareName(r: Reader, it: Extract<Value, { kind: 'ident' }>, pe: Entry, known: readonly string[]): void {
  if (r.deref(it) !== it) { r.wrongType(r.deref(it), 'a pathology name in quotes', pe); return; }
  const name = knownAs(it.name, known) ?? it.name;
  const quoted = JSON.stringify(name);
  r.diags.push(diag('E2004', `pathology names are written in quotes, found name \`${it.name}\``, r.at(it, `write ${quoted}`, pe),
    { help: 'put each name in quotes, e.g. `pathologies ["Lung nodule"]`', fix: r.replaceFix(it, pe, quoted) }));
}

/** A duration field, `N steps` (an integer) or `X epochs`: [steps, epochs], the other 0; written
 *  at `${ptr}Steps` or `${ptr}Epochs`. Epochs become steps only at run time (runtime/run/train.ts). */
function duration(r: Reader, e: Entry, ptr: string): [number, number] {
  const what = 'a duration: `N steps` or `X epochs`';
  const v = r.single(e, what);
  const d = v && r.deref(v);
  const units = '`steps` or `epochs`';
  if (d?.kind === 'number' && d.unit?.name === 'epochs') return [0, r.num(e, v, `${ptr}Epochs`, { min: 0, unit: 'epochs', units, what }) ?? 0];
  return [r.num(e, v, `${ptr}Steps`, { int: true, min: 0, unit: 'steps', units, what }) ?? 0, 0];
}

function resolveTrain(r: Reader, e: Entry): TrainSpec | null {
  if (isNone(e.args[0])) { r.note('/train', e.args[0]!, e); return null; }
  if (e.args.length) r.wrongType(e.args[0]!, 'a block `{ ... }` or `none`', e);
  const f = r.fields(e.block?.entries ?? [], rules('train'), '`train`');
  const get = (k: string) => f.get(k)?.[0];
  const lossE = get('loss');
  const loss = (lossE && r.enumOf(lossE, r.single(lossE, 'a loss'), '/train/loss', ['pair_mse', 'pair_ce', 'clip'] as const, LOSS_ALIASES)) ?? 'pair_mse';
  const optimizer: TrainSpec['optimizer'] = { kind: 'adamw', lr: 1e-4, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.01 };
  const oe = get('optimizer');
  if (oe) {
    r.enumOf(oe, oe.args[0] ?? (r.diags.push(diag('E2002', '`optimizer` needs a kind', r.at(oe.keyPos, 'kind missing', oe), { help: 'write `optimizer adamw { lr 1e-4 }`' })), undefined), '/train/optimizer/kind', ['adamw'] as const);
    r.onlyBlock(oe, 1, 'optimizer adamw { lr 1e-4 }');
    const g = r.fields(oe.block?.entries ?? [], rules('train.optimizer'), '`optimizer adamw`');
    const lr = g.get('lr')?.[0], betas = g.get('betas')?.[0], eps = g.get('eps')?.[0], wd = g.get('weight_decay')?.[0];
    if (lr) optimizer.lr = r.number(lr, '/train/optimizer/lr', { gt: 0 }) ?? optimizer.lr;
    if (betas) {
      const b = r.numList(betas, r.single(betas, '[beta1, beta2]'), '/train/optimizer/betas', { n: 2, min: 0, lt: 1 });
      if (b) {
        optimizer.beta1 = b[0]!; optimizer.beta2 = b[1]!;
        r.prov['/train/optimizer/beta1'] = r.prov['/train/optimizer/betas/0']!;
        r.prov['/train/optimizer/beta2'] = r.prov['/train/optimizer/betas/1']!;
      }
      for (const k of ['/train/optimizer/betas', '/train/optimizer/betas/0', '/train/optimizer/betas/1']) delete r.prov[k];
    }
    if (eps) optimizer.eps = r.number(eps, '/train/optimizer/eps', { gt: 0 }) ?? optimizer.eps;
    if (wd) optimizer.weightDecay = r.number(wd, '/train/optimizer/weightDecay', { min: 0 }) ?? optimizer.weightDecay;
  }
  const schedule: TrainSpec['schedule'] = { kind: 'constant', warmupSteps: 0, warmupEpochs: 0 };
  const se = get('schedule');
  if (se) {
    schedule.kind = r.enumOf(se, r.single(se, '`constant`, `cosine` or `linear`', true), '/train/schedule/kind', ['constant', 'cosine', 'linear'] as const) ?? 'constant';
    const g = r.fields(se.block?.entries ?? [], rules('train.schedule'), '`schedule`');
    const w = g.get('warmup')?.[0];
    if (w) [schedule.warmupSteps, schedule.warmupEpochs] = duration(r, w, '/train/schedule/warmup');
  }
  const ep = get('epochs');
  const epochs = (ep && r.int(ep, '/train/epochs', { min: 1 })) ?? 1;
  const be = get('batch');
  const batchSize = (be && r.int(be, '/train/batchSize', { min: 1 })) ?? 1;
  let gradClip: number | null = null;
  const gc = get('grad_clip');
  if (gc) gradClip = isNone(gc.args[0]) ? (r.note('/train/gradClip', gc.args[0]!, gc), null) : r.number(gc, '/train/gradClip', { gt: 0 }) ?? null;
  const pe = get('precision');
  const precision = (pe && r.enumOf(pe, r.single(pe, 'a precision'), '/train/precision', ['fp32', 'bf16', 'fp16'] as const)) ?? 'fp32';
  const tb = get('train_base');
  const trainBase = (tb && r.bool(tb, '/train/trainBase')) ?? false;
  const ae = get('accumulate');
  const accumulate = (ae && r.int(ae, '/train/accumulate', { min: 1 })) ?? 1;
  // The CLIP loss contrasts each volume with the other reports of its batch: accumulated
  // micro-batches see only their own negatives, so the step is not that of the larger batch.
  if (ae && accumulate > 1 && loss === 'clip') {
    r.diags.push(diag('W2061', `with \`loss clip\`, \`accumulate ${accumulate}\` is not a batch of ${accumulate * batchSize}: each micro-batch of ${batchSize} contrasts only its own ${batchSize} reports`,
      r.at(ae, 'micro-batches do not share negatives', ae), { help: `raise \`batch\` instead when the memory allows it, or keep the setting knowing the loss is an average of ${accumulate} smaller contrastive losses` }));
  }
  let checkpointEvery: number | null = null;
  const ce = get('checkpoint_every');
  if (ce) checkpointEvery = isNone(ce.args[0]) ? (r.note('/train/checkpointEvery', ce.args[0]!, ce), null) : r.int(ce, '/train/checkpointEvery', { min: 1 }) ?? null;
  let sentences: TrainSpec['sentences'] = null;
  const sentE = get('sentences');
  if (sentE) {
    r.onlyBlock(sentE, 0, 'sentences { rate 0.5  after 4 epochs }');
    const g = r.fields(sentE.block?.entries ?? [], rules('train.sentences'), '`sentences`');
    const rateE = g.get('rate')?.[0];
    const rate = (rateE && r.number(rateE, '/train/sentences/rate', { gt: 0, max: 1 })) ?? 0.5;
    const a = g.get('after')?.[0];
    const [afterSteps, afterEpochs] = a ? duration(r, a, '/train/sentences/after') : [0, 0];
    sentences = { rate, afterSteps, afterEpochs };
    // Only the CLIP loss trains on reports; the pair losses' texts are the prompts.
    if (loss !== 'clip') {
      r.diags.push(diag('E2045', `\`sentences\` samples report sentences, but \`loss ${loss}\` trains on the prompts, not on reports`,
        r.at(sentE.keyPos, 'needs `loss clip`', sentE), { help: 'use `loss clip` (contrastive pretraining on volume/report pairs), or remove `sentences`' }));
    }
  }
  let augment: TrainSpec['augment'] = null;
  const augE = get('augment');
  if (augE) {
    r.onlyBlock(augE, 0, 'augment { shift 2 voxels  z_coverage 0.7 }');
    const g = r.fields(augE.block?.entries ?? [], rules('train.augment'), '`augment`');
    const sh = g.get('shift')?.[0], zc = g.get('z_coverage')?.[0];
    const shiftVoxels = (sh && r.num(sh, r.single(sh, 'a shift: `N voxels`'), '/train/augment/shiftVoxels', { int: true, min: 0, max: 64, unit: 'voxels' })) ?? 0;
    const zCoverage = (zc && r.number(zc, '/train/augment/zCoverage', { gt: 0, max: 1 })) ?? 1;
    augment = { shiftVoxels, zCoverage };
  }
  return { loss, optimizer, schedule, epochs, batchSize, accumulate, gradClip, precision, trainBase, checkpointEvery, sentences, augment };
}

function resolveEvaluate(r: Reader, e: Entry | undefined): EvaluateSpec {
  r.onlyBlock(e);
  const f = r.fields(e?.block?.entries ?? [], rules('evaluate'), '`evaluate`');
  const get = (k: string) => f.get(k)?.[0];
  let metrics: Metric[] = ['auroc'];
  const me = get('metrics');
  if (me) {
    const v = r.deref(r.single(me, '[auroc, accuracy, ...]') ?? { kind: 'error', start: 0, end: 0 });
    if (v.kind === 'list') {
      const out: Metric[] = [];
      for (const it of v.items) {
        const m = r.enumOf(me, it, `/evaluate/metrics/${out.length}`, METRICS);
        if (m && out.includes(m)) { r.diags.push(diag('E2003', `metric \`${m}\` is listed twice`, r.at(it, 'listed again here', me), { help: 'remove the duplicate' })); delete r.prov[`/evaluate/metrics/${out.length}`]; }
        else if (m) out.push(m);
      }
      if (v.items.length === 0) r.diags.push(diag('E2009', '`metrics` is empty', r.at(v, 'no metrics', me), { help: 'list at least one, e.g. `metrics [auroc]`' }));
      r.note('/evaluate/metrics', v, me);
      metrics = out.length ? out : metrics;
    } else r.wrongType(v, `a list of metrics (${METRICS.join(', ')})`, me);
  }
  let threshold: EvaluateSpec['threshold'] = { kind: 'roc_corner' };
  const te = get('threshold');
  if (te) {
    const kind = r.enumOf(te, te.args[0], '/evaluate/threshold/kind', ['roc_corner', 'youden', 'fixed'] as const);
    if (kind === 'fixed') {
      const v = te.args[1];
      if (!v) r.diags.push(diag('E2002', '`threshold fixed` needs a value', r.at(te, 'value missing', te), { help: 'write `threshold fixed 0.5`' }));
      const x = r.num(te, v, '/evaluate/threshold/value', { min: 0, max: 1 });
      if (x !== undefined) threshold = { kind: 'fixed', value: x };
    } else if (kind) {
      if (te.args.length > 1) r.diags.push(diag('E2004', `\`threshold ${kind}\` takes no value`, r.at(te.args[1]!, 'unexpected', te), { help: 'only `threshold fixed` takes a value' }));
      threshold = { kind };
    } else if (te.args.length === 0) r.diags.push(diag('E2002', '`threshold` needs a method', r.at(te, 'method missing', te), { help: 'write `threshold roc_corner`, `youden` or `fixed 0.5`' }));
  }
  let bootstrap: EvaluateSpec['bootstrap'] = null;
  const bs = get('bootstrap');
  if (bs) {
    if (isNone(bs.args[0])) r.note('/evaluate/bootstrap', bs.args[0]!, bs);
    else {
      const samples = r.num(bs, r.single(bs, 'a sample count', true), '/evaluate/bootstrap/samples', { int: true, min: 1 }) ?? 1000;
      const g = r.fields(bs.block?.entries ?? [], rules('evaluate.bootstrap'), '`bootstrap`');
      const c = g.get('confidence')?.[0], s = g.get('seed')?.[0];
      const confidence = (c && r.number(c, '/evaluate/bootstrap/confidence', { gt: 0, lt: 1 })) ?? 0.95;
      const seed = (s && r.int(s, '/evaluate/bootstrap/seed', { min: 0, max: 2 ** 32 - 1 })) ?? 0;
      bootstrap = { samples, confidence, seed };
    }
  }
  const bl = get('baseline');
  const baseline = (bl && r.bool(bl, '/evaluate/baseline')) ?? false;
  return { metrics, threshold, bootstrap, baseline };
}

function resolveOutputs(r: Reader, e: Entry | undefined, name: string, hasLora: boolean): OutputSpec {
  r.onlyBlock(e);
  const f = r.fields(e?.block?.entries ?? [], rules('outputs'), '`outputs`');
  const get = (k: string) => f.get(k)?.[0];
  const d = get('dir'), a = get('adapter'), s = get('scores');
  return {
    dir: (d && r.str(d, '/outputs/dir')) ?? `runs/${name.replace(/[^A-Za-z0-9._-]+/g, '_')}`,
    adapter: (a && r.bool(a, '/outputs/adapter')) ?? hasLora,
    scores: (s && r.bool(s, '/outputs/scores')) ?? true,
  };
}
