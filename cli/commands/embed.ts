// `medctc embed FILE --volumes V... [--texts T... | --token-ids F] [--adapter DIR] --out OUT.safetensors`:
// the experiment's image latents, text latents and logits for the given inputs (runtime/run/embed.ts),
// written atomically as one safetensors file:
//   image_latents [volumes, latent] f32   l2-normalised, in --volumes order (absent without volumes)
//   text_latents  [texts, latent] f32     l2-normalised, in --texts / --token-ids row order (absent without texts)
//   logits        [texts, volumes] f32    exp(temperature) · text·imageᵀ, CT-CLIP's [texts, images] order
//   metadata: format "medctc-embed", experiment, volumes / texts (JSON lists), temperature,
//             logit_scale, adapter, backend, logits_order "texts,images".
import { dirname, relative, resolve } from 'node:path';
import type { CommandModule } from 'yargs';
import { compileExperiment } from '../../compiler/build.js';
import { diag } from '../../base/diagnostics/catalog.js';
import { DiagnosticError, type Diagnostic } from '../../base/diagnostics/types.js';
import { emittedLibrary } from '../../compiler/codegen/library.js';
import { spanFor } from '../../compiler/passes/provenance.js';
import { imageQuantizes, type BackendName, type ResolvedExperiment } from '../../compiler/ir/experiment.js';
import type { Plan } from '../../compiler/plan/types.js';
import type { KernelLibrary } from '../../compiler/codegen/library.js';
import { readAdapter } from '../../runtime/adapter/index.js';
import { tokenizerFor } from '../../runtime/data/tokenizer.js';
import { openDevice } from '../../runtime/device/index.js';
import { createExecutor } from '../../runtime/exec/index.js';
import { fromFloat32, writeSafetensors, type Tensor } from '../../runtime/io/safetensors.js';
import { isBuildFolder, readBuild } from '../../runtime/run/build-dir.js';
import { embedInputs, metadataRows, rawVolumeRules, tokenIdsInput, volumeInput, type EmbedTexts } from '../../runtime/run/embed.js';
import { adapterTensorsFor, checkBaseWeights, loadBaseWeights, reportFeeds, specAt } from '../../runtime/run/index.js';
import type { TargetName } from '../../compiler/codegen/target.js';
import { SET_OPTION, setArgs } from '../overrides.js';
import { load } from './build.js';
import { refuse } from '../failure.js';

interface EmbedArgs {
  file: string; volumes?: string[]; texts?: string[]; tokenIds?: string; adapter?: string; out: string;
  backend?: BackendName; json: boolean; quiet: boolean; set?: string | string[];
}

const usage = (message: string, help: string): never => { throw new DiagnosticError(diag('E0001', message, null, { help })); };

interface Experiment { exp: ResolvedExperiment; plan: Plan; baseDir: string; kernels: (t: TargetName | null) => KernelLibrary }

function experimentOf(a: EmbedArgs, sources: Map<string, string>): Experiment {
  if (isBuildFolder(a.file)) {
    const b = readBuild(a.file);
    return { exp: b.experiment, plan: b.plans.eval, baseDir: b.baseDir, kernels: (t) => b.kernels(t) };
  }
  const checked = load(a.file, setArgs(a.set));
  for (const [k, v] of checked.sources) sources.set(k, v);
  if (checked.diagnostics.some((d) => d.severity === 'error')) throw new DiagnosticError(checked.diagnostics);
  if (checked.experiments.length !== 1) {
    usage(`\`${a.file}\` resolves to ${checked.experiments.length} experiments; embed runs one`, 'give a spec with one experiment (a sweep has one per variant: fix its values with --set)');
  }
  const exp = checked.experiments[0]!;
  const c = compileExperiment(exp, checked.sources);
  return { exp, plan: c.plans.eval, baseDir: dirname(resolve(a.file)), kernels: (t) => emittedLibrary(t) };
}

export const embedCommand: CommandModule<object, EmbedArgs> = {
  command: 'embed <file>',
  describe: 'Image latents, text latents and logits of the experiment\'s model for given volumes and texts',
  builder: (y) => y
    .positional('file', { type: 'string', demandOption: true, describe: '.medct spec (one experiment) or a build folder' })
    .option('volumes', { type: 'string', array: true, describe: 'volumes: .nii/.nii.gz (preprocessed by the spec), .npz (CT-CLIP preprocessed), .npy/.safetensors (model input)' })
    .option('texts', { type: 'string', array: true, describe: 'texts, tokenized by the model\'s vocabulary' })
    .option('token-ids', { type: 'string', describe: 'token ids instead of --texts: .npy [texts, tokens] integers or .json [[id, ...], ...]' })
    .option('adapter', { type: 'string', describe: 'PEFT adapter folder merged into the model (as medctc run writes it)' })
    .option('out', { type: 'string', demandOption: true, describe: 'the .safetensors file to write (atomically)' })
    .option('backend', { type: 'string', choices: ['auto', 'cpu', 'webgpu', 'cuda', 'reference'], describe: 'override the experiment\'s backend' })
    .option('json', { type: 'boolean', default: false, describe: 'print a JSON summary' })
    .option('quiet', { type: 'boolean', default: false, describe: 'no progress output' })
    .option('set', SET_OPTION) as never,
  handler: async (a) => {
    const sources = new Map<string, string>();
    const fail = (diags: Diagnostic[]): void => refuse(diags, sources, a);
    try {
      await embed(a, sources);
    } catch (e) {
      if (e instanceof DiagnosticError) { fail(e.diagnostics); return; }
      throw e;
    }
  },
};

