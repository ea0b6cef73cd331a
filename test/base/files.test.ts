// What medctc says about a path that is not a regular file, for every kind, and that every reader
// answers it with exit 2 and that sentence — never exit 3, and never a hang on a FIFO (the CLI
// runs are bounded by a timeout: a blocked open would fail the test, not stall it).
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { NotARegularFile, readRegularFile, regularFileProblem } from '../../base/files.js';
import { generateSynthetic } from '../../runtime/data/synth/generate.js';
import { smallSpec, tempDir } from '../run/helpers.js';

const CLI = resolve('dist/cli/medctc.js');
function medctc(cwd: string, ...args: string[]) {
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: build first with \`npx tsc -p tsconfig.json\``);
  return spawnSync(process.execPath, [CLI, ...args], { cwd, encoding: 'utf8', timeout: 60_000, env: { ...process.env, NO_COLOR: '1' } });
}
const mkfifo = (p: string) => { const r = spawnSync('mkfifo', [p]); if (r.status !== 0) throw new Error(`mkfifo failed: ${r.stderr}`); };

describe('regularFileProblem', () => {
  it('names each kind of path', () => {
    const d = tempDir('kinds');
    writeFileSync(join(d, 'file'), 'x');
    mkdirSync(join(d, 'dir'));
    mkfifo(join(d, 'fifo'));
    symlinkSync('loop2', join(d, 'loop1'));
    symlinkSync('loop1', join(d, 'loop2'));
    symlinkSync('nowhere', join(d, 'dangling'));
    symlinkSync('file', join(d, 'good-link'));
    expect(regularFileProblem(join(d, 'file'))).toBeNull();
    expect(regularFileProblem(join(d, 'good-link'))).toBeNull();
    expect(regularFileProblem(join(d, 'dir'))).toBe('is a folder, not a file');
    expect(regularFileProblem(join(d, 'fifo'))).toBe('is a named pipe (FIFO), not a file');
    expect(regularFileProblem(join(d, 'loop1'))).toBe('is a symbolic link loop');
    expect(regularFileProblem(join(d, 'dangling'))).toBe('is a dangling symbolic link (to nowhere, which does not exist)');
    expect(regularFileProblem(join(d, 'absent'))).toBe('does not exist');
    expect(regularFileProblem(join(d, 'file', 'below'))).toBe('does not exist (a part of its path is a file, not a folder)');
    expect(regularFileProblem('/dev/null')).toBe('is a device, not a file');
    // The FIFO is refused by stat, without opening it (an open would block: no writer).
    expect(() => readRegularFile(join(d, 'fifo'))).toThrow(NotARegularFile);
    expect(readRegularFile(join(d, 'good-link'), 'utf8')).toBe('x');
  });
});

describe('every reader: exit 2 with what the path is', () => {
  it('the spec, fmt, and an import', () => {
    const d = tempDir('spec-kinds');
    mkfifo(join(d, 'fifo.medct'));
    mkdirSync(join(d, 'dir.medct'));
    symlinkSync('nowhere.medct', join(d, 'dangling.medct'));
    for (const [f, why] of [['fifo.medct', 'is a named pipe (FIFO)'], ['dir.medct', 'is a folder'], ['dangling.medct', 'is a dangling symbolic link']] as const) {
      for (const cmd of ['check', 'fmt']) {
        const r = medctc(d, cmd, f);
        expect(r.status, `${cmd} ${f}: ${r.stderr}`).toBe(2);
        expect(r.stderr).toContain(`cannot read \`${f}\`: it ${why}`);
      }
    }
    writeFileSync(join(d, 'main.medct'), 'import "fifo.medct"\n');
    const r = medctc(d, 'check', 'main.medct');
    expect(r.status, r.stderr).toBe(2);
    expect(r.stderr).toContain('cannot read imported file `fifo.medct`: it is a named pipe (FIFO), not a file');
  });

  it('an adapter file, a CSV and volumes that are not regular files', () => {
    const dir = tempDir('data-kinds');
    const file = smallSpec(dir, { volumes: 10 });
    generateSynthetic({ out: join(dir, 'data'), volumes: 10, seed: 7, site: 'source', shape: [40, 48, 48] });
    // evaluate --adapter with adapter_model.safetensors a FIFO.
    const ad = join(dir, 'adapter');
    mkdirSync(ad);
    writeFileSync(join(ad, 'adapter_config.json'), JSON.stringify({ peft_type: 'LORA', r: 8, lora_alpha: 16, target_modules: ['query'] }));
    mkfifo(join(ad, 'adapter_model.safetensors'));
    let r = medctc(dir, 'evaluate', file, '--adapter', ad, '--backend', 'reference', '--quiet');
    expect(r.status, r.stderr).toBe(2);
    expect(r.stderr).toContain('adapter_model.safetensors: it is a named pipe (FIFO), not a file');
    // A volume that is a FIFO, then a dangling link: E5001 naming it.
    const walk = (d: string): string[] => readdirSync(d, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? walk(join(d, e.name)) : [join(d, e.name)]));
    const victim = walk(join(dir, 'data', 'valid')).filter((p) => p.endsWith('.nii.gz')).sort()[0]!;
    rmSync(victim);
    mkfifo(victim);
    r = medctc(dir, 'evaluate', file, '--backend', 'reference', '--quiet');
    expect(r.status, r.stderr).toBe(2);
    expect(r.stderr).toContain('error[E5001]');
    expect(r.stderr).toContain('it is a named pipe (FIFO), not a file');
    rmSync(victim);
    symlinkSync(join(dir, 'gone.nii.gz'), victim);
    // A folder link back to the split's root would recurse forever without the walk's seen-set.
    symlinkSync(join(dir, 'data', 'valid'), join(dir, 'data', 'valid', 'again'));
    r = medctc(dir, 'evaluate', file, '--backend', 'reference', '--quiet');
    expect(r.status, r.stderr).toBe(2);
    expect(r.stderr).toContain('it is a dangling symbolic link');
    // The labels CSV as a folder.
    const csv = join(dir, 'data', 'multi_abnormality_labels', 'valid_predicted_labels.csv');
    rmSync(csv);
    mkdirSync(csv);
    r = medctc(dir, 'evaluate', file, '--backend', 'reference', '--quiet');
    expect(r.status, r.stderr).toBe(2);
    expect(r.stderr).toContain('valid_predicted_labels.csv: it is a folder, not a file');
  }, 240_000);
});
