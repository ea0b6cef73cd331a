// `medctc inspect FILE`: what a weights file holds (names, dtypes, shapes, element count) and
// which architecture preset it is: as is, at other sizes (with the spec block that loads it), or
// the nearest mismatches. Reads only headers and the pickle, never a tensor's bytes, so it is
// instant even on a 1.7 GB checkpoint, and never runs the pickle.
import type { CommandModule } from 'yargs';
import { matchArchitecture, type ArchitectureMatch, type ModelComparison } from '../../compiler/models/match.js';
import { withStateDict } from '../../runtime/io/state-dict.js';

interface InspectArgs { file: string; key?: string; stripPrefix?: string; json: boolean }

const FORMAT_NAMES = { safetensors: 'safetensors', 'torch-zip': 'PyTorch checkpoint (zip, torch >= 1.6)', 'torch-legacy': 'PyTorch checkpoint (legacy, torch < 1.6)' } as const;
const count = (n: number): string => n.toLocaleString('en-US');
const list = (xs: readonly string[], n = 5): string => xs.slice(0, n).join(', ') + (xs.length > n ? `, ... (${xs.length} in all)` : '');

function describeMatch(m: ArchitectureMatch): string[] {
  const b = m.best;
  const lines: string[] = [];
  const extras = (c: ModelComparison): void => {
    if (c.optionalMissing.length) lines.push(`  absent EMA-only buffers (never read by the forward): ${list(c.optionalMissing)}`);
    if (c.unexpected.length) lines.push(`  not part of the model, ignored when loading: ${list(c.unexpected)}`);
  };
  if (m.kind === 'preset') {
    lines.push(`architecture: preset ${b.preset} (${b.asPreset.matched} of its ${b.asPreset.expected} tensors, every shape as the preset's)`);
    lines.push(`  ${count(b.asPreset.parameters)} parameters, ${count(b.asPreset.buffers)} buffer elements`);
    extras(b.asPreset);
  } else if (m.kind === 'sizes') {
    lines.push(`architecture: ${b.preset} at other sizes (${b.sizeDiffs.map((d) => `${d.field} ${d.file}, preset ${d.preset}`).join('; ')})`);
    lines.push(`  spec: ${b.specOverride}`);
    lines.push(`  ${count(b.atFileSizes!.parameters)} parameters, ${count(b.atFileSizes!.buffers)} buffer elements`);
    extras(b.atFileSizes!);
  } else if (Math.max(b.asPreset.matched, b.atFileSizes?.matched ?? 0) === 0) {
    lines.push(`architecture: not a CT-CLIP state dict (no tensor has a name and shape of ${m.all.map((x) => x.preset).join(' or ')})`);
  } else {
    const c = b.atFileSizes && b.atFileSizes.matched > b.asPreset.matched ? b.atFileSizes : b.asPreset;
    lines.push(`architecture: no preset fits; nearest is ${b.preset} (${c.matched} of ${c.expected} tensors match)`);
    if (b.sizeDiffs.length) lines.push(`  sizes read off the file that differ from the preset: ${b.sizeDiffs.map((d) => `${d.field} ${d.file} (preset ${d.preset})`).join(', ')}`);
    if (c.missing.length) lines.push(`  missing: ${list(c.missing)}`);
    for (const w of c.wrongShape.slice(0, 5)) lines.push(`  shape: ${w.name} is [${w.file.join(', ')}], the model has [${w.model.join(', ')}]`);
    if (c.wrongShape.length > 5) lines.push(`  ... ${c.wrongShape.length} shape mismatches in all`);
    extras(c);
  }
  return lines;
}

export const inspectCommand: CommandModule<object, InspectArgs> = {
  command: 'inspect <file>',
  describe: 'Show the tensors of a weights file (safetensors or PyTorch) and which architecture preset it matches',
  builder: (y) => y
    .positional('file', { type: 'string', demandOption: true, describe: 'safetensors file or PyTorch checkpoint (.pt/.pth/.bin)' })
    .option('key', { type: 'string', describe: 'path of the state dict inside a wrapping dict, keys joined by / (e.g. state_dict)' })
    .option('strip-prefix', { type: 'string', describe: 'remove this prefix from every name that has it (e.g. module.)' })
    .option('json', { type: 'boolean', default: false, describe: 'print the report as JSON' }) as never,
  handler: (a) => {
    const r = withStateDict(a.file, (f) => ({
      format: f.format,
      notes: [...f.notes],
      tensors: f.names().map((name) => ({ name, ...f.info(name) })).map(({ name, dtype, shape }) => ({ name, dtype, shape })),
    }), { ...(a.key !== undefined ? { key: a.key } : {}), ...(a.stripPrefix !== undefined ? { stripPrefix: a.stripPrefix } : {}) });
    const elements = r.tensors.reduce((s, t) => s + t.shape.reduce((x, d) => x * d, 1), 0);
    const dtypes: Record<string, number> = {};
    for (const t of r.tensors) dtypes[t.dtype] = (dtypes[t.dtype] ?? 0) + 1;
    const match = matchArchitecture(new Map(r.tensors.map((t) => [t.name, t.shape])));
    if (a.json) {
      process.stdout.write(JSON.stringify({
        ok: true, file: a.file, format: r.format, notes: r.notes, count: r.tensors.length, elements, dtypes,
        architecture: { kind: match.kind, preset: match.best.preset, specOverride: match.best.specOverride, sizeDiffs: match.best.sizeDiffs,
          comparison: match.kind === 'sizes' || (match.best.atFileSizes?.matched ?? -1) > match.best.asPreset.matched ? match.best.atFileSizes : match.best.asPreset },
        tensors: r.tensors,
      }, null, 2) + '\n');
      return;
    }
    const width = Math.max(4, ...r.tensors.map((t) => t.name.length));
    const out: string[] = [`${'name'.padEnd(width)}  dtype  shape`];
    for (const t of r.tensors) out.push(`${t.name.padEnd(width)}  ${t.dtype.padEnd(5)}  [${t.shape.join(', ')}]`);
    out.push('');
    out.push(`${a.file}: ${FORMAT_NAMES[r.format]}, ${count(r.tensors.length)} tensors, ${count(elements)} elements (${Object.entries(dtypes).map(([d, n]) => `${n} ${d}`).join(', ')})`);
    for (const n of r.notes) out.push(`note: ${n}`);
    out.push(...describeMatch(match));
    process.stdout.write(out.join('\n') + '\n');
  },
};