async function embed(a: EmbedArgs, sources: Map<string, string>): Promise<void> {
  if (!a.out.endsWith('.safetensors')) usage(`--out must be a .safetensors file, got \`${a.out}\``, 'e.g. --out latents.safetensors');
  if (a.texts?.length && a.tokenIds) usage('--texts and --token-ids both given', 'pass the texts one way');
  const volumes = a.volumes ?? [];
  if (volumes.length === 0 && !a.texts?.length && !a.tokenIds) usage('nothing to embed', 'pass --volumes, --texts or --token-ids');
  const note = (line: string) => { if (!a.quiet && !a.json) process.stderr.write(`${line}\n`); };

  const { exp, plan, baseDir, kernels } = experimentOf(a, sources);
  const at = specAt(exp, sources, a.file);
  // Everything that needs no volume first: the vocabulary, the weights header, the adapter, the inputs' files.
  const text = exp.model.text;
  const tokenizer = tokenizerFor({ vocab: text.vocab === null ? null : resolve(baseDir, text.vocab), vocabSize: text.vocabSize }, exp.model.architecture, {
    vocab: spanFor(exp, sources, '/model/text/vocab'), vocabSize: spanFor(exp, sources, '/model/text/vocabSize'), architecture: at(['/model/architecture']),
  });
  const weightsFile = exp.model.weights ? resolve(baseDir, exp.model.weights) : null;
  const quantize = imageQuantizes(exp.model.image);
  if (weightsFile) checkBaseWeights(plan.model, weightsFile, at, { quantize });
  const lora = a.adapter ? adapterTensorsFor(plan.model, readAdapter(resolve(a.adapter)), a.adapter) : null;
  const meta = volumes.some((v) => /\.nii(\.gz)?$/i.test(v)) ? metadataRows(exp.data, baseDir) : new Map();
  const raw = rawVolumeRules(exp.data, baseDir);
  const inputs = volumes.map((v) => volumeInput(v, exp.data.preprocess, meta, raw, note));
  const maxLength = text.maxLength;
  let texts: EmbedTexts | null = null, textNames: string[] = [];
  if (a.texts?.length) {
    const f = reportFeeds(tokenizer, a.texts, maxLength);
    texts = { ids: f.input_ids, mask: f.attention_mask, count: a.texts.length };
    textNames = [...a.texts];
  } else if (a.tokenIds) {
    texts = tokenIdsInput(a.tokenIds, { maxLength, padId: tokenizer.padId, vocabSize: text.vocabSize });
    textNames = Array.from({ length: texts.count }, (_, i) => `${a.tokenIds}[${i}]`);
  }
  const filler = reportFeeds(tokenizer, [''], maxLength);

  const device = await openDevice(a.backend ?? exp.backend, note);
  const weights = weightsFile ? loadBaseWeights(plan.model, weightsFile, at, { seed: exp.seed, quantize }) : undefined;
  const exec = await createExecutor(plan, device, { kernels: kernels(device.target) });
  let result;
  try {
    await exec.loadWeights({ seed: exp.seed, tensors: weights });
    for (const [name, data] of lora ?? []) await exec.writeTensor(name, data);
    await exec.prepare();
    result = await embedInputs({
      exec, volumes: inputs, texts, filler: { ids: filler.input_ids, mask: filler.attention_mask, count: 1 },
      onRun: (done, total) => { if (!a.quiet && !a.json && process.stderr.isTTY) process.stderr.write(`\rembedding: run ${done}/${total}`); },
    });
    if (!a.quiet && !a.json && process.stderr.isTTY) process.stderr.write('\n');
  } finally {
    exec.destroy();
  }
  const nv = inputs.length, nt = texts?.count ?? 0, d = result.latent;
  const tensors: [string, Tensor][] = [];
  if (nv) tensors.push(['image_latents', fromFloat32(result.image, [nv, d])]);
  if (nt) tensors.push(['text_latents', fromFloat32(result.text, [nt, d])]);
  if (nv && nt) tensors.push(['logits', fromFloat32(result.logits, [nt, nv])]);
  writeSafetensors(resolve(a.out), tensors, {
    format: 'medctc-embed', experiment: exp.name, volumes: JSON.stringify(volumes), texts: JSON.stringify(textNames),
    temperature: String(result.temperature), logit_scale: String(Math.exp(result.temperature)), logits_order: 'texts,images',
    adapter: a.adapter ?? '', backend: device.backend,
  });
  const summary = { out: a.out, volumes: nv, texts: nt, latent: d, runs: result.runs, temperature: result.temperature, device: device.description };
  if (a.json) process.stdout.write(JSON.stringify({ ok: true, ...summary }, null, 2) + '\n');
  else process.stdout.write(`wrote ${relative(process.cwd(), resolve(a.out)) || a.out}: ${nv} image and ${nt} text latents of ${d}${nv && nt ? `, logits [${nt}, ${nv}]` : ''} (${result.runs} runs on ${device.description})\n`);
}
