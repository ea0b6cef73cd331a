// LoRA injection: a pure function from a frozen base graph to one with adapters, following PEFT
// (../../../shared/reference/lora.md). Every selected linear y = xW^T + b becomes
//   y' = y + scale(linear(linear(dropout(x), A), B), scaling)
// with lora_A.weight [r, in] and lora_B.weight [out, r] named after the module, as PEFT's
// adapter files name them. The fusion pass later folds these ops back into one kernel.
import { diag } from '../../base/diagnostics/catalog.js';
import type { Diagnostic, Span } from '../../base/diagnostics/types.js';
import type { Graph, LoraAdapter, Module, Op, Tensor } from '../graph/types.js';
import type { Encoder, LoraSpec, ResolvedExperiment } from '../ir/experiment.js';
import { PatternError, expandBraces, globRegex, nearestPaths, regexPattern, type Matcher } from './patterns.js';
import { spanFor, type Sources } from './provenance.js';

export const ENCODER_ROOT: Record<Encoder, string> = { text: 'text_transformer', image: 'visual_transformer' };

export interface PassResult {
  graph: Graph;
  diagnostics: Diagnostic[];
}

/** PEFT layers_to_transform: the first all-digit segment after the encoder root is the layer index. */
export function layerIndex(path: string, encoder: Encoder): number | null {
  const segs = path.slice(ENCODER_ROOT[encoder].length + 1).split('.');
  const seg = segs.find((s) => /^\d+$/.test(s));
  return seg === undefined ? null : Number(seg);
}

export function loraScaling(alpha: number, rank: number, rslora: boolean): number {
  return rslora ? alpha / Math.sqrt(rank) : alpha / rank;
}

interface Selection { module: Module; target: number }

/** Which modules each target selects, with every problem found (not just the first). */
export function selectLoraModules(graph: Graph, lora: LoraSpec, exp: ResolvedExperiment, sources?: Sources): { selected: Selection[]; diagnostics: Diagnostic[] } {
  const diags: Diagnostic[] = [];
  const byPath = new Map<string, number>();
  const selected: Selection[] = [];
  const saved = modulesToSaveMatch(graph, lora, exp, sources, diags);
  lora.targets.forEach((t, ti) => {
    const span = spanFor(exp, sources, `/lora/targets/${ti}/pattern`, `/lora/targets/${ti}`);
    const root = ENCODER_ROOT[t.encoder];
    const inEncoder = graph.modules.filter((m) => m.path.startsWith(`${root}.`));
    const shown = `\`${t.pattern}\``;
    let alternatives: { text: string; re: Matcher }[];
    try {
      alternatives = t.match === 'regex'
        ? [{ text: t.pattern, re: regexPattern(t.pattern) }]
        : expandBraces(t.pattern).map((text) => ({ text, re: globRegex(text) }));
    } catch (e) {
      if (!(e instanceof PatternError)) throw e;
      diags.push(diag('E3004', `LoRA target ${shown} is not a valid ${t.match}: ${e.message}`, span));
      return;
    }
    const hits = new Set<Module>();
    let missing = false;
    for (const alt of alternatives) {
      const m = inEncoder.filter((mod) => alt.re.test(mod.path));
      if (m.length === 0) {
        missing = true;
        const near = nearestPaths(alt.text, inEncoder.filter((x) => x.kind === 'linear').map((x) => x.path));
        const what = alternatives.length > 1 ? `\`${alt.text}\` (from ${shown})` : shown;
        diags.push(diag('E3001', `LoRA target ${what} matches no module of the ${t.encoder} encoder (\`${root}\`)`, span, {
          help: `nearest module names: ${near.map((n) => `\`${n}\``).join(', ')}`,
        }));
      }
      m.forEach((x) => hits.add(x));
    }
    if (missing) return;
    const layers = lora.layers[t.encoder];
    const inLayers = [...hits].filter((m) => {
      if (layers === null) return true;
      const li = layerIndex(m.path, t.encoder);
      return li !== null && layers.includes(li);
    });
    if (inLayers.length === 0) {
      diags.push(diag('E3006', `LoRA target ${shown} matches ${hits.size} module(s), none in the selected ${t.encoder} layers [${layers?.join(', ')}]`, span, {
        secondary: spanList(spanFor(exp, sources, `/lora/layers/${t.encoder}`), 'layer selection'),
      }));
      return;
    }
    const ordered = inLayers.filter((m) => !saved.some((s) => m.path === s || m.path.startsWith(`${s}.`))); // PEFT: modules_to_save win
    ordered.sort((a, b) => graph.modules.indexOf(a) - graph.modules.indexOf(b));
    const notLinear = ordered.filter((m) => m.kind !== 'linear');
    if (notLinear.length) {
      // One diagnostic per target, however many layers repeat the mistake.
      const first = notLinear[0]!;
      const more = notLinear.length > 1 ? ` (and ${notLinear.length - 1} more)` : '';
      diags.push(diag('E3002', `LoRA target ${shown} matches \`${first.path}\`${more}, a ${first.kind.replace('_', ' ')} module; LoRA adapts linear layers only`, span, {
        help: nonLinearHelp(graph, first),
      }));
    }
    // Modules this target shares with each earlier target: one diagnostic per pair of targets.
    const overlaps = new Map<number, string[]>();
    for (const m of ordered) {
      if (m.kind !== 'linear') continue;
      if (t.rank > Math.min(m.inFeatures!, m.outFeatures!)) {
        diags.push(diag('E3007', `rank ${t.rank} exceeds min(in, out) = ${Math.min(m.inFeatures!, m.outFeatures!)} of \`${m.path}\``, spanFor(exp, sources, `/lora/targets/${ti}/rank`) ?? span));
        continue;
      }
      const prev = byPath.get(m.path);
      if (prev !== undefined) {
        (overlaps.get(prev) ?? overlaps.set(prev, []).get(prev)!).push(m.path);
        continue;
      }
      if (!m.used) {
        diags.push(diag('W3008', `LoRA target ${shown} adapts \`${m.path}\`, which CT-CLIP's forward never runs; its adapter stays untrained`, span));
      }
      byPath.set(m.path, ti);
      selected.push({ module: m, target: ti });
    }
    for (const [prev, paths] of overlaps) {
      const more = paths.length > 1 ? ` and ${paths.length - 1} more module(s)` : '';
      diags.push(diag('E3003', `\`${paths[0]}\`${more} matched by LoRA target ${ti + 1} (${shown}) and target ${prev + 1} (\`${lora.targets[prev]!.pattern}\`)`, span, {
        secondary: spanList(spanFor(exp, sources, `/lora/targets/${prev}/pattern`), 'first matched here'),
        help: 'each module takes one adapter; narrow one of the patterns',
      }));
    }
  });
  return { selected, diagnostics: diags };
}

