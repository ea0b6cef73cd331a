import { describe, expect, it } from 'vitest';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Tokenizer } from '@huggingface/tokenizers';
import { loadTokenizer, tinyVocabPath, tokenizerFor, WordPieceTokenizer } from '../../runtime/data/tokenizer.js';
import { tinyCorpus, tinyVocabLines } from '../../runtime/data/synth/vocab.js';
import { CT_RATE_PATHOLOGIES } from '../../compiler/ir/experiment.js';
import { DiagnosticError } from '../../base/diagnostics/types.js';
import { tempDir } from './helpers.js';

// A hand-made vocabulary: ids are line numbers.
const VOCAB = ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]', 'the', 'lung', 'nodule', 'is', 'present', '.', ',', 'not',
  'pleura', '##l', 'eff', '##usion', 'cafe', '(', ')', 'a', '##b', 'b', '-', 'x', '##y', 'right'];
const tok = new WordPieceTokenizer(VOCAB, 'hand-made');

describe('WordPiece against hand-computed ids', () => {
  it('words, punctuation and special tokens', () => {
    const e = tok.encode('Lung nodule is present.', 8);
    expect(e.tokens).toEqual(['[CLS]', 'lung', 'nodule', 'is', 'present', '.', '[SEP]']);
    expect(Array.from(e.ids)).toEqual([2, 6, 7, 8, 9, 10, 3, 0]);
    expect(Array.from(e.attentionMask)).toEqual([1, 1, 1, 1, 1, 1, 1, 0]);
  });
  it('greedy longest-match-first continuation pieces', () => {
    expect(tok.tokenize('Pleural effusion')).toEqual(['pleura', '##l', 'eff', '##usion']);
    expect(tok.tokenize('abbb')).toEqual(['a', '##b', '##b', '##b']);
  });
  it('a word with no segmentation is one [UNK]', () => {
    expect(tok.tokenize('lungz right')).toEqual(['[UNK]', 'right']);
  });
  it('lower-cases, strips accents, splits punctuation, drops control characters', () => {
    expect(tok.tokenize('CAFÉ\u0000 (x-y),\tthe')).toEqual(['cafe', '(', 'x', '-', '[UNK]', ')', ',', 'the']);
    expect(tok.tokenize('xy')).toEqual(['x', '##y']);
  });
  it('truncation keeps [CLS] and [SEP]; padding fills with [PAD] and mask 0', () => {
    const e = tok.encode('the lung the lung the lung', 5);
    expect(Array.from(e.ids)).toEqual([2, 5, 6, 5, 3]);
    expect(Array.from(e.attentionMask)).toEqual([1, 1, 1, 1, 1]);
    const p = tok.encode('', 4);
    expect(Array.from(p.ids)).toEqual([2, 3, 0, 0]);
    expect(Array.from(p.attentionMask)).toEqual([1, 1, 0, 0]);
  });
  it('batch encoding lays rows out one after another', () => {
    const b = tok.encodeBatch(['lung', 'nodule is'], 4);
    expect(Array.from(b.ids)).toEqual([2, 6, 3, 0, 2, 7, 8, 3]);
  });
});

