// Plan validation: the JSON Schema (spec/plan.schema.json, via ajv) plus the invariants a
// schema cannot state (ids dense, references in range, work buffers never overlapping while live).
import { readFileSync } from 'node:fs';
import { Ajv } from 'ajv';
import { overlaps } from './memory.js';
import type { Plan } from './types.js';

const schemaUrl = new URL('../../../spec/plan.schema.json', import.meta.url);
// Compiled once per process; the schema ships next to the compiled code's source tree.
let validateSchema: ReturnType<Ajv['compile']> | null = null;

function schemaValidator(): ReturnType<Ajv['compile']> {
  if (!validateSchema) {
    const url = existsUrl(schemaUrl) ? schemaUrl : new URL('../../spec/plan.schema.json', import.meta.url);
    validateSchema = new Ajv({ allErrors: true, strict: true }).compile(JSON.parse(readFileSync(url, 'utf8')));
  }
  return validateSchema;
}

function existsUrl(u: URL): boolean {
  try { readFileSync(u); return true; } catch { return false; }
}

/** Every problem with `plan`; empty when valid. */
export function validatePlan(plan: unknown): string[] {
  const v = schemaValidator();
  if (!v(plan)) return (v.errors ?? []).map((e) => `${e.instancePath || '/'} ${e.message ?? ''}`.trim());
  const p = plan as Plan;
  const errs: string[] = [];
  p.buffers.forEach((b, i) => { if (b.id !== i) errs.push(`buffer ${i} has id ${b.id}`); });
  p.kernels.forEach((k, i) => {
    if (k.id !== i) errs.push(`kernel ${i} has id ${k.id}`);
    const want = k.phase === 'backward' ? `${k.spec.kind}_backward` : k.spec.kind;
    if (want !== k.kind) errs.push(`kernel ${i}: kind ${k.kind} does not fit its spec (${k.spec.kind}, ${k.phase})`);
    if (k.phase === 'backward' && p.kernels[k.backward?.forward ?? -1]?.spec.kind !== k.spec.kind) errs.push(`kernel ${i}: a backward kernel's spec is its forward kernel's`);
    const used = new Set([...k.inputs, ...k.outputs]);
    for (const st of k.steps) for (const b of st.args) {
      const buf = p.buffers[b];
      if (!buf) errs.push(`kernel ${i} (${k.kind}) step ${st.kernel} uses missing buffer ${b}`);
      else if (!used.has(b) && buf.kind !== 'scratch' && buf.kind !== 'params') errs.push(`kernel ${i} (${k.kind}) step ${st.kernel} touches ${buf.name}, which the kernel does not list`);
    }
    for (const b of [...k.inputs, ...k.outputs, ...k.steps.flatMap((st) => st.args)]) {
      const buf = p.buffers[b];
      if (!buf) { errs.push(`kernel ${i} (${k.kind}) uses missing buffer ${b}`); continue; }
      if (buf.arena === 'work' && (!buf.live || i < buf.live[0] || i > buf.live[1])) errs.push(`kernel ${i} (${k.kind}) uses ${buf.name} outside its lifetime`);
    }
  });
  for (const [name, b] of [...Object.entries(p.inputs), ...Object.entries(p.outputs)]) if (!p.buffers[b]) errs.push(`feed/result ${name} names missing buffer ${b}`);
  const arenaSize = { weights: p.memory.weightsBytes, state: p.memory.stateBytes, work: p.memory.workPeakBytes };
  for (const b of p.buffers) {
    if (b.offset % p.memory.alignment) errs.push(`${b.name}: offset ${b.offset} not aligned`);
    if (b.offset + b.bytes > arenaSize[b.arena]) errs.push(`${b.name}: ends past its ${b.arena} arena`);
    if ((b.arena === 'work') !== (b.live !== null)) errs.push(`${b.name}: lifetime set ${b.live !== null} in arena ${b.arena}`);
  }
  errs.push(...invariantErrors(p));
  errs.push(...overlapErrors(p));
  return errs;
}

/** The hoisting rule (spec/compiler.md §6): invariant kernels are eval forward kernels reading no
 *  volume-derived buffer, and what they hand to per-volume kernels or the caller is live all run. */
export function invariantErrors(p: Plan): string[] {
  const errs: string[] = [];
  const varying = new Set<number>();
  const vol = p.inputs['volume'];
  if (vol !== undefined) varying.add(vol);
  const writtenByInvariant = new Set<number>();
  const whole = (b: number) => { const l = p.buffers[b]?.live; return !l || (l[0] === -1 && l[1] === p.kernels.length); };
  for (const k of p.kernels) {
    if (!k.invariant) {
      if (k.phase === 'forward' && k.inputs.some((b) => varying.has(b))) k.outputs.forEach((b) => varying.add(b));
      else if (k.phase === 'forward' && p.mode === 'eval') errs.push(`kernel ${k.id} (${k.kind}) reads nothing derived from the volume but is not invariant`);
      for (const b of k.inputs) if (writtenByInvariant.has(b) && !whole(b)) errs.push(`${p.buffers[b]!.name}: an invariant result read by per-volume kernel ${k.id} must be live for the whole plan`);
      continue;
    }
    if (p.mode !== 'eval' || k.phase !== 'forward') errs.push(`kernel ${k.id} (${k.kind}): only eval forward kernels can be invariant`);
    for (const b of k.inputs) if (varying.has(b)) errs.push(`kernel ${k.id} (${k.kind}) is invariant but reads ${p.buffers[b]?.name}, which depends on the volume`);
    k.outputs.forEach((b) => writtenByInvariant.add(b));
  }
  for (const [name, b] of Object.entries(p.outputs)) if (writtenByInvariant.has(b) && !whole(b)) errs.push(`output ${name}: an invariant result must be live for the whole plan`);
  return errs;
}

/** Pairs of buffers in one arena that share bytes while both are live (persistent arenas: always live). */
export function overlapErrors(p: Plan): string[] {
  const errs: string[] = [];
  for (const arena of ['weights', 'state', 'work'] as const) {
    const bs = p.buffers.filter((b) => b.arena === arena).sort((a, b) => a.offset - b.offset);
    // Sweep by offset: only buffers whose byte ranges intersect need a lifetime check.
    for (let i = 0; i < bs.length; i++) {
      const a = bs[i]!;
      for (let j = i + 1; j < bs.length && bs[j]!.offset < a.offset + a.bytes; j++) {
        const b = bs[j]!;
        const both = arena !== 'work' || overlaps(a.live!, b.live!);
        if (both) errs.push(`${arena}: ${a.name} [${a.offset}, +${a.bytes}) and ${b.name} [${b.offset}, +${b.bytes}) overlap while both live`);
      }
    }
  }
  return errs;
}
