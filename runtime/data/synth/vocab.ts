// The ct_clip_tiny vocabulary (runtime/data/assets/ct_clip_tiny_vocab.txt), derived from the words
// the tiny model can meet: the 18 CT-CLIP prompts ("X is present." / "X is not present.") and every
// phrase the synthetic reports use. Single characters and `##` characters come first so any text
// still tokenizes (spelled out) rather than collapsing to [UNK]. test/data checks the shipped
// file equals this function's output; regenerate it with
//   node -e "import('./dist/runtime/data/synth/vocab.js').then(m => process.stdout.write(m.tinyVocabLines().join('\n') + '\n'))" > runtime/data/assets/ct_clip_tiny_vocab.txt
import { CT_RATE_PATHOLOGIES } from '../../../compiler/ir/experiment.js';
import { WordPieceTokenizer } from '../tokenizer.js';
import { IMPRESSION_TERMS, REPORT_PHRASES } from './reports.js';

export const TINY_VOCAB_SIZE = 512;

/** Every text the tiny model is expected to read, for building and checking the vocabulary. */
export function tinyCorpus(): string[] {
  const texts: string[] = [];
  for (const p of CT_RATE_PATHOLOGIES) texts.push(`${p} is present.`, `${p} is not present.`);
  for (const list of Object.values(REPORT_PHRASES.normal)) texts.push(...list);
  for (const list of Object.values(REPORT_PHRASES.abnormal)) texts.push(...list.map((s) => s.replace(/\{\w+\}/g, ' ')));
  texts.push(...[REPORT_PHRASES.affirm, ...REPORT_PHRASES.negative].map((s) => s.replace(/\{\w+\}/g, ' ')));
  texts.push(...REPORT_PHRASES.impression.none, ...REPORT_PHRASES.impression.lead, ...REPORT_PHRASES.slotWords);
  texts.push(...Object.values(IMPRESSION_TERMS));
  return texts;
}

export function tinyVocabLines(): string[] {
  const specials = ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]'];
  const chars = [...'.,:;-()/%\'"?!', ...'0123456789', ...'abcdefghijklmnopqrstuvwxyz'];
  const pieces = [...'abcdefghijklmnopqrstuvwxyz0123456789'].map((c) => `##${c}`);
  const basic = new WordPieceTokenizer([...specials, ...chars], 'tiny-vocab-builder');
  const words: string[] = [];
  const seen = new Set([...specials, ...chars, ...pieces]);
  for (const t of tinyCorpus()) {
    for (const w of basic.basicTokens(t)) {
      if (!seen.has(w) && !/^\d+$/.test(w)) { seen.add(w); words.push(w); }
    }
  }
  const lines = [...specials, ...chars, ...pieces, ...words];
  if (lines.length > TINY_VOCAB_SIZE) throw new Error(`tiny vocabulary needs ${lines.length} > ${TINY_VOCAB_SIZE} entries`);
  for (let u = 0; lines.length < TINY_VOCAB_SIZE; u++) lines.push(`[unused${u}]`);
  return lines;
}