function bertTokenizerJson(vocab: string[], normalizer: object | null = { type: 'BertNormalizer', clean_text: true, handle_chinese_chars: true, strip_accents: null, lowercase: true }): object {
  const id = (t: string) => vocab.indexOf(t);
  return {
    version: '1.0', truncation: null, padding: null,
    added_tokens: ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]'].map((t) => ({ id: id(t), content: t, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true })),
    normalizer,
    pre_tokenizer: { type: 'BertPreTokenizer' },
    post_processor: {
      type: 'TemplateProcessing',
      single: [{ SpecialToken: { id: '[CLS]', type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }, { SpecialToken: { id: '[SEP]', type_id: 0 } }],
      pair: [{ SpecialToken: { id: '[CLS]', type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }, { SpecialToken: { id: '[SEP]', type_id: 0 } }, { Sequence: { id: 'B', type_id: 1 } }, { SpecialToken: { id: '[SEP]', type_id: 1 } }],
      special_tokens: { '[CLS]': { id: '[CLS]', ids: [id('[CLS]')], tokens: ['[CLS]'] }, '[SEP]': { id: '[SEP]', ids: [id('[SEP]')], tokens: ['[SEP]'] } },
    },
    decoder: { type: 'WordPiece', prefix: '##', cleanup: true },
    model: { type: 'WordPiece', unk_token: '[UNK]', continuing_subword_prefix: '##', max_input_chars_per_word: 100, vocab: Object.fromEntries(vocab.map((t, i) => [t, i])) },
  };
}

describe('oracle: @huggingface/tokenizers on the same tokenizer.json', () => {
  const vocab = tinyVocabLines();
  const json = bertTokenizerJson(vocab);
  const dir = tempDir('tok');
  const path = join(dir, 'tokenizer.json');
  writeFileSync(path, JSON.stringify(json));
  const ours = loadTokenizer(path);
  const hf = new Tokenizer(json, { model_max_length: 512 });
  const samples = [
    ...CT_RATE_PATHOLOGIES.flatMap((p) => [`${p} is present.`, `${p} is not present.`]),
    'There is a lung nodule in the right upper lobe, 12 mm in size.',
    'Bilateral PLEURAL effusion; atelectasis (compressive) in both lower lobes!',
    'Naïve café résumé — über-dense “quoted” text… 3.5cm',
    'Emphysematous   changes\twith\nsubpleural bullae: 15% of the lung.',
    'xyzzy unknownword hyperinflation 2024-01-31',
  ];
  for (const s of samples) {
    it(JSON.stringify(s.slice(0, 40)), () => {
      expect(Array.from(ours.encode(s, 64).ids).filter((_, i) => ours.encode(s, 64).attentionMask[i])).toEqual(hf.encode(s).ids);
    });
  }
});

describe('oracle: tokenizer.json normalizer settings are honoured', () => {
  // Cased and accented entries, so that each switch changes which ids come out.
  const extra = ['Lung', 'Pleural', 'PLEURAL', 'Bilateral', 'There', 'Naïve', 'Naive', 'Café', 'Cafe', 'café', 'résumé', 'CT', 'É', 'é', '##É', '##é',
    '肺', '结', '节', '肺结节', 'x\u0007y', 'a\u200bb'];
  const vocab = [...tinyVocabLines(), ...extra.filter((t) => !tinyVocabLines().includes(t))];
  const samples = [
    'Lung nodule is present.', 'There is a lung nodule in the Right upper lobe.', 'Bilateral PLEURAL effusion; Pleural thickening.',
    'Naïve Café résumé, CAFÉ, É é — über 3.5cm', 'CT: 肺结节 in 肺 left lower lobe', 'x\u0007y and a\u200bb\u0000 effusion\ttab\nnewline',
    'ÉMPHYSEMA   with\u00a0bullae',
  ];
  const configs: Record<string, object | null> = {
    'cased (lowercase false, strip_accents null)': { type: 'BertNormalizer', clean_text: true, handle_chinese_chars: true, strip_accents: null, lowercase: false },
    'cased, accents stripped': { type: 'BertNormalizer', clean_text: true, handle_chinese_chars: true, strip_accents: true, lowercase: false },
    'lower-cased, accents kept': { type: 'BertNormalizer', clean_text: true, handle_chinese_chars: true, strip_accents: false, lowercase: true },
    'no clean_text, no CJK spacing': { type: 'BertNormalizer', clean_text: false, handle_chinese_chars: false, strip_accents: null, lowercase: true },
    'normalizer null': null,
  };
  const dir = tempDir('tok');
  writeFileSync(join(dir, 'uncased.json'), JSON.stringify(bertTokenizerJson(vocab)));
  Object.entries(configs).forEach(([name, normalizer], k) => {
    const json = bertTokenizerJson(vocab, normalizer);
    const path = join(dir, `tokenizer${k}.json`);
    writeFileSync(path, JSON.stringify(json));
    const ours = loadTokenizer(path);
    const hf = new Tokenizer(json, { model_max_length: 512 });
    const uncased = loadTokenizer(join(dir, 'uncased.json'), 'uncased');
    it(name, () => {
      let differsFromUncased = false;
      for (const s of samples) {
        const e = ours.encode(s, 64);
        expect(Array.from(e.ids).filter((_, i) => e.attentionMask[i]), s).toEqual(hf.encode(s).ids);
        if (Array.from(e.ids).join() !== Array.from(uncased.encode(s, 64).ids).join()) differsFromUncased = true;
      }
      expect(differsFromUncased, 'the setting changes some encoding').toBe(true);
    });
  });
  it('other normalizers and pre-tokenizers are refused, not ignored', () => {
    for (const [over, mention] of [[{ normalizer: { type: 'NFKC' } }, 'NFKC'], [{ normalizer: { type: 'BertNormalizer', lowercase: 'yes' } }, 'lowercase'],
      [{ pre_tokenizer: { type: 'Whitespace' } }, 'Whitespace']] as const) {
      const p = join(dir, 'odd.json');
      writeFileSync(p, JSON.stringify({ ...bertTokenizerJson(vocab), ...over }));
      try { loadTokenizer(p); throw new Error('no error'); } catch (e) {
        expect((e as DiagnosticError).diagnostics?.[0]?.code).toBe('E5030');
        expect((e as DiagnosticError).diagnostics[0]!.message).toContain(mention);
      }
    }
  });
});

describe('the ct_clip_tiny vocabulary', () => {
  const lines = readFileSync(tinyVocabPath(), 'utf8').split('\n');
  it('has exactly 512 tokens, specials first, and matches its builder', () => {
    expect(lines.at(-1)).toBe('');
    expect(lines.length - 1).toBe(512);
    expect(lines.slice(0, 5)).toEqual(['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]']);
    expect(lines.slice(0, 512)).toEqual(tinyVocabLines());
  });
  it('is what ct_clip_tiny loads by default, and covers every prompt and report word whole', () => {
    const t = tokenizerFor({ vocab: null, vocabSize: 512 }, 'ct_clip_tiny');
    expect(t.size).toBe(512);
    for (const text of tinyCorpus()) {
      for (const w of t.basicTokens(text)) {
        if (/^\d+$/.test(w)) continue; // numbers are spelled digit by digit
        expect(t.wordPiece(w), `${w} in "${text}"`).toEqual([w]);
      }
    }
  });
  it('other architectures must name a vocabulary (ct_clip: CXR-BERT\'s vocab.txt)', () => {
    const at = { file: 'exp.medct', start: 10, end: 17 };
    try { tokenizerFor({ vocab: null, vocabSize: 30522 }, 'ct_clip', { architecture: at }); throw new Error('no error'); } catch (e) {
      const d = (e as DiagnosticError).diagnostics[0]!;
      expect(d.code).toBe('E5030');
      expect(d.primary).toEqual(at);
      expect(d.help).toContain('BiomedVLP-CXR-BERT-specialized');
    }
  });
  it('a vocabulary whose size is not vocab_size is E5031 with both numbers, smaller or larger', () => {
    const dir = tempDir('toksize');
    const p = join(dir, 'vocab.txt');
    writeFileSync(p, '[PAD]\n[UNK]\n[CLS]\n[SEP]\nhello\n');
    const vocab = { file: 'exp.medct', start: 30, end: 41 }, size = { file: 'exp.medct', start: 50, end: 52 };
    for (const vocabSize of [4, 6, 30522]) {
      try { tokenizerFor({ vocab: p, vocabSize }, 'ct_clip', { vocab, vocabSize: size }); throw new Error('no error'); } catch (e) {
        const d = (e as DiagnosticError).diagnostics[0]!;
        expect(d.code).toBe('E5031');
        expect(d.message).toContain('has 5 tokens');
        expect(d.message).toContain(`vocab_size is ${vocabSize}`);
        expect(d.primary).toEqual(vocab);
        expect(d.secondary[0]).toMatchObject(size);
      }
    }
    expect(tokenizerFor({ vocab: p, vocabSize: 5 }, 'ct_clip').size).toBe(5);
  });
});

describe('vocabulary file errors', () => {
  const dir = tempDir('tok');
  it('a vocab.txt without [CLS]', () => {
    const p = join(dir, 'vocab.txt');
    writeFileSync(p, '[PAD]\n[UNK]\n[SEP]\nhello\n');
    try { loadTokenizer(p); throw new Error('no error'); } catch (e) {
      expect((e as DiagnosticError).diagnostics[0]!.code).toBe('E5030');
      expect((e as DiagnosticError).diagnostics[0]!.message).toContain('[CLS]');
    }
  });
  it('a tokenizer.json that is not WordPiece', () => {
    const p = join(dir, 'tokenizer.json');
    writeFileSync(p, JSON.stringify({ model: { type: 'BPE', vocab: {} } }));
    try { loadTokenizer(p); throw new Error('no error'); } catch (e) {
      expect((e as DiagnosticError).diagnostics[0]!.code).toBe('E5030');
      expect((e as DiagnosticError).diagnostics[0]!.message).toContain('BPE');
    }
  });
});
