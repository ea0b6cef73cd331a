// PEFT's LoraConfig as written to adapter_config.json, and PEFT's rules for reading it back:
// which modules `target_modules` names, and which rank/alpha `rank_pattern`/`alpha_pattern` give.
import { safeRegex, type Matcher } from '../../base/regex.js';
import type { LoraSpec } from '../../compiler/ir/experiment.js';
import type { AdaptedModule, AdapterSettings } from './types.js';

/** The fields medctc writes. PEFT loaders ignore unknown keys and need only `peft_type`. */
export interface PeftLoraConfig {
  alpha_pattern: Record<string, number>;
  base_model_name_or_path: string | null;
  bias: 'none';
  fan_in_fan_out: false;
  inference_mode: true;
  init_lora_weights: true | 'gaussian';
  layers_pattern: null;
  layers_to_transform: null;
  lora_alpha: number;
  lora_dropout: number;
  modules_to_save: string[] | null;
  peft_type: 'LORA';
  r: number;
  rank_pattern: Record<string, number>;
  target_modules: string[];
  task_type: null;
  use_dora: false;
  use_rslora: boolean;
}

/**
 * PEFT's get_pattern_key: the first key (in the config's order) for which
 * `(.*\.)?(key)$` matches the module path from its start; null when none does. Keys are regexes.
 */
export function patternKeyFor(keys: readonly string[], path: string): string | null {
  for (const key of keys) {
    if (peftRegex(key, 'key').test(path)) return key;
  }
  return null;
}

/** PEFT's target_modules check: a string is a regex that must match the whole path; a list entry
 *  matches a path equal to it or ending in "." + entry (entries are not regexes). */
export function targetModulesMatch(target: string | readonly string[], path: string): boolean {
  if (typeof target === 'string') return peftRegex(target, 'whole').test(path);
  return target.some((t) => path === t || path.endsWith(`.${t}`));
}

const compiled = new Map<string, Matcher>();

/**
 * A pattern from an adapter_config.json as PEFT applies it — `whole`: re.fullmatch (target_modules);
 * `key`: `(.*\.)?(key)$` from the start (rank_pattern / alpha_pattern keys) — matched in linear time
 * (base/regex.ts; a RegExp would backtrack for minutes on `(a+)+$`). Throws RegexError for a
 * pattern that is invalid or outside the supported syntax; the pattern alone is parsed first.
 */
export function peftRegex(pattern: string, how: 'whole' | 'key'): Matcher {
  const id = `${how}\0${pattern}`;
  let m = compiled.get(id);
  if (!m) {
    safeRegex(pattern);
    m = safeRegex(how === 'whole' ? `^(?:${pattern})$` : `^(?:.*\\.)?(?:${pattern})$`);
    if (compiled.size > 4096) compiled.clear();
    compiled.set(id, m);
  }
  return m;
}

/** Rank and alpha PEFT would give `path` under a config. */
export function resolveRankAlpha(cfg: Pick<PeftLoraConfig, 'r' | 'lora_alpha' | 'rank_pattern' | 'alpha_pattern'>, path: string): { rank: number; alpha: number } {
  const rk = patternKeyFor(Object.keys(cfg.rank_pattern), path);
  const ak = patternKeyFor(Object.keys(cfg.alpha_pattern), path);
  return { rank: rk === null ? cfg.r : cfg.rank_pattern[rk]!, alpha: ak === null ? cfg.lora_alpha : cfg.alpha_pattern[ak]! };
}

/** The commonest value; ties go to the smaller value so the choice never depends on module order. */
function mode(values: readonly number[]): number {
  const counts = new Map<number, number>();
  for (const v of values) counts.set(v, (counts.get(v) ?? 0) + 1);
  let best = values[0]!, bestCount = 0;
  for (const [v, c] of [...counts].sort((a, b) => a[0] - b[0])) if (c > bestCount) { best = v; bestCount = c; }
  return best;
}

const escapeRegex = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

const sortedRecord = (entries: [string, number][]): Record<string, number> =>
  Object.fromEntries(entries.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0)));

/**
 * Builds the config for `modules`: r and lora_alpha are the commonest rank and alpha, every other
 * module gets a rank_pattern / alpha_pattern entry keyed by its full module path. target_modules
 * lists the full paths too, so the layer selection is already explicit (layers_to_transform null).
 *
 * PEFT reads the patterns in the file's (sorted) key order with suffix matching, so a key like
 * `encoder.layer.0.q` also matches `text.encoder.layer.0.q`. The result is checked against PEFT's
 * rules; if any module would resolve wrongly, every key is anchored (`^` + escaped path), which
 * matches exactly one path under `(.*\.)?(key)$`.
 */
export function buildPeftConfig(settings: AdapterSettings, modules: readonly AdaptedModule[], modulesToSave: readonly string[]): PeftLoraConfig {
  if (modules.length === 0) throw new Error('buildPeftConfig: no adapted modules');
  const r = mode(modules.map((m) => m.rank));
  const alpha = mode(modules.map((m) => m.alpha));
  const make = (key: (p: string) => string): PeftLoraConfig => ({
    alpha_pattern: sortedRecord(modules.filter((m) => m.alpha !== alpha).map((m) => [key(m.path), m.alpha])),
    base_model_name_or_path: settings.baseModel,
    bias: 'none',
    fan_in_fan_out: false,
    inference_mode: true,
    init_lora_weights: settings.init === 'gaussian' ? 'gaussian' : true,
    layers_pattern: null,
    layers_to_transform: null,
    lora_alpha: alpha,
    lora_dropout: settings.dropout,
    modules_to_save: modulesToSave.length > 0 ? [...modulesToSave].sort() : null,
    peft_type: 'LORA',
    r,
    rank_pattern: sortedRecord(modules.filter((m) => m.rank !== r).map((m) => [key(m.path), m.rank])),
    target_modules: modules.map((m) => m.path).sort(),
    task_type: null,
    use_dora: false,
    use_rslora: settings.rslora,
  });
  const faithful = (c: PeftLoraConfig): boolean => modules.every((m) => {
    const got = resolveRankAlpha(c, m.path);
    return got.rank === m.rank && got.alpha === m.alpha;
  });
  const plain = make((p) => p);
  if (faithful(plain)) return plain;
  const anchored = make((p) => `^${escapeRegex(p)}`);
  if (!faithful(anchored)) throw new Error('buildPeftConfig: anchored pattern keys still resolve wrongly');
  return anchored;
}

/** JSON text as PEFT's save_pretrained writes it: keys sorted at every level, indent 2, trailing newline-free. */
export function configJson(cfg: PeftLoraConfig): string {
  const sortDeep = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.map(sortDeep);
    if (v !== null && typeof v === 'object') {
      return Object.fromEntries(Object.keys(v).sort().map((k) => [k, sortDeep((v as Record<string, unknown>)[k])]));
    }
    return v;
  };
  return JSON.stringify(sortDeep(cfg), null, 2);
}

/** Adapter settings from the experiment's LoRA block. */
export function settingsFromLoraSpec(lora: LoraSpec, baseModel: string | null): AdapterSettings {
  return { baseModel, dropout: lora.dropout, rslora: lora.rslora, init: lora.init };
}
