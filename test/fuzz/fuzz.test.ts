// Fuzzing (issue 14): mutated specs, NIfTI headers, CSV tables, safetensors headers,
// adapter_config.json files and .pt checkpoints never crash, hang or exit 3. The library entry
// points are called in-process (fast); a few cases go through the built CLI as a user runs it.
// An input may be refused, but only with a DiagnosticError (a medctc diagnostic): a TypeError,
// RangeError or any other exception is a bug.
//
// Budget: MEDCTC_FUZZ_RUNS cases per category (default 120, about a minute on one thread in CI);
// MEDCTC_FUZZ_SEED picks the seed (default 14, so a CI failure reproduces). By hand, for example:
//   MEDCTC_FUZZ_RUNS=5000 MEDCTC_FUZZ_SEED=$RANDOM npx vitest run test/fuzz
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { DiagnosticError } from '../../base/diagnostics/types.js';
import { renderDiagnostics } from '../../base/diagnostics/render.js';
import { checkFiles } from '../../compiler/check/index.js';
import { CT_RATE_PATHOLOGIES } from '../../compiler/ir/experiment.js';
import { formatMedct, parseMedct } from '../../grammar/index.js';
import { readPeftConfig, resolveRankAlpha, targetModulesMatch } from '../../runtime/adapter/index.js';
import { readLabels, readMetadata, readReports } from '../../runtime/data/ctrate_tables.js';
import { decodeNifti, encodeNifti1Int16 } from '../../runtime/data/nifti.js';
import { TorchCheckpoint } from '../../runtime/io/pt.js';
import { decodeSafetensors, encodeSafetensors, fromFloat32, toFloat32 } from '../../runtime/io/safetensors.js';

const RUNS = Number(process.env.MEDCTC_FUZZ_RUNS ?? 120);
const SEED = Number(process.env.MEDCTC_FUZZ_SEED ?? 14);
/** One case slower than this counts as a hang. */
const CASE_LIMIT_MS = 5000;

