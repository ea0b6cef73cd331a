// Hand-built ResolvedExperiments (the checker's output) for compiler tests: preset sizes,
// sane defaults, the MedCT-VLM LoRA setting unless overridden.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll } from 'vitest';
import type { Architecture, LoraSpec, LoraTarget, ResolvedExperiment, TrainSpec } from '../../compiler/ir/experiment.js';
import { CT_RATE_PATHOLOGIES } from '../../compiler/ir/experiment.js';
import { PRESETS } from '../../compiler/models/presets.js';

export const MEDCT_VLM_TARGETS: LoraTarget[] = [
  { encoder: 'text', match: 'glob', pattern: 'encoder.layer.*.attention.self.{query,key,value}', rank: 24, alpha: 24 },
  { encoder: 'image', match: 'glob', pattern: 'visual_transformer.enc_*_transformer.layers.*.1.{to_q,to_kv}', rank: 24, alpha: 24 },
];

export function loraSpec(over: Partial<LoraSpec> = {}): LoraSpec {
  return { targets: MEDCT_VLM_TARGETS, dropout: 0.05, rslora: false, init: 'kaiming', layers: { text: null, image: null }, modulesToSave: [], ...over };
}

export function trainSpec(over: Partial<TrainSpec> = {}): TrainSpec {
  return {
    loss: 'pair_mse', optimizer: { kind: 'adamw', lr: 1e-4, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.01 },
    schedule: { kind: 'cosine', warmupSteps: 10 }, epochs: 1, batchSize: 1, gradClip: 1, precision: 'fp32', trainBase: false, ...over,
  };
}

export function experiment(arch: Architecture = 'ct_clip', over: Partial<ResolvedExperiment> = {}): ResolvedExperiment {
  const p = PRESETS[arch];
  return {
    irVersion: 1, name: 'medct-vlm', variant: null, seed: 7, backend: 'auto',
    model: { architecture: arch, weights: null, image: { ...p.image }, text: { ...p.text }, latentDim: p.latentDim },
    lora: loraSpec(), train: trainSpec(),
    data: { source: { kind: 'synthetic', root: 'data/synth', volumes: 8, seed: 1, site: 'source', shape: [32, 32, 32] }, trainSplit: 'train', evalSplit: 'valid', limit: null, preprocess: p.preprocess, cacheDir: 'cache' },
    prompts: { positive: '{pathology} is present.', negative: '{pathology} is not present.', pathologies: [...CT_RATE_PATHOLOGIES] },
    evaluate: { metrics: ['auroc', 'accuracy', 'macro_f1'], threshold: { kind: 'roc_corner' }, bootstrap: null, baseline: true },
    outputs: { dir: 'runs/x', adapter: true, scores: true },
    sources: ['exp.medct'],
    provenance: {},
    ...over,
  };
}

const made: string[] = [];
/** A fresh temp folder, removed after the calling test file's tests. */
export function tempDir(prefix: string): string {
  const d = mkdtempSync(join(tmpdir(), prefix));
  made.push(d);
  return d;
}
afterAll(() => { for (const d of made.splice(0)) rmSync(d, { recursive: true, force: true }); });
