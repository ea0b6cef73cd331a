// `--set PATH=VALUE` (compiler/check/overrides.ts): an override is checked exactly like the spec,
// records provenance `override`, and its mistakes are diagnostics pointing into the command line.
import { describe, expect, it } from 'vitest';
import { checkFiles } from '../../compiler/check/index.js';

const FILE = 'examples/quickstart.medct';
const check = (...overrides: string[]) => checkFiles(FILE, { overrides });

describe('--set overrides', () => {
  it('sets nested values (every LoRA target takes the block rank), with provenance `override`', () => {
    const plain = check().experiments[0]!;
    const r = check('lora.rank=16', 'train.optimizer.lr=3e-4', 'train.epochs=2');
    expect(r.diagnostics.filter((d) => d.severity === 'error')).toEqual([]);
    const e = r.experiments[0]!;
    expect(e.lora!.targets.map((t) => t.rank)).toEqual(plain.lora!.targets.map(() => 16));
    expect(e.train!.optimizer.lr).toBe(3e-4);
    expect(e.train!.epochs).toBe(2);
    expect(e.train!.optimizer.weightDecay).toBe(plain.train!.optimizer.weightDecay); // the rest of the block is kept
    expect(e.provenance['/train/optimizer/lr']).toMatchObject({ kind: 'override', arg: 'train.optimizer.lr=3e-4', file: '<command line>' });
    expect(e.provenance['/train/optimizer/weightDecay']?.kind).toBe('source');
  });

  it('a wrong value is the checker\'s own diagnostic, located on the command line', () => {
    const r = check('train.epochs=0');
    expect(r.experiments).toEqual([]);
    const d = r.diagnostics.find((x) => x.severity === 'error')!;
    expect(d.primary?.file).toBe('<command line>');
  });

  it('malformed overrides and repeatable keys are E0013', () => {
    for (const bad of ['lora.rank', 'lora.rank=', '1lora=3']) {
      const r = check(bad);
      expect(r.experiments, bad).toEqual([]);
      expect(r.diagnostics.map((d) => d.code), bad).toContain('E0013');
    }
    const t = check('lora.target="x"');
    expect(t.diagnostics.map((d) => d.code)).toContain('E0013');
  });
});
