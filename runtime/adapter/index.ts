// Public surface of runtime/adapter: PEFT LoRA adapter export and import.
export { writeAdapter, adapterTensors, type ExportOptions } from './export.js';
export { readAdapter, readPeftConfig } from './import.js';
export { loraScaling, mergeInto } from './merge.js';
export { buildPeftConfig, configJson, patternKeyFor, resolveRankAlpha, targetModulesMatch, settingsFromLoraSpec, type PeftLoraConfig } from './peft-config.js';
export { ADAPTER_CONFIG_FILE, ADAPTER_WEIGHTS_FILE, KEY_PREFIX, type Adapter, type AdaptedModule, type AdapterSettings, type SavedModule } from './types.js';
