// Writes a PEFT-loadable adapter folder: adapter_config.json + adapter_model.safetensors.
// Deterministic bytes for the same adapter; each file written atomically.
import { join } from 'node:path';
import { writeFileAtomic } from '../../base/atomic.js';
import { encodeSafetensors, fromFloat32, type Tensor } from '../io/safetensors.js';
import { buildPeftConfig, configJson, type PeftLoraConfig } from './peft-config.js';
import { ADAPTER_CONFIG_FILE, ADAPTER_WEIGHTS_FILE, KEY_PREFIX, type Adapter } from './types.js';

export interface ExportOptions {
  /** Storage dtype of the tensors (PEFT loads any of them). Default F32. */
  dtype?: 'F32' | 'F16' | 'BF16';
}

/** The tensors of an adapter, keyed as PEFT saves them. Shape mismatches are bugs upstream (Error). */
export function adapterTensors(adapter: Adapter, dtype: ExportOptions['dtype'] = 'F32'): Map<string, Tensor> {
  const out = new Map<string, Tensor>();
  const add = (key: string, data: Float32Array, shape: number[]): void => {
    if (out.has(key)) throw new Error(`adapter export: tensor ${key} appears twice`);
    if (data.length !== shape.reduce((a, b) => a * b, 1)) throw new Error(`adapter export: ${key} has ${data.length} values for [${shape.join(', ')}]`);
    out.set(key, fromFloat32(data, shape, dtype));
  };
  for (const m of adapter.modules) {
    add(`${KEY_PREFIX}${m.path}.lora_A.weight`, m.A, [m.rank, m.inFeatures]);
    add(`${KEY_PREFIX}${m.path}.lora_B.weight`, m.B, [m.outFeatures, m.rank]);
  }
  for (const s of adapter.saved) {
    for (const [param, t] of Object.entries(s.params)) add(`${KEY_PREFIX}${s.path}.${param}`, t.data, t.shape);
  }
  return out;
}

/** Writes the adapter into `dir` (created if needed); returns the config written. */
export function writeAdapter(dir: string, adapter: Adapter, opts: ExportOptions = {}): PeftLoraConfig {
  const config = buildPeftConfig(adapter.settings, adapter.modules, adapter.saved.map((s) => s.path));
  const bytes = encodeSafetensors(adapterTensors(adapter, opts.dtype), { format: 'pt' });
  writeFileAtomic(join(dir, ADAPTER_WEIGHTS_FILE), bytes);
  writeFileAtomic(join(dir, ADAPTER_CONFIG_FILE), configJson(config));
  return config;
}
