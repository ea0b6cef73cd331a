// Reads a PEFT LoRA adapter folder back into an Adapter, applying PEFT's own rules (target_modules,
// rank_pattern/alpha_pattern resolution) and checking every tensor's shape against them.
// Anything that would change the forward math and that medctc does not implement (DoRA,
// fan_in_fan_out, trained biases) is refused with E5531 rather than loaded wrongly.
import { join } from 'node:path';
import { DiagnosticError, fileDiagnostic } from '../../base/diagnostics/types.js';
import type { RuntimeCode } from '../../base/diagnostics/codes/runtime.js';
import { withSafetensors } from '../io/safetensors.js';
import { RegexError } from '../../base/regex.js';
import { peftRegex, resolveRankAlpha, targetModulesMatch, type PeftLoraConfig } from './peft-config.js';
import { describeNonFinite, nonFinite } from '../util/finite.js';
import { ADAPTER_CONFIG_FILE, ADAPTER_WEIGHTS_FILE, KEY_PREFIX, type AdaptedModule, type Adapter, type SavedModule } from './types.js';
import { fileErrorText, readRegularFile } from '../../base/files.js';

function fail(code: RuntimeCode, file: string, message: string, help?: string): never {
  throw new DiagnosticError(fileDiagnostic(code, `${file}: ${message}`, file, help ? { help } : {}));
}

type LoadedConfig = Pick<PeftLoraConfig, 'r' | 'lora_alpha' | 'rank_pattern' | 'alpha_pattern' | 'lora_dropout' | 'use_rslora' | 'base_model_name_or_path'> & {
  target_modules: string | string[] | null;
  modules_to_save: string[] | null;
  init_lora_weights: unknown;
};

/** Reads and validates adapter_config.json (PEFT defaults for absent fields). */
export function readPeftConfig(file: string): LoadedConfig {
  let raw: unknown;
  try {
    raw = JSON.parse(readRegularFile(file, 'utf8'));
  } catch (e) {
    fail('E5530', file, e instanceof SyntaxError ? e.message : `it ${fileErrorText(e)}`);
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) fail('E5531', file, 'not a JSON object');
  const c = raw as Record<string, unknown>;
  const bad = (field: string, why: string): never => fail('E5531', file, `${field} ${why}`);
  if (c.peft_type !== 'LORA') bad('peft_type', `is ${JSON.stringify(c.peft_type)}, medctc reads only "LORA" adapters`);
  const posInt = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v) && v > 0;
  const r = c.r ?? 8, alpha = c.lora_alpha ?? 8;
  if (!posInt(r)) return bad('r', 'must be a positive integer');
  if (typeof alpha !== 'number' || !Number.isFinite(alpha)) return bad('lora_alpha', 'must be a number');
  const pattern = (name: string, check: (v: unknown) => boolean): Record<string, number> => {
    const p = c[name] ?? {};
    if (typeof p !== 'object' || p === null || Array.isArray(p)) return bad(name, 'must be an object');
    for (const [k, v] of Object.entries(p)) {
      if (!check(v)) bad(name, `entry "${k}" has an invalid value ${JSON.stringify(v)}`);
      try { peftRegex(k, 'key'); } catch (e) { if (!(e instanceof RegexError)) throw e; bad(name, `key "${k}": ${e.message}`); }
    }
    return p as Record<string, number>;
  };
  if (c.use_dora === true) bad('use_dora', 'is true: DoRA adapters are not supported');
  if (c.fan_in_fan_out === true) bad('fan_in_fan_out', 'is true: transposed (Conv1D) base weights are not supported');
  if (c.bias !== undefined && c.bias !== 'none') bad('bias', `is ${JSON.stringify(c.bias)}: adapters with trained biases are not supported`);
  const targets = c.target_modules ?? null;
  if (targets !== null && typeof targets !== 'string' && !(Array.isArray(targets) && targets.every((t) => typeof t === 'string'))) bad('target_modules', 'must be a string, a list of strings or null');
  if (typeof targets === 'string') {
    try { peftRegex(targets, 'whole'); } catch (e) { if (!(e instanceof RegexError)) throw e; bad('target_modules', e.message); }
  }
  const save = c.modules_to_save ?? null;
  if (save !== null && !(Array.isArray(save) && save.every((t) => typeof t === 'string'))) bad('modules_to_save', 'must be a list of strings or null');
  const dropout = c.lora_dropout ?? 0;
  if (typeof dropout !== 'number' || dropout < 0 || dropout >= 1) return bad('lora_dropout', 'must be a number in [0, 1)');
  const base = c.base_model_name_or_path ?? null;
  return {
    r, lora_alpha: alpha,
    rank_pattern: pattern('rank_pattern', posInt),
    alpha_pattern: pattern('alpha_pattern', (v) => typeof v === 'number' && Number.isFinite(v)),
    lora_dropout: dropout,
    use_rslora: c.use_rslora === true,
    base_model_name_or_path: typeof base === 'string' ? base : null,
    target_modules: targets as string | string[] | null,
    modules_to_save: save as string[] | null,
    init_lora_weights: c.init_lora_weights ?? true,
  };
}

