// The in-memory shape of a LoRA adapter, as the runtime hands it to export and gets it back from import.

/** One LoRA-adapted linear layer. A is [rank, inFeatures] and B is [outFeatures, rank], row-major
 *  (PEFT's lora_A.weight / lora_B.weight). */
export interface AdaptedModule {
  /** Dotted module path in the base model (PyTorch state-dict naming), e.g. `text_transformer.encoder.layer.0.attention.self.query`. */
  path: string;
  rank: number;
  alpha: number;
  inFeatures: number;
  outFeatures: number;
  A: Float32Array;
  B: Float32Array;
}

/** A module trained fully (PEFT modules_to_save): its parameters by name (`weight`, `bias`, ...). */
export interface SavedModule {
  path: string;
  params: Record<string, { shape: number[]; data: Float32Array }>;
}

export interface AdapterSettings {
  /** Written as base_model_name_or_path. */
  baseModel: string | null;
  dropout: number;
  rslora: boolean;
  /** Only matters before training; an imported PEFT value other than "gaussian" reads as 'kaiming'. */
  init: 'kaiming' | 'gaussian';
}

export interface Adapter {
  settings: AdapterSettings;
  modules: AdaptedModule[];
  saved: SavedModule[];
}

export const ADAPTER_CONFIG_FILE = 'adapter_config.json';
export const ADAPTER_WEIGHTS_FILE = 'adapter_model.safetensors';
/** PEFT's prefix for tensor keys in adapter files (the adapter name itself is stripped). */
export const KEY_PREFIX = 'base_model.model.';
