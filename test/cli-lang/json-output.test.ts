// Issue 14, machine output: every command's `--json` writes exactly one JSON document to stdout and
// nothing else, on success and on a user error (exit 2); stderr then carries only JSON lines
// (progress events). Through the compiled CLI (`npm test` compiles first; run
// `npx tsc -p tsconfig.json` before running this file on its own).
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { CLI, medctcIn } from '../review/cli.js';
import { smallSpec, tempDir } from '../run/helpers.js';

const root = process.cwd();
let dir = '';
let spec = '';
let bad = '';

/** Runs `medctc ...args --json` in `dir`; returns the parsed stdout after checking both streams. */
function json(expectStatus: number | number[], ...args: string[]): unknown {
  const r = medctcIn(dir, ...args, '--json');
  expect([expectStatus].flat(), `${args.join(' ')}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`).toContain(r.status);
  let doc: unknown;
  // The whole of stdout, as a consumer reads it: one value, nothing before or after.
  expect(() => { doc = JSON.parse(r.stdout); }, `stdout of ${args.join(' ')} is not one JSON document:\n${r.stdout}`).not.toThrow();
  for (const line of r.stderr.split('\n').filter((l) => l.trim() !== '')) {
    expect(() => JSON.parse(line), `stderr line of ${args.join(' ')} is not JSON: ${line}`).not.toThrow();
  }
  return doc;
}

const abs = (p: string) => join(root, p);

beforeAll(() => {
  dir = tempDir('json-output');
  spec = smallSpec(dir, { volumes: 10, epochs: 1, batch: 2, pathologies: 2 });
  bad = join(dir, 'bad.medct');
  writeFileSync(bad, readFileSync(abs('test/check/cases/E2001-unknown-field.medct')));
  // The run the review commands (verify, metrics, report) read.
  json(0, 'run', spec, '--out', 'run', '--backend', 'cpu');
}, 120_000);

// [command line, status]: a success and a user error (exit 2) per command.
const cases: [string, () => string[], number | number[]][] = [
  ['check', () => ['check', abs('examples/quickstart.medct')], 0],
  ['check: bad spec', () => ['check', bad], 2],
  ['fmt', () => ['fmt', abs('examples/quickstart.medct')], 0],
  ['fmt: missing file', () => ['fmt', 'nope.medct'], 2],
  ['synth', () => ['synth', '--out', 'synth', '--volumes', '5'], 0],
  ['synth: bad site', () => ['synth', '--out', 'synth2', '--volumes', '5', '--site', 'mars'], 2],
  ['build', () => ['build', spec, '--out', 'build'], 0],
  ['build: bad spec', () => ['build', bad, '--out', 'build2'], 2],
  // The folder the `build` case above wrote (cases run in order).
  ['run: build folder with --epochs', () => ['run', 'build', '--epochs', '2'], 2],
  ['train', () => ['train', spec, '--out', 'train', '--backend', 'cpu', '--limit', '4'], 0],
  ['train: bad option', () => ['train', spec, '--epochs', '0'], 2],
  ['evaluate', () => ['evaluate', spec, '--out', 'eval', '--backend', 'cpu', '--limit', '4'], 0],
  ['evaluate: missing adapter', () => ['evaluate', spec, '--out', 'eval2', '--backend', 'cpu', '--adapter', 'no-adapter'], 2],
  ['run: missing spec', () => ['run', 'no/such.medct'], 2],
  ['export', () => ['export', spec, '--target', 'pytorch', '--out', 'export', '--limit', '4'], 0],
  ['export: bad spec', () => ['export', bad, '--target', 'pytorch', '--out', 'export2'], 2],
  ['export: missing option (usage error)', () => ['export', spec, '--out', 'export3'], 2],
  ['convert', () => ['convert', abs('test/io/fixtures/basic.pt'), 'basic.safetensors'], 0],
  ['convert: missing file', () => ['convert', 'nope.pt', 'nope.safetensors'], 2],
  ['inspect', () => ['inspect', abs('examples/weights/ct_clip_tiny-source.safetensors')], 0],
  ['inspect: missing file', () => ['inspect', 'nope.safetensors'], 2],
  ['embed', () => ['embed', spec, '--texts', 'Cardiomegaly is present.', '--out', 'embed.safetensors', '--backend', 'cpu'], 0],
  ['embed: missing spec', () => ['embed', 'nope.medct', '--texts', 'x', '--out', 'e.safetensors'], 2],
  ['explain', () => ['explain', abs('examples/quickstart.medct')], 0],
  ['explain: bad spec', () => ['explain', bad], 2],
  ['diff', () => ['diff', abs('examples/quickstart.medct'), abs('examples/quickstart-text-only.medct')], 1], // exit 1: they differ
  ['diff: missing file', () => ['diff', abs('examples/quickstart.medct'), 'nope.medct'], 2],
  // Exit 1 is drift, still a report.
  ['verify', () => ['verify', 'run'], [0, 1]],
  ['verify: missing folder', () => ['verify', 'no-run'], 2],
  ['metrics', () => ['metrics', '--scores', 'run/scores.csv'], 0],
  ['metrics: missing file', () => ['metrics', '--scores', 'no/scores.csv'], 2],
  ['report', () => ['report', 'run'], 0],
  ['report: missing folder', () => ['report', 'no-run'], 2],
];