/** Reads `dir`/adapter_config.json and `dir`/adapter_model.safetensors. Modules come back sorted by path. */
export function readAdapter(dir: string): Adapter {
  const cfgFile = join(dir, ADAPTER_CONFIG_FILE);
  const cfg = readPeftConfig(cfgFile);
  const weightsFile = join(dir, ADAPTER_WEIGHTS_FILE);
  return withSafetensors(weightsFile, (f) => {
    // A NaN or infinite adapter value would give finite-looking but meaningless scores: refused here.
    const finite = (key: string): Float32Array => {
      const v = f.readF32(key);
      const bad = nonFinite(v);
      if (bad) fail('E5535', weightsFile, `tensor "${key}" holds ${describeNonFinite(bad, v.length)}`, 'the adapter is corrupt or was saved after training diverged');
      return v;
    };
    const lora = new Map<string, { A?: string; B?: string }>();
    const saved = new Map<string, SavedModule>();
    for (const key of f.names()) {
      if (!key.startsWith(KEY_PREFIX)) fail('E5534', weightsFile, `tensor "${key}" does not start with "${KEY_PREFIX}"`);
      const rest = key.slice(KEY_PREFIX.length);
      const m = /^(.+)\.lora_([AB])\.weight$/.exec(rest);
      if (m) {
        const entry = lora.get(m[1]!) ?? {};
        entry[m[2] as 'A' | 'B'] = key;
        lora.set(m[1]!, entry);
        continue;
      }
      const split = splitSavedKey(rest, cfg.modules_to_save ?? []);
      if (split === null) {
        const hint = /\.lora_[AB]\.[^.]+\.weight$/.test(rest) ? 'the key still carries an adapter name (PEFT strips it when saving)' : 'only lora_A/lora_B weights and modules_to_save parameters belong in an adapter file';
        fail('E5534', weightsFile, `tensor "${key}" is neither a LoRA weight nor a parameter of modules_to_save`, hint);
      }
      const t = f.info(key);
      const s = saved.get(split.path) ?? { path: split.path, params: {} };
      s.params[split.param] = { shape: [...t.shape], data: finite(key) };
      saved.set(split.path, s);
    }

    const modules: AdaptedModule[] = [];
    for (const path of [...lora.keys()].sort()) {
      const { A, B } = lora.get(path)!;
      if (!A || !B) fail('E5532', weightsFile, `module "${path}" has lora_${A ? 'A' : 'B'}.weight but no lora_${A ? 'B' : 'A'}.weight`);
      if (cfg.target_modules !== null && !targetModulesMatch(cfg.target_modules, path)) {
        fail('E5534', weightsFile, `module "${path}" has LoRA weights but target_modules does not name it`, `${ADAPTER_CONFIG_FILE} and ${ADAPTER_WEIGHTS_FILE} disagree; were they copied from different runs?`);
      }
      const { rank, alpha } = resolveRankAlpha(cfg, path);
      const a = f.info(A), b = f.info(B);
      if (a.shape.length !== 2 || a.shape[0] !== rank) fail('E5533', weightsFile, `"${A}" is [${a.shape.join(', ')}], expected [${rank}, in_features] (rank ${rank} from ${ADAPTER_CONFIG_FILE})`);
      if (b.shape.length !== 2 || b.shape[1] !== rank) fail('E5533', weightsFile, `"${B}" is [${b.shape.join(', ')}], expected [out_features, ${rank}] (rank ${rank} from ${ADAPTER_CONFIG_FILE})`);
      modules.push({ path, rank, alpha, inFeatures: a.shape[1]!, outFeatures: b.shape[0]!, A: finite(A), B: finite(B) });
    }
    if (modules.length === 0) fail('E5532', weightsFile, 'holds no lora_A/lora_B weights');
    return {
      settings: {
        baseModel: cfg.base_model_name_or_path,
        dropout: cfg.lora_dropout,
        rslora: cfg.use_rslora,
        init: cfg.init_lora_weights === 'gaussian' ? 'gaussian' : 'kaiming',
      },
      modules,
      saved: [...saved.values()].sort((x, y) => (x.path < y.path ? -1 : 1)),
    };
  });
}

/** Splits `<module path>.<param>` where the module is the shortest path prefix that a
 *  modules_to_save entry names (PEFT: equal to it, or ending in "." + entry). */
function splitSavedKey(rest: string, entries: readonly string[]): { path: string; param: string } | null {
  const parts = rest.split('.');
  for (let n = 1; n < parts.length; n++) {
    const path = parts.slice(0, n).join('.');
    if (entries.some((e) => path === e || path.endsWith(`.${e}`))) return { path, param: parts.slice(n).join('.') };
  }
  return null;
}
