// Zero-shot scoring as CT-CLIP does it: for each pathology, the image latent is compared with the
// latents of "<p> is present." and "<p> is not present."; logits = exp(temperature) * cosine;
// a softmax over the pair gives P(present).
import { DiagnosticError, fileDiagnostic } from '../../base/diagnostics/types.js';

type Vec = ArrayLike<number>;

/** L2 norm clamped like torch.nn.functional.normalize (eps 1e-12), so a zero vector scores 0, not NaN. */
function norm(v: Vec): number {
  let s = 0;
  for (let i = 0; i < v.length; i++) s += v[i]! * v[i]!;
  return Math.max(Math.sqrt(s), 1e-12);
}

export function cosine(a: Vec, b: Vec): number {
  if (a.length !== b.length) throw new Error(`cosine: lengths ${a.length} and ${b.length}`);
  let d = 0;
  for (let i = 0; i < a.length; i++) d += a[i]! * b[i]!;
  return d / (norm(a) * norm(b));
}

/** P(present) for one image and one (present, absent) prompt pair. `temperature` is CT-CLIP's
 *  learned log-scale parameter (logit scale = exp(temperature)). The two-way softmax is computed
 *  as a logistic of the logit difference, which cannot overflow. */
export function pairProbability(image: Vec, present: Vec, absent: Vec, temperature: number): number {
  const scale = Math.exp(temperature);
  const diff = scale * (cosine(image, present) - cosine(image, absent));
  return 1 / (1 + Math.exp(-diff));
}

/**
 * Scores for every volume and label: result[v][l] = P(label l present in volume v).
 * `present[l]` / `absent[l]` are the text latents of label l's two prompts. Non-finite latents or
 * temperature (a diverged model) are E5570, naming `source` (the checkpoint or run) and the volume.
 */
export function zeroShotScores(images: readonly Vec[], present: readonly Vec[], absent: readonly Vec[], temperature: number,
  opts: { volumeNames?: readonly string[]; source?: string } = {}): Float64Array[] {
  if (present.length !== absent.length) throw new Error(`zeroShotScores: ${present.length} present vs ${absent.length} absent prompts`);
  return images.map((img, v) => {
    const row = new Float64Array(present.length);
    for (let l = 0; l < present.length; l++) {
      const p = pairProbability(img, present[l]!, absent[l]!, temperature);
      if (!Number.isFinite(p)) {
        const name = opts.volumeNames?.[v] ?? `#${v}`;
        throw new DiagnosticError(fileDiagnostic('E5570', `score for volume ${name}, label ${l} is ${p}`, opts.source ?? '<model>',
          { help: 'the model weights or latents contain NaN/Infinity; check the checkpoint or lower the learning rate' }));
      }
      row[l] = p;
    }
    return row;
  });
}