const tmp = mkdtempSync(join(tmpdir(), 'medctc-fuzz-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const tally: Record<string, { cases: number; accepted: number; refused: Map<string, number> }> = {};
afterAll(() => {
  // The closing note's numbers: cases per category and what they got.
  for (const [k, t] of Object.entries(tally)) {
    const refused = [...t.refused].sort((a, b) => b[1] - a[1]).map(([c, n]) => `${c} x${n}`).join(', ');
    console.log(`fuzz ${k}: ${t.cases} cases, ${t.accepted} accepted, refused: ${refused || 'none'}`);
  }
});

/** Runs one case: accepted, or refused with a diagnostic; anything else (or too slow) fails. */
function survive(category: string, input: () => string, fn: () => string | void): void {
  const t = (tally[category] ??= { cases: 0, accepted: 0, refused: new Map() });
  t.cases++;
  const t0 = performance.now();
  try {
    const code = fn(); // a code: refused by a returned diagnostic (the checker returns, never throws)
    if (code) t.refused.set(code, (t.refused.get(code) ?? 0) + 1);
    else t.accepted++;
  } catch (e) {
    if (!(e instanceof DiagnosticError)) {
      throw new Error(`${category}: ${(e as Error)?.name}: ${(e as Error)?.message} for input ${input()}\n${(e as Error)?.stack}`);
    }
    const code = e.diagnostics[0]?.code ?? '?';
    t.refused.set(code, (t.refused.get(code) ?? 0) + 1);
  }
  const ms = performance.now() - t0;
  if (ms > CASE_LIMIT_MS) throw new Error(`${category}: one case took ${Math.round(ms)} ms (a hang) for input ${input()}`);
}

describe('fuzz: the harness', () => {
  it('fails on an exception that is not a diagnostic, and on a slow case', () => {
    expect(() => survive('self-test', () => 'x', () => { (null as unknown as { a: number }).a; })).toThrow(/self-test: TypeError/);
    expect(() => survive('self-test', () => 'x', () => { throw new RangeError('Maximum call stack size exceeded'); })).toThrow(/RangeError/);
    expect(() => survive('self-test', () => 'x', () => { const t = performance.now(); while (performance.now() - t < CASE_LIMIT_MS + 50); })).toThrow(/a hang/);
    delete tally['self-test'];
  });
});

// ------------------------------------------------------------------ byte mutations

type Mutation =
  | { k: 'flip'; at: number; bit: number }
  | { k: 'set'; at: number; v: number }
  | { k: 'int'; at: number; width: 2 | 4 | 8; v: bigint }
  | { k: 'del'; at: number; len: number }
  | { k: 'dup'; at: number; len: number; to: number }
  | { k: 'ins'; at: number; bytes: Uint8Array }
  | { k: 'trunc'; at: number };

/** Positions: mostly near the start (where headers live), sometimes anywhere. */
const pos = fc.oneof({ weight: 3, arbitrary: fc.nat({ max: 400 }) }, { weight: 1, arbitrary: fc.nat() });
const INTERESTING = [0n, 1n, -1n, 0x7fn, 0x80n, 0xffn, 0x7fffn, 0x8000n, 0xffffn, 0x7fffffffn, 0x80000000n, 0xffffffffn, 2n ** 53n, 2n ** 63n - 1n, -(2n ** 63n)];
const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ k: fc.constant('flip' as const), at: pos, bit: fc.nat({ max: 7 }) }),
  fc.record({ k: fc.constant('set' as const), at: pos, v: fc.oneof(fc.constantFrom(0, 0xff, 0x7f, 0x80, 0x22, 0x2c, 0x0a, 0x7b, 0x5d), fc.nat({ max: 255 })) }),
  fc.record({ k: fc.constant('int' as const), at: pos, width: fc.constantFrom(2 as const, 4 as const, 8 as const), v: fc.constantFrom(...INTERESTING) }),
  fc.record({ k: fc.constant('del' as const), at: pos, len: fc.integer({ min: 1, max: 64 }) }),
  fc.record({ k: fc.constant('dup' as const), at: pos, len: fc.integer({ min: 1, max: 64 }), to: pos }),
  fc.record({ k: fc.constant('ins' as const), at: pos, bytes: fc.uint8Array({ minLength: 1, maxLength: 16 }) }),
  fc.record({ k: fc.constant('trunc' as const), at: pos }),
);
const mutations = fc.array(mutation, { minLength: 1, maxLength: 6 });

function mutate(src: Uint8Array, ms: readonly Mutation[]): Uint8Array {
  let b: Uint8Array = Uint8Array.from(src);
  for (const m of ms) {
    if (b.length === 0) break;
    const at = m.at % b.length;
    switch (m.k) {
      case 'flip': b[at]! ^= 1 << m.bit; break;
      case 'set': b[at] = m.v; break;
      case 'int': {
        const w = new Uint8Array(8);
        new DataView(w.buffer).setBigUint64(0, BigInt.asUintN(64, m.v), true);
        b.set(w.subarray(0, Math.min(m.width, b.length - at)), at);
        break;
      }
      case 'del': b = concat(b.subarray(0, at), b.subarray(at + m.len)); break;
      case 'dup': { const piece = b.slice(at, at + m.len); const to = m.to % b.length; b = concat(b.subarray(0, to), piece, b.subarray(to)); break; }
      case 'ins': b = concat(b.subarray(0, at), m.bytes, b.subarray(at)); break;
      case 'trunc': b = b.slice(0, at); break;
    }
  }
  return b;
}

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) { out.set(p, o); o += p.length; }
  return out;
}

const show = (b: Uint8Array): string => `${b.length} bytes, base64 ${Buffer.from(b.subarray(0, 600)).toString('base64')}${b.length > 600 ? '…' : ''}`;
const params = (n = RUNS) => ({ numRuns: n, seed: SEED, endOnFailure: true });

// ------------------------------------------------------------------ specs

