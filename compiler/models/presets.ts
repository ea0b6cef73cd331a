// Architecture presets: the sizes a spec gets when it names `ct_clip` or `ct_clip_tiny` and
// overrides nothing. The checker applies them as defaults; the model builders read only the
// resolved sizes from the IR, never these tables, so every size stays overridable.
import type { Architecture, ImageEncoderSizes, Preprocess, TextEncoderSizes } from '../ir/experiment.js';

export interface ArchitecturePreset {
  image: ImageEncoderSizes;
  text: TextEncoderSizes;
  latentDim: number;
  /** Preprocessing that produces this preset's input volume. */
  preprocess: Preprocess;
}

export const PRESETS: Record<Architecture, ArchitecturePreset> = {
  // CT-CLIP as released (../shared/reference/ct-clip.md): CTViT + CXR-BERT specialized.
  ct_clip: {
    image: {
      dim: 512, spatialDepth: 4, temporalDepth: 4, heads: 8, dimHead: 32,
      imageSize: 480, frames: 240, patchSize: 20, temporalPatchSize: 10,
      codebookSize: 8192, ffInner: 1365, quantize: true,
    },
    text: {
      vocabSize: 30522, hidden: 768, layers: 12, heads: 12, intermediate: 3072,
      maxPositions: 512, typeVocabSize: 2, maxLength: 512, vocab: null,
    },
    latentDim: 512,
    preprocess: { windowHU: [-1000, 1000], spacingMm: [1.5, 0.75, 0.75], size: [240, 480, 480], scale: 1000, padValue: -1, hu: 'header_and_metadata' },
  },
  // The same architecture, small enough to train on 2 CPU cores in minutes: 32^3 voxels,
  // 8^3 patches -> 4x4x4 tokens, dim 64, 2 spatial + 2 temporal layers, 2-layer BERT.
  ct_clip_tiny: {
    image: {
      dim: 64, spatialDepth: 2, temporalDepth: 2, heads: 4, dimHead: 16,
      imageSize: 32, frames: 32, patchSize: 8, temporalPatchSize: 8,
      codebookSize: 512, ffInner: Math.trunc((4 * 2 / 3) * 64), quantize: true,
    },
    text: {
      vocabSize: 512, hidden: 64, layers: 2, heads: 4, intermediate: 256,
      maxPositions: 64, typeVocabSize: 2, maxLength: 32, vocab: null,
    },
    latentDim: 64,
    preprocess: { windowHU: [-1000, 1000], spacingMm: [10, 10, 10], size: [32, 32, 32], scale: 1000, padValue: -1, hu: 'header_and_metadata' },
  },
};
