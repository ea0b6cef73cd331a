// How far apart a model puts each zero-shot prompt pair, and whether the pairs point different ways.
// Zero-shot scores label p by image · (t⁺_p − t⁻_p) (the two-way softmax is monotone in it), so
// a label is only as good as that direction: when it is short and the same for many labels, their
// scores all measure one thing ("something is present") and not the label. From the repo root:
//   npm run build && node bench/run/prompt-pairs.mjs examples/quickstart.medct [--adapter DIR] [--set K=V ...]
// Embeds the spec's prompts with `medctc embed` (the spec's model; with --adapter, merged) and
// prints per label: |t⁺ − t⁻| of the l2-normalised text latents, and the cosine of its direction
// with the mean direction of the other labels. --json prints the same as one JSON object.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { checkFiles } from '../../dist/compiler/check/index.js';
import { readSafetensors, toFloat32 } from '../../dist/runtime/io/safetensors.js';
import { promptTexts } from '../../dist/runtime/run/feeds.js';

const args = process.argv.slice(2);
const spec = args[0];
if (!spec || spec.startsWith('--')) { console.error('usage: node bench/run/prompt-pairs.mjs SPEC [--adapter DIR] [--set K=V ...] [--json]'); process.exit(2); }
const pass = [];
for (let i = 1; i < args.length; i++) {
  if (args[i] === '--set' || args[i] === '--adapter') pass.push(args[i], args[++i]);
  else if (args[i] !== '--json') { console.error(`unknown argument ${args[i]}`); process.exit(2); }
}
const checked = checkFiles(spec);
const exp = checked.experiments[0];
if (!exp) { console.error(`${spec}: no experiment (run \`medctc check ${spec}\`)`); process.exit(2); }
const { pathologies } = exp.prompts;
const texts = promptTexts(exp.prompts);

const dir = mkdtempSync(join(tmpdir(), 'medctc-prompt-pairs-'));
let latents, dim;
try {
  const out = join(dir, 'prompts.safetensors');
  execFileSync(process.execPath, ['dist/cli/medctc.js', 'embed', spec, '--texts', ...texts, '--out', out, '--quiet', ...pass], { stdio: ['ignore', 'ignore', 'inherit'] });
  const t = readSafetensors(out).tensors.get('text_latents');
  if (!t) throw new Error('embed wrote no text_latents');
  dim = t.shape[1];
  latents = toFloat32(t, out, 'text_latents');
} finally {
  rmSync(dir, { recursive: true, force: true });
}

const row = (i) => { const v = Array.from(latents.subarray(i * dim, (i + 1) * dim)); const s = Math.hypot(...v); return v.map((x) => x / s); };
const diffs = pathologies.map((_, l) => { const a = row(2 * l), b = row(2 * l + 1); return a.map((x, k) => x - b[k]); });
const norm = (v) => Math.hypot(...v);
const unit = (v) => { const s = norm(v); return v.map((x) => x / s); };
const dot = (a, b) => a.reduce((s, x, k) => s + x * b[k], 0);
const units = diffs.map(unit);
const labels = pathologies.map((p, l) => {
  const others = units.filter((_, j) => j !== l);
  const mean = unit(others[0].map((_, k) => others.reduce((s, u) => s + u[k], 0)));
  return { label: p, separation: norm(diffs[l]), cosineWithOthers: dot(units[l], mean) };
});
const generic = labels.filter((r) => r.cosineWithOthers > 0.9).length;
if (args.includes('--json')) {
  console.log(JSON.stringify({ spec, options: pass, labels, sharingOneDirection: generic }));
} else {
  console.log(`| label | |t+ - t-| | cos with the others' mean direction |\n|---|---:|---:|`);
  for (const r of labels) console.log(`| ${r.label} | ${r.separation.toFixed(3)} | ${r.cosineWithOthers.toFixed(2)} |`);
  console.log(`\n${generic} of ${labels.length} prompt pairs point within 26° (cos > 0.9) of the others' mean direction.`);
}