const EXAMPLES = readdirSync('examples').filter((f) => f.endsWith('.medct')).sort().map((f) => ({ name: f, text: readFileSync(join('examples', f), 'utf8') }));
const TOKENS = ['{', '}', '[', ']', ',', ';', '=', '"', '\n', '#', 'import', 'let', 'const', 'experiment', 'extends', 'sweep', 'true',
  '1e400', '-0', '.5', '"x"', 'mm', 'HU', 'steps', 'lora', 'rank', 'target', 'regex', '"(a+)+$"', 'none', '\u202e', '\u0000', '\\', '"\\q"',
  'experiment "dup" extends "dup" {}', 'import "../../../etc/passwd"', 'import "quickstart.medct"', '[[[[[[[[', 'sweep [1, 2, 3]'];

type TextEdit = { k: 'token'; at: number; tok: string } | { k: 'cut'; at: number; len: number } | { k: 'line'; from: number; to: number };
const textEdit: fc.Arbitrary<TextEdit> = fc.oneof(
  fc.record({ k: fc.constant('token' as const), at: fc.nat(), tok: fc.constantFrom(...TOKENS) }),
  fc.record({ k: fc.constant('cut' as const), at: fc.nat(), len: fc.integer({ min: 1, max: 40 }) }),
  fc.record({ k: fc.constant('line' as const), from: fc.nat(), to: fc.nat() }),
);

function editText(text: string, edits: readonly TextEdit[]): string {
  let t = text;
  for (const e of edits) {
    if (e.k === 'token') { const at = e.at % (t.length + 1); t = t.slice(0, at) + ' ' + e.tok + ' ' + t.slice(at); }
    else if (e.k === 'cut') { const at = e.at % (t.length + 1); t = t.slice(0, at) + t.slice(at + e.len); }
    else { const lines = t.split('\n'); lines.splice(e.to % (lines.length + 1), 0, lines[e.from % lines.length]!); t = lines.join('\n'); }
  }
  return t;
}

const specCase = fc.record({
  example: fc.nat({ max: EXAMPLES.length - 1 }),
  edits: fc.array(textEdit, { minLength: 1, maxLength: 8 }),
  bytes: fc.option(mutations, { freq: 3 }),
});

function mutatedSpec(c: { example: number; edits: TextEdit[]; bytes: Mutation[] | null }): { name: string; text: string } {
  const ex = EXAMPLES[c.example]!;
  let text = editText(ex.text, c.edits);
  if (c.bytes) text = new TextDecoder().decode(mutate(new TextEncoder().encode(text), c.bytes));
  return { name: ex.name, text };
}

describe('fuzz: specs', () => {
  it('mutated examples/*.medct check to diagnostics, never an exception', () => {
    fc.assert(fc.property(specCase, (c) => {
      const { name, text } = mutatedSpec(c);
      const entry = `examples/${name}`;
      // Imports resolve to the real examples, unmutated.
      const readFile = (p: string) => (p === entry ? text : readFileSync(p, 'utf8'));
      survive('spec', () => JSON.stringify(text), () => {
        const r = checkFiles(entry, { readFile });
        const shown = renderDiagnostics(r.diagnostics, r.sources, { color: false });
        expect(shown).not.toMatch(/[\u0000\u202a-\u202e\u2066-\u2069\u001b]/);
        const p = parseMedct(text, entry);
        if (p.diagnostics.length === 0) formatMedct(p.ast, text);
        return r.diagnostics.find((d) => d.severity === 'error')?.code;
      });
    }), params());
  });
});

// ------------------------------------------------------------------ NIfTI

const NIFTI = encodeNifti1Int16({ dims: [4, 3, 2], pixdim: [0.75, 0.75, 1.5], data: Int16Array.from({ length: 24 }, (_, i) => i * 40 - 1000), description: 'fuzz' });

describe('fuzz: NIfTI', () => {
  it('mutated headers (plain and gzip) decode or are refused with a diagnostic', () => {
    fc.assert(fc.property(mutations, fc.boolean(), (ms, gz) => {
      const raw = mutate(NIFTI, ms);
      const bytes = gz ? new Uint8Array(gzipSync(raw)) : raw;
      survive('nifti', () => show(bytes), () => { decodeNifti(bytes, gz ? 'x.nii.gz' : 'x.nii'); });
    }), params());
  });
});