describe('--json: exactly one JSON document on stdout, JSON lines on stderr', () => {
  it.each(cases)('%s', (_name, args, status) => {
    const doc = json(status, ...args()) as { ok?: boolean } | null;
    expect(doc !== null && typeof doc === 'object', 'a JSON object').toBe(true);
    if (status === 2 && doc && 'ok' in doc) expect(doc.ok).toBe(false);
  }, 60_000);
});

// A resolved-experiment file holding no experiment: build, run and export refuse it the same way
// (one shared refusal, cli/commands/build.ts loadRunnable) and write nothing.
describe('a file that defines no experiment', () => {
  it.each([['build', '--out', 'none-build'], ['run', '--out', 'none-run'], ['export', '--target', 'pytorch', '--out', 'none-export']])('%s: E3021, exit 2', (cmd, ...rest) => {
    writeFileSync(join(dir, 'none.json'), '[]\n');
    const doc = json(2, cmd, 'none.json', ...rest) as { ok: boolean; diagnostics: { code: string; message: string }[] };
    expect(doc.ok).toBe(false);
    expect(doc.diagnostics.map((d) => d.code)).toEqual(['E3021']);
    expect(doc.diagnostics[0]!.message).toContain('none.json` defines no experiment');
    expect(existsSync(join(dir, rest[rest.length - 1]!))).toBe(false);
  });
});

// Dawn writes start-up warnings to fd 2 from native code when a WebGPU adapter is opened, also when
// `backend auto` probes it (runtime/device/webgpu/quiet.ts captures them).
describe('Dawn start-up warnings stay off stderr', () => {
  const evaluate = (backend: string, env: Record<string, string>, ...extra: string[]) =>
    spawnSync(process.execPath, [CLI, 'evaluate', spec, '--out', `eval-${backend}`, '--backend', backend, '--limit', '4', ...extra],
      { cwd: dir, encoding: 'utf8', env: { ...process.env, NO_COLOR: '1', ...env } });

  it('--json --backend webgpu / auto: every stderr line is JSON', () => {
    for (const backend of ['webgpu', 'auto']) {
      const r = evaluate(backend, {}, '--json');
      expect(r.status, r.stderr).toBe(0);
      JSON.parse(r.stdout);
      const lines = r.stderr.split('\n').filter((l) => l.trim() !== '');
      for (const l of lines) expect(() => JSON.parse(l), `stderr line is not JSON: ${l}`).not.toThrow();
      if (backend === 'webgpu') expect(lines.some((l) => (JSON.parse(l) as { backend?: string }).backend === 'webgpu'), r.stderr).toBe(true);
    }
  }, 120_000);

  it('text mode shows no Dawn warnings; MEDCTC_DAWN_LOG=1 lets them through', () => {
    const quiet = evaluate('webgpu', {}, '--quiet');
    expect(quiet.status, quiet.stderr).toBe(0);
    expect(quiet.stderr).not.toMatch(/Warning:|BackendVk|artificially reduced/);
    const loud = evaluate('webgpu', { MEDCTC_DAWN_LOG: '1' }, '--quiet');
    expect(loud.status, loud.stderr).toBe(0);
    // Where Dawn says nothing at start-up (some real GPUs) the capture has nothing to show: loud, not silent.
    if (!/Warning:/.test(loud.stderr)) console.warn('json-output: Dawn printed no start-up warning on this machine; the capture is untested here');
    else expect(loud.stderr).toMatch(/Warning:/);
  }, 120_000);
});

// A spec's warnings are part of the machine output too: text mode prints them before the run,
// `--json` puts them in the summary as `medctc build --json` does (code, message, line/column).
describe('run --json: the spec\'s warnings are in the summary', () => {
  it('an unused constant is W2060 in `warnings` with its line; a clean spec has none', () => {
    const warned = join(dir, 'warned.medct');
    writeFileSync(warned, `let unused = 3\n${readFileSync(spec, 'utf8')}`);
    const doc = json(0, 'run', warned, '--out', 'run-warned', '--backend', 'cpu', '--limit', '4') as { ok: boolean; warnings: { code: string; severity: string; primary: { line: number } | null }[] };
    expect(doc.ok).toBe(true);
    expect(doc.warnings.map((w) => [w.code, w.severity, w.primary?.line])).toEqual([['W2060', 'warning', 1]]);
    const clean = json(0, 'evaluate', spec, '--out', 'eval-clean', '--backend', 'cpu', '--limit', '4') as { warnings: unknown[] };
    expect(clean.warnings).toEqual([]);
  }, 120_000);
});