function spanList(s: Span | null, label: string): { file: string; start: number; end: number; label: string }[] {
  return s ? [{ ...s, label }] : [];
}

function nonLinearHelp(graph: Graph, m: Module): string {
  const inside = graph.modules.filter((x) => x.kind === 'linear' && x.path.startsWith(`${m.path}.`)).map((x) => x.path.slice(m.path.length + 1));
  return inside.length ? `linear layers inside it: ${inside.slice(0, 4).map((x) => `\`${x}\``).join(', ')}` : 'select the linear layers (to_q, to_kv, query, key, value, ...) instead';
}

function modulesToSaveMatch(graph: Graph, lora: LoraSpec, exp: ResolvedExperiment, sources: Sources | undefined, diags: Diagnostic[]): string[] {
  const out: string[] = [];
  lora.modulesToSave.forEach((pattern, i) => {
    const span = spanFor(exp, sources, `/lora/modulesToSave/${i}`);
    let re: Matcher;
    try { re = globRegex(pattern); } catch (e) {
      if (!(e instanceof PatternError)) throw e;
      diags.push(diag('E3004', `modules_to_save entry \`${pattern}\` is not a valid glob: ${e.message}`, span));
      return;
    }
    const hits = graph.modules.filter((m) => m.path !== '' && re.test(m.path) && m.tensors.length + countChildren(graph, m) > 0);
    if (hits.length === 0) {
      diags.push(diag('E3005', `modules_to_save entry \`${pattern}\` matches no module`, span, {
        help: `nearest module names: ${nearestPaths(pattern, graph.modules.map((m) => m.path)).map((n) => `\`${n}\``).join(', ')}`,
      }));
    }
    // Keep the outermost matches: saving a module saves everything inside it.
    for (const h of hits) if (!hits.some((o) => o !== h && h.path.startsWith(`${o.path}.`))) out.push(h.path);
  });
  return [...new Set(out)].sort();
}

function countChildren(graph: Graph, m: Module): number {
  return graph.modules.filter((x) => x.path.startsWith(`${m.path}.`)).length;
}

/**
 * Adds adapters to `graph` as `exp.lora` says and sets `trainable` on every param: LoRA tensors,
 * modules_to_save and (with `train.trainBase`) every base weight. Returns the input graph
 * untouched when there are errors. Inputs are never mutated.
 */
export function injectLora(graph: Graph, exp: ResolvedExperiment, sources?: Sources): PassResult {
  const lora = exp.lora;
  const trainBase = exp.train?.trainBase ?? false;
  const tensors: Tensor[] = graph.tensors.map((t) => (t.role === 'param' ? { ...t, trainable: trainBase } : { ...t }));
  if (!lora) return { graph: { ...graph, tensors, lora: null }, diagnostics: [] };
  const { selected, diagnostics } = selectLoraModules(graph, lora, exp, sources);
  if (diagnostics.some((d) => d.severity === 'error')) return { graph, diagnostics };
  const saved = modulesToSaveMatch(graph, lora, exp, sources, []);
  for (const t of tensors) {
    if (t.role === 'param' && saved.some((s) => t.name.startsWith(`${s}.`) || t.name === s)) t.trainable = true;
  }
  const modules = graph.modules.map((m) => ({ ...m, tensors: [...m.tensors] }));
  const adapters: LoraAdapter[] = [];
  const byModule = new Map<string, LoraAdapter>();
  for (const { module: m, target } of selected) {
    const t = lora.targets[target]!;
    const add = (local: 'lora_A' | 'lora_B', shape: number[], init: Tensor['init']): number => {
      const path = `${m.path}.${local}`;
      modules.push({ path, kind: 'lora', inFeatures: shape[1]!, outFeatures: shape[0]!, bias: false, tensors: [`${path}.weight`], used: m.used });
      const id = tensors.length;
      tensors.push({ id, name: `${path}.weight`, shape, dtype: 'f32', role: 'param', init, trainable: true, lora: true });
      return id;
    };
    const aInit = lora.init === 'kaiming' ? { kind: 'uniform' as const, bound: 1 / Math.sqrt(m.inFeatures!) } : { kind: 'normal' as const, std: 1 / t.rank };
    const a = add('lora_A', [t.rank, m.inFeatures!], aInit);
    const b = add('lora_B', [m.outFeatures!, t.rank], { kind: 'zeros' });
    const ad: LoraAdapter = {
      module: m.path, rank: t.rank, alpha: t.alpha, scaling: loraScaling(t.alpha, t.rank, lora.rslora),
      inFeatures: m.inFeatures!, outFeatures: m.outFeatures!, a, b, target,
    };
    adapters.push(ad);
    byModule.set(m.path, ad);
  }
  // Rewrite ops: after each adapted linear, the low-rank path; later readers of y read y'.
  const ops: Op[] = [];
  const rename = new Map<number, number>();
  const activation = (module: string, label: string, shape: number[]): number => {
    const id = tensors.length;
    tensors.push({ id, name: `${module}:${label}`, shape, dtype: 'f32', role: 'activation' });
    return id;
  };
  const emit = (op: Omit<Op, 'id'>): void => { ops.push({ ...op, id: ops.length } as Op); };
  let stream = 0;
  for (const op of graph.ops) {
    emit({ ...op, inputs: op.inputs.map((i) => rename.get(i) ?? i) } as Op);
    const ad = op.kind === 'linear' ? byModule.get(op.module) : undefined;
    if (!ad) continue;
    const x = ops.at(-1)!.inputs[0]!, y = op.outputs[0]!;
    const lead = tensors[y]!.shape.slice(0, -1);
    let xd = x;
    if (lora.dropout > 0) {
      xd = activation(op.module, 'lora_dropout', tensors[x]!.shape);
      emit({ kind: 'dropout', inputs: [x], outputs: [xd], attrs: { p: lora.dropout, stream: stream++ }, module: `${op.module}.lora_A` } as Op);
    }
    const s = activation(op.module, 'lora_s', [...lead, ad.rank]);
    emit({ kind: 'linear', inputs: [xd, ad.a], outputs: [s], attrs: {}, module: `${op.module}.lora_A` } as Op);
    const d = activation(op.module, 'lora_delta', [...lead, ad.outFeatures]);
    emit({ kind: 'linear', inputs: [s, ad.b], outputs: [d], attrs: {}, module: `${op.module}.lora_B` } as Op);
    const ds = activation(op.module, 'lora_scaled', [...lead, ad.outFeatures]);
    emit({ kind: 'scale', inputs: [d], outputs: [ds], attrs: { factor: ad.scaling }, module: op.module } as Op);
    const out = activation(op.module, 'out_lora', [...lead, ad.outFeatures]);
    emit({ kind: 'add', inputs: [y, ds], outputs: [out], attrs: {}, module: op.module } as Op);
    rename.set(y, out);
  }
  const outputs = graph.outputs.map((o) => ({ ...o, tensor: rename.get(o.tensor) ?? o.tensor }));
  return {
    graph: { ...graph, tensors, ops, modules, outputs, lora: { adapters, dropout: lora.dropout, modulesToSave: saved } },
    diagnostics,
  };
}