// ------------------------------------------------------------------ CSV tables

const LABELS = `VolumeName,${CT_RATE_PATHOLOGIES.slice(0, 4).join(',')}\nvalid_1_a_1.nii.gz,1,0,0,1\nvalid_2_a_1.nii.gz,0,0,1,0\n`;
const METADATA = 'VolumeName,RescaleSlope,RescaleIntercept,XYSpacing,ZSpacing\nvalid_1_a_1.nii.gz,1,-1024,"[0.75, 0.75]",1.5\nvalid_2_a_1.nii.gz,1.0,-1024.0,"[0.7, 0.7]",3\n';
const REPORTS = 'VolumeName,Findings_EN,Impressions_EN\nvalid_1_a_1.nii.gz,"No nodule, ""clear"".",Normal.\nvalid_2_a_1.nii.gz,Not given.,Emphysema.\n';

describe('fuzz: CSV tables', () => {
  it('mutated labels, metadata and reports tables are read or refused with a diagnostic', () => {
    const file = join(tmp, 'table.csv');
    fc.assert(fc.property(fc.constantFrom('labels', 'metadata', 'reports'), mutations, (kind, ms) => {
      const src = new TextEncoder().encode(kind === 'labels' ? LABELS : kind === 'metadata' ? METADATA : REPORTS);
      const bytes = mutate(src, ms);
      writeFileSync(file, bytes);
      survive('csv', () => `${kind}: ${show(bytes)}`, () => {
        if (kind === 'labels') readLabels(file, 'labels.csv', CT_RATE_PATHOLOGIES.slice(0, 4), CT_RATE_PATHOLOGIES);
        else if (kind === 'metadata') readMetadata(file, 'metadata.csv');
        else readReports(file, 'reports.csv');
      });
    }), params());
  });
});

// ------------------------------------------------------------------ safetensors

const SAFETENSORS = encodeSafetensors({
  'a.weight': fromFloat32(Float32Array.from([1, 2, 3, 4, 5, 6]), [2, 3]),
  'b.bias': fromFloat32(Float32Array.from([0.5, -0.5]), [2], 'F16'),
  'c.scale': fromFloat32(Float32Array.from([7]), [], 'BF16'),
}, { format: 'pt' });

describe('fuzz: safetensors', () => {
  it('mutated headers decode or are refused with a diagnostic', () => {
    fc.assert(fc.property(mutations, (ms) => {
      const bytes = mutate(SAFETENSORS, ms);
      survive('safetensors', () => show(bytes), () => {
        const { tensors } = decodeSafetensors(bytes, 'x.safetensors');
        for (const [name, t] of tensors) toFloat32(t, 'x.safetensors', name);
      });
    }), params());
  });
});

// ------------------------------------------------------------------ adapter_config.json

const CONFIG = { peft_type: 'LORA', r: 8, lora_alpha: 16, target_modules: '.*\\.(query|value)', rank_pattern: { value: 4 }, alpha_pattern: { 'layer\\.1\\..*': 2 }, lora_dropout: 0.05, modules_to_save: null, bias: 'none' };
// The last path makes `(a+)+$`-style patterns exponential for a backtracking engine.
const PATHS = ['enc.layer.0.attention.self.query', 'enc.layer.1.attention.self.value', 'enc.' + 'a'.repeat(40) + '!'];
const anyJson = fc.oneof(fc.jsonValue({ maxDepth: 2 }), fc.string({ maxLength: 30 }), fc.constantFrom('(a+)+$', '(?=x)', '\\1', '[', 'a{99999}', '.*', 1e308, -1, 0, 1.5, null));

