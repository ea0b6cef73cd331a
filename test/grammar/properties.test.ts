// Properties of the front end: formatting is idempotent and meaning-preserving, and no input,
// however mangled, makes the parser or checker throw or hang (only diagnostics come back).
import { readFileSync, readdirSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { formatMedct, parseMedct, stripPositions } from '../../grammar/index.js';
import { checkFiles } from '../../compiler/check/index.js';
import { CATALOG } from '../../base/diagnostics/catalog.js';
import { renderDiagnostics } from '../../base/diagnostics/render.js';

const KEYWORDS = new Set(['import', 'let', 'const', 'experiment', 'extends', 'sweep', 'true', 'false']);
const UNIT_NAMES = ['HU', 'mm', 'voxels', 'steps'];
const ident = fc.stringMatching(/^[a-z_][a-z0-9_]{0,6}(\.[a-z_][a-z0-9_]{0,3})?$/).filter((s) => !KEYWORDS.has(s) && !UNIT_NAMES.includes(s));
const number = fc.oneof(
  fc.integer({ min: -100000, max: 100000 }).map(String),
  fc.double({ noNaN: true, noDefaultInfinity: true, min: -1e6, max: 1e6 }).map((x) => String(x)),
  fc.constantFrom('1e-4', '0.05', '.5', '3.', '2E+3'),
);
const str = fc.string({ maxLength: 12 }).map((s) => JSON.stringify(s));
const unit = fc.option(fc.constantFrom(...UNIT_NAMES), { nil: undefined });

// Units follow a whole field value (`[1, 2] mm`, `500 steps`), never a list item.
const { value } = fc.letrec<{ value: string; scalar: string; item: string; list: string }>((tie) => ({
  scalar: fc.oneof(
    fc.tuple(number, unit).map(([n, u]) => (u ? `${n} ${u}` : n)),
    str, ident, fc.constantFrom('true', 'false'),
  ),
  item: fc.oneof({ maxDepth: 2, depthIdentifier: 'i' }, number, str, ident, fc.constantFrom('true', 'false'),
    fc.array(tie('item'), { maxLength: 3 }).map((xs) => `[${xs.join(', ')}]`)),
  list: fc.tuple(fc.array(tie('item'), { maxLength: 4 }), fc.boolean(), unit)
    .map(([xs, multiline, u]) => `[${xs.join(multiline ? ',\n   ' : ', ')}]${u ? ' ' + u : ''}`),
  value: fc.oneof({ maxDepth: 3, depthIdentifier: 'v' }, tie('scalar'), tie('scalar'), tie('list'),
    fc.array(tie('item'), { maxLength: 3 }).map((xs) => `sweep [${xs.join(', ')}]`)),
}));

const comment = fc.stringMatching(/^[ a-z0-9#{}"]{0,15}$/).map((s) => `# ${s}`.trimEnd());
const sep = fc.constantFrom('\n', '\n\n', ';', ' ;\n', '\n  ');

const { entries } = fc.letrec<{ entry: string; entries: string }>((tie) => ({
  entry: fc.tuple(ident, fc.array(value, { maxLength: 3 }), fc.option(tie('entries'), { nil: undefined }), fc.option(comment, { nil: undefined }))
    .map(([k, vs, block, c]) => {
      const head = [k, ...vs].join(' ');
      const body = block === undefined ? head : `${head} {\n${block}\n}`;
      return c ? `${body} ${c}\n` : body; // a comment runs to the end of its line
    }),
  entries: fc.oneof({ maxDepth: 3, depthIdentifier: 'e' }, fc.constant(''),
    fc.array(fc.tuple(tie('entry'), sep, fc.option(comment, { nil: undefined })), { maxLength: 5 })
      .map((xs) => xs.map(([e, s, c]) => (c ? `${c}\n${e}${s}` : `${e}${s}`)).join(''))),
}));

const topItem = fc.oneof(
  str.map((s) => `import ${s}`),
  fc.tuple(fc.constantFrom('let', 'const'), ident, value).map(([k, n, v]) => `${k} ${n} = ${v}`),
  fc.tuple(str, fc.option(str, { nil: undefined }), entries).map(([n, p, b]) => `experiment ${n}${p ? ` extends ${p}` : ''} {\n${b}\n}`),
  comment,
);
const source = fc.array(fc.tuple(topItem, fc.constantFrom('\n', '\n\n', '\n\n\n')), { maxLength: 5 }).map((xs) => xs.map(([a, b]) => a + b).join(''));

const shape = (text: string) => stripPositions(parseMedct(text, 'x').ast.items);

describe('formatter', () => {
  it('generated sources parse cleanly, format idempotently and keep their meaning and comments', () => {
    fc.assert(fc.property(source, (text) => {
      const parsed = parseMedct(text, 'x');
      expect(parsed.diagnostics).toEqual([]);
      const once = formatMedct(parsed.ast, text);
      const again = parseMedct(once, 'x');
      expect(again.diagnostics).toEqual([]);
      expect(formatMedct(again.ast, once)).toBe(once);
      expect(shape(once)).toEqual(shape(text));
      expect(again.ast.comments.map((c) => c.text.trimEnd())).toEqual(parsed.ast.comments.map((c) => c.text.trimEnd()));
    }), { numRuns: Number(process.env.FC_RUNS ?? 300), seed: Number(process.env.FC_SEED ?? 42) });
  });

  it('examples are already in canonical layout', () => {
    for (const f of readdirSync('examples').filter((x) => x.endsWith('.medct'))) {
      const text = readFileSync(`examples/${f}`, 'utf8');
      expect(formatMedct(parseMedct(text, f).ast, text), f).toBe(text);
    }
  });
});

describe('robustness', () => {
  const examples = Object.fromEntries(readdirSync('examples').filter((f) => f.endsWith('.medct'))
    .map((f) => [`examples/${f}`, readFileSync(`examples/${f}`, 'utf8')]));
  const names = Object.keys(examples);

  const tokens = (t: string) => t.match(/\s+|"[^"\n]*"|[A-Za-z_][\w.]*|-?\d[\d.eE+-]*|./g) ?? [];
  const mutation = fc.oneof(
    fc.record({ op: fc.constant('delete' as const), i: fc.nat() }),
    fc.record({ op: fc.constant('duplicate' as const), i: fc.nat() }),
    fc.record({ op: fc.constant('swap' as const), i: fc.nat(), j: fc.nat() }),
    fc.record({ op: fc.constant('truncate' as const), i: fc.nat() }),
    fc.record({ op: fc.constant('garbage' as const), i: fc.nat(), bytes: fc.uint8Array({ minLength: 1, maxLength: 8 }) }),
    fc.record({ op: fc.constant('huge' as const), i: fc.nat(), n: fc.constantFrom('9'.repeat(400), '1e400', '-1e999', '123456789012345678901234567890', '0.0000000001') }),
    fc.record({ op: fc.constant('nest' as const), i: fc.nat(), n: fc.integer({ min: 1, max: 200 }), ch: fc.constantFrom('[', '{', ']', '}', '"') }),
  );
  type M = typeof mutation extends fc.Arbitrary<infer T> ? T : never;
  const apply = (text: string, m: M): string => {
    const ts = tokens(text);
    const k = (i: number) => i % Math.max(1, ts.length);
    switch (m.op) {
      case 'delete': ts.splice(k(m.i), 1); break;
      case 'duplicate': ts.splice(k(m.i), 0, ts[k(m.i)] ?? ''); break;
      case 'swap': { const a = k(m.i), b = k(m.j); [ts[a], ts[b]] = [ts[b]!, ts[a]!]; break; }
      case 'truncate': return text.slice(0, m.i % (text.length + 1));
      case 'garbage': ts.splice(k(m.i), 0, Buffer.from(m.bytes).toString('latin1')); break;
      case 'huge': { const nums = ts.map((t, i) => [t, i] as const).filter(([t]) => /^-?\d/.test(t)); if (nums.length) ts[nums[m.i % nums.length]![1]] = m.n; break; }
      case 'nest': ts.splice(k(m.i), 0, m.ch.repeat(m.n)); break;
    }
    return ts.join('');
  };

  it('mutated examples give diagnostics, never exceptions', () => {
    fc.assert(fc.property(fc.nat(names.length - 1), fc.array(mutation, { minLength: 1, maxLength: 3 }), (which, ms) => {
      const entry = names[which]!;
      const files = { ...examples, [entry]: ms.reduce(apply, examples[entry]!) };
      const r = checkFiles(entry, { readFile: (p) => { const t = files[p]; if (t === undefined) throw new Error('ENOENT'); return t; } });
      for (const d of r.diagnostics) expect(CATALOG.has(d.code), d.code).toBe(true);
      expect(typeof renderDiagnostics(r.diagnostics, r.sources, { color: false })).toBe('string');
      if (r.diagnostics.some((d) => d.severity === 'error')) expect(r.experiments).toEqual([]);
      const parsed = parseMedct(files[entry]!, entry);
      if (parsed.diagnostics.length === 0) {
        const once = formatMedct(parsed.ast, files[entry]!);
        expect(formatMedct(parseMedct(once, entry).ast, once)).toBe(once);
      }
    }), { numRuns: Number(process.env.FC_RUNS ?? 400), seed: Number(process.env.FC_SEED ?? 7) });
  });

  it('10k-deep nesting is refused with E1005, not a stack overflow', () => {
    for (const text of ['['.repeat(10000), `let x = ${'['.repeat(10000)}${']'.repeat(10000)}`, `experiment "a" ${'{ a '.repeat(10000)}`, '{'.repeat(10000)]) {
      const r = checkFiles('deep.medct', { readFile: () => text });
      expect(r.diagnostics.map((d) => d.code)).toContain(text.startsWith('[') ? 'E1005' : r.diagnostics[0]!.code);
      expect(r.diagnostics.length).toBeGreaterThan(0);
    }
    const r = parseMedct(`let x = ${'['.repeat(10000)}${']'.repeat(10000)}`, 'd');
    expect(r.diagnostics.map((d) => d.code)).toEqual(['E1005']);
  });

  it('a huge flat file of garbage is reported, not looped on', () => {
    const text = Array.from({ length: 2000 }, (_, i) => (i % 3 ? '}} ]] @@ "x' : 'rank [ { ;')).join('\n');
    const t0 = Date.now();
    const r = checkFiles('g.medct', { readFile: () => text });
    expect(r.diagnostics.length).toBeGreaterThan(0);
    expect(Date.now() - t0).toBeLessThan(10000);
  });
});
