// `train { sentences { rate  after } }` and `model { image { quantize } }`: what the checker writes
// into the IR, and the diagnostics of their misuse.
import { describe, expect, it } from 'vitest';
import { checkFiles } from '../../compiler/check/index.js';

const check = (text: string) => {
  const r = checkFiles('main.medct', { readFile: (p) => { if (p !== 'main.medct') throw new Error(`ENOENT ${p}`); return text; } });
  return { ...r, errors: r.diagnostics.filter((d) => d.severity === 'error') };
};

const spec = (train: string, image = '') => `experiment "w" {
  model ct_clip_tiny { ${image} }
  data synthetic { root "x" }
  train { train_base true  ${train} }
}
`;

describe('train.sentences', () => {
  it('is null unless written', () => {
    const r = check(spec('loss clip'));
    expect(r.errors).toEqual([]);
    expect(r.experiments[0]!.train!.sentences).toBeNull();
  });

  it('`after` in epochs or steps, like warmup', () => {
    const e = check(spec('loss clip  sentences { rate 0.25; after 4 epochs }'));
    expect(e.errors).toEqual([]);
    expect(e.experiments[0]!.train!.sentences).toEqual({ rate: 0.25, afterSteps: 0, afterEpochs: 4 });
    expect(e.experiments[0]!.provenance['/train/sentences/rate']).toMatchObject({ kind: 'source', line: 4 });
    const s = check(spec('loss clip  sentences { after 300 steps }'));
    expect(s.errors).toEqual([]);
    expect(s.experiments[0]!.train!.sentences).toEqual({ rate: 0.5, afterSteps: 300, afterEpochs: 0 });
  });

  it('needs the CLIP loss (E2045 at the field)', () => {
    const r = check(spec('loss pair_ce  sentences { rate 0.5 }'));
    expect(r.errors.map((d) => d.code)).toEqual(['E2045']);
    expect(r.errors[0]!.message).toMatch(/`loss pair_ce` trains on the prompts/);
    const text = spec('loss pair_ce  sentences { rate 0.5 }');
    expect(text.slice(r.errors[0]!.primary!.start, r.errors[0]!.primary!.end)).toBe('sentences');
  });

  it('rate in (0, 1], after a whole number of steps (E2006)', () => {
    for (const bad of ['rate 0', 'rate 1.5', 'after 2.5 steps', 'after -1 epochs']) {
      const r = check(spec(`loss clip  sentences { ${bad} }`));
      expect(r.errors.map((d) => d.code), bad).toContain('E2006');
    }
    expect(check(spec('loss clip  sentences { rate 1 }')).errors).toEqual([]);
  });

  it('an unknown field inside is E2001 with a suggestion', () => {
    const r = check(spec('loss clip  sentences { rat 0.5 }'));
    expect(r.errors.length).toBe(1);
    expect(JSON.stringify(r.errors[0])).toMatch(/rate/);
  });
});

describe('model.image.quantize', () => {
  it('is true (CT-CLIP) unless set, and a bool', () => {
    expect(check(spec('loss clip')).experiments[0]!.model.image.quantize).toBe(true);
    expect(check(spec('loss clip', 'image { quantize false }')).experiments[0]!.model.image.quantize).toBe(false);
    expect(check(spec('loss clip', 'image { quantize 0 }')).errors.length).toBe(1);
  });
});