describe('fuzz: adapter_config.json', () => {
  it('mutated and randomly filled configs are read or refused with a diagnostic', () => {
    const file = join(tmp, 'adapter_config.json');
    const field = fc.constantFrom('peft_type', 'r', 'lora_alpha', 'target_modules', 'rank_pattern', 'alpha_pattern', 'lora_dropout', 'modules_to_save', 'bias', 'use_dora', 'use_rslora');
    const structured = fc.array(fc.tuple(field, fc.oneof(anyJson, fc.dictionary(fc.oneof(fc.string({ maxLength: 12 }), fc.constantFrom('(a+)+$', '(', '\\d+', 'q|v')), anyJson, { maxKeys: 3 }))), { maxLength: 4 })
      .map((kv) => JSON.stringify({ ...CONFIG, ...Object.fromEntries(kv) }));
    const bytewise = mutations.map((ms) => mutate(new TextEncoder().encode(JSON.stringify(CONFIG)), ms));
    fc.assert(fc.property(fc.oneof(structured.map((s) => new TextEncoder().encode(s)), bytewise), (bytes) => {
      writeFileSync(file, bytes);
      survive('adapter_config', () => new TextDecoder().decode(bytes), () => {
        const cfg = readPeftConfig(file);
        for (const p of PATHS) {
          if (cfg.target_modules !== null) targetModulesMatch(cfg.target_modules, p);
          resolveRankAlpha(cfg, p);
        }
      });
    }), params());
  });
});

// ------------------------------------------------------------------ .pt checkpoints

const PT_FIXTURES = ['basic.pt', 'basic_deflate.pt', 'basic_legacy.pt', 'basic_legacy_p1.pt', 'basic_p4.pt', 'wrapped.pt', 'module_prefix.pt', 'sparse.pt']
  .map((f) => new Uint8Array(readFileSync(join('test/io/fixtures', f))));

describe('fuzz: .pt checkpoints', () => {
  it('mutated zip and legacy pickles open or are refused with a diagnostic', () => {
    const file = join(tmp, 'x.pt');
    // Mutations anywhere in these small files: the pickle and the zip directory both matter.
    const ptMutations = fc.array(fc.oneof(mutation, mutation.map((m) => ({ ...m, at: m.at * 7919 }))), { minLength: 1, maxLength: 6 });
    fc.assert(fc.property(fc.nat({ max: PT_FIXTURES.length - 1 }), ptMutations, (i, ms) => {
      const bytes = mutate(PT_FIXTURES[i]!, ms);
      writeFileSync(file, bytes);
      survive('pt', () => `fixture ${i}: ${show(bytes)}`, () => {
        const ck = TorchCheckpoint.open(file);
        try {
          for (const name of ck.names()) ck.read(name);
        } finally {
          ck.close();
        }
      });
    }), params());
  });
});

// ------------------------------------------------------------------ the CLI, as a user runs it

describe('fuzz: the CLI', () => {
  const CLI = 'dist/cli/medctc.js';
  const medctc = (...args: string[]) => spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', env: { ...process.env, NO_COLOR: '1', MEDCTC_BACKTRACE: '' }, timeout: 60_000 });
  const expectUserOutcome = (r: ReturnType<typeof medctc>, what: string) => {
    expect(r.error, what).toBeUndefined(); // not killed by the timeout
    expect([0, 2], `${what}: exit ${r.status}\n${r.stderr}`).toContain(r.status);
    expect(r.stderr, what).not.toMatch(/please report|\n\s+at .+:\d+:\d+\)?\n/);
  };

  it('check, inspect: mutated inputs exit 0 or 2 with a diagnostic, never 3', () => {
    const samples = fc.sample(fc.tuple(specCase, mutations, mutations), { numRuns: 3, seed: SEED });
    samples.forEach(([spec, ptMs, stMs], k) => {
      const s = join(tmp, `cli-${k}.medct`);
      writeFileSync(s, mutatedSpec(spec).text);
      expectUserOutcome(medctc('check', s), `check ${s}`);
      const pt = join(tmp, `cli-${k}.pt`);
      writeFileSync(pt, mutate(PT_FIXTURES[k % PT_FIXTURES.length]!, ptMs));
      expectUserOutcome(medctc('inspect', pt), `inspect ${pt}`);
      const st = join(tmp, `cli-${k}.safetensors`);
      writeFileSync(st, mutate(SAFETENSORS, stMs));
      expectUserOutcome(medctc('inspect', st), `inspect ${st}`);
    });
  });
});
