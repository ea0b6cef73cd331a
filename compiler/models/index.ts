// Public surface of the model builders.
import type { Graph } from '../graph/types.js';
import type { ModelSpec } from '../ir/experiment.js';
import { buildCtClip, type BuildShape } from './ct_clip.js';

export { PRESETS, type ArchitecturePreset } from './presets.js';
export type { BuildShape } from './ct_clip.js';

/** The forward graph of `model` (both architectures share one builder; sizes come from the IR). */
export function buildModel(model: ModelSpec, shape: BuildShape): Graph {
  switch (model.architecture) {
    case 'ct_clip':
    case 'ct_clip_tiny':
      return buildCtClip(model, shape);
  }
}
