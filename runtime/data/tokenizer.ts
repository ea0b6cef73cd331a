// BERT WordPiece tokenization as HuggingFace's BertTokenizer does it (do_lower_case=True by default):
//   normalise (BertNormalizer; each step switchable from tokenizer.json):
//              clean_text: drop NUL / U+FFFD / control characters, whitespace -> ' ';
//              handle_chinese_chars: space out CJK ideographs;
//              lowercase; strip_accents (NFD, drop combining marks; null = follow lowercase);
//   pre-tokenise: split on whitespace, then every punctuation character is its own token;
//   WordPiece: greedy longest match first, continuation pieces prefixed `##`, a word longer than
//              100 characters or with no full segmentation becomes [UNK];
//   encode: [CLS] tokens [SEP], truncated to maxLength (keeping [SEP]), padded with [PAD];
//           attention mask 1 for real tokens, 0 for padding.
// Vocabularies load from `vocab.txt` (one token per line, id = line index) or a `tokenizer.json`
// with a WordPiece model.
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DiagnosticError, type LabelledSpan } from '../../base/diagnostics/types.js';
import { diag } from '../../base/diagnostics/catalog.js';
import { fileErrorText, readRegularFile } from '../../base/files.js';

export interface Encoding {
  ids: Int32Array;
  attentionMask: Uint8Array;
  /** The tokens before padding, for inspection. */
  tokens: string[];
}

const SPECIALS = ['[PAD]', '[UNK]', '[CLS]', '[SEP]'] as const;

/** HuggingFace's BertNormalizer settings (tokenizer.json `normalizer`); defaults are BERT uncased. */
export interface BertNormalization {
  cleanText: boolean;
  handleChineseChars: boolean;
  /** null: strip exactly when lower-casing (as HF's `strip_accents: null`). */
  stripAccents: boolean | null;
  lowercase: boolean;
}
export const BERT_UNCASED: Readonly<BertNormalization> = { cleanText: true, handleChineseChars: true, stripAccents: null, lowercase: true };
/** tokenizer.json `"normalizer": null`: text reaches the pre-tokenizer untouched. */
const NO_NORMALIZATION: Readonly<BertNormalization> = { cleanText: false, handleChineseChars: false, stripAccents: false, lowercase: false };

function fail(message: string, file: string, line?: number): never {
  throw new DiagnosticError(diag('E5030', message, line === undefined ? { file, start: 0, end: 0 } : { file, start: 0, end: 0, line }));
}

export class WordPieceTokenizer {
  readonly vocab: ReadonlyMap<string, number>;
  readonly padId: number; readonly unkId: number; readonly clsId: number; readonly sepId: number;

  constructor(tokens: readonly string[], readonly source: string, readonly maxInputCharsPerWord = 100,
              readonly normalization: Readonly<BertNormalization> = BERT_UNCASED) {
    const vocab = new Map<string, number>();
    tokens.forEach((t, i) => { if (!vocab.has(t)) vocab.set(t, i); });
    this.vocab = vocab;
    const id = (t: string) => {
      const v = vocab.get(t);
      if (v === undefined) fail(`${source} has no ${t} token`, source);
      return v;
    };
    [this.padId, this.unkId, this.clsId, this.sepId] = SPECIALS.map(id) as [number, number, number, number];
  }

  get size(): number { return this.vocab.size; }

  /** The normaliser alone. */
  normalize(text: string): string {
    const n = this.normalization;
    let out = '';
    for (const ch of text) {
      const cp = ch.codePointAt(0)!;
      if (n.cleanText && (cp === 0 || cp === 0xfffd || isControl(ch))) continue;
      if (n.cleanText && isWhitespace(ch)) out += ' ';
      else if (n.handleChineseChars && isCjk(cp)) out += ` ${ch} `;
      else out += ch;
    }
    if (n.lowercase) out = out.toLowerCase();
    if (n.stripAccents ?? n.lowercase) out = out.normalize('NFD').replace(/\p{Mn}/gu, '');
    return out;
  }

  /** Normalisation and pre-tokenisation: the words WordPiece then splits. */
  basicTokens(text: string): string[] {
    const out: string[] = [];
    for (const word of this.normalize(text).split(/\s+/u)) {
      let cur = '';
      for (const ch of word) {
        if (isPunctuation(ch)) {
          if (cur) out.push(cur);
          out.push(ch);
          cur = '';
        } else cur += ch;
      }
      if (cur) out.push(cur);
    }
    return out;
  }

  wordPiece(word: string): string[] {
    const chars = Array.from(word);
    if (chars.length > this.maxInputCharsPerWord) return ['[UNK]'];
    const pieces: string[] = [];
    let start = 0;
    while (start < chars.length) {
      let end = chars.length, found: string | null = null;
      while (start < end) {
        const sub = (start > 0 ? '##' : '') + chars.slice(start, end).join('');
        if (this.vocab.has(sub)) { found = sub; break; }
        end--;
      }
      if (found === null) return ['[UNK]'];
      pieces.push(found);
      start = end;
    }
    return pieces;
  }

  tokenize(text: string): string[] {
    return this.basicTokens(text).flatMap((w) => this.wordPiece(w));
  }

  /** [CLS] text [SEP], truncated / padded to `maxLength` (at least 2). */
  encode(text: string, maxLength: number): Encoding {
    if (!Number.isInteger(maxLength) || maxLength < 2) throw new Error(`encode: maxLength ${maxLength} < 2`);
    const tokens = ['[CLS]', ...this.tokenize(text).slice(0, maxLength - 2), '[SEP]'];
    const ids = new Int32Array(maxLength).fill(this.padId);
    const attentionMask = new Uint8Array(maxLength);
    tokens.forEach((t, i) => { ids[i] = this.vocab.get(t) ?? this.unkId; attentionMask[i] = 1; });
    return { ids, attentionMask, tokens };
  }

  encodeBatch(texts: readonly string[], maxLength: number): { ids: Int32Array; attentionMask: Uint8Array } {
    const ids = new Int32Array(texts.length * maxLength), attentionMask = new Uint8Array(texts.length * maxLength);
    texts.forEach((t, b) => {
      const e = this.encode(t, maxLength);
      ids.set(e.ids, b * maxLength);
      attentionMask.set(e.attentionMask, b * maxLength);
    });
    return { ids, attentionMask };
  }
}

/** Reads `vocab.txt` (one token per line) or a WordPiece `tokenizer.json`. */
export function loadTokenizer(path: string, shownAs: string = path): WordPieceTokenizer {
  let text: string;
  try {
    text = readRegularFile(path, 'utf8');
  } catch (e) {
    throw new DiagnosticError(diag('E5001', `cannot read ${shownAs}: it ${fileErrorText(e)}`, { file: shownAs, start: 0, end: 0 }));
  }
  if (path.endsWith('.json')) {
    let json: { model?: { type?: string; vocab?: Record<string, number>; max_input_chars_per_word?: number; continuing_subword_prefix?: string };
      normalizer?: unknown; pre_tokenizer?: unknown };
    try {
      json = JSON.parse(text) as typeof json;
    } catch (e) {
      fail(`${shownAs} is not valid JSON: ${(e as Error).message}`, shownAs);
    }
    const model = json.model;
    if (!model || model.type !== 'WordPiece' || !model.vocab) fail(`${shownAs} does not hold a WordPiece model (model.type is ${model?.type ?? 'missing'})`, shownAs);
    if ((model.continuing_subword_prefix ?? '##') !== '##') fail(`${shownAs}: continuing_subword_prefix must be "##"`, shownAs);
    const pre = json.pre_tokenizer as { type?: unknown } | null | undefined;
    if (pre !== undefined && pre?.type !== 'BertPreTokenizer') {
      fail(`${shownAs}: pre_tokenizer ${JSON.stringify(pre === null ? null : pre.type)} is not supported (only BertPreTokenizer)`, shownAs);
    }
    const tokens: string[] = [];
    for (const [tok, id] of Object.entries(model.vocab)) {
      if (!Number.isInteger(id) || id < 0) fail(`${shownAs}: token ${JSON.stringify(tok)} has id ${id}`, shownAs);
      if (tokens[id] !== undefined) fail(`${shownAs}: id ${id} is used by ${JSON.stringify(tokens[id])} and ${JSON.stringify(tok)}`, shownAs);
      tokens[id] = tok;
    }
    for (let i = 0; i < tokens.length; i++) if (tokens[i] === undefined) fail(`${shownAs}: vocabulary ids are not contiguous (no token has id ${i})`, shownAs);
    return new WordPieceTokenizer(tokens, shownAs, model.max_input_chars_per_word ?? 100, normalizationOf(json.normalizer, shownAs));
  }
  const lines = text.split(/\r?\n/);
  if (lines.at(-1) === '') lines.pop();
  if (lines.length === 0) fail(`${shownAs} is empty`, shownAs);
  lines.forEach((l, i) => { if (l.trim() === '') fail(`${shownAs}:${i + 1}: empty line; every line of vocab.txt is one token`, shownAs, i + 1); });
  return new WordPieceTokenizer(lines.map((l) => l.trim()), shownAs);
}

/** tokenizer.json's `normalizer`: a BertNormalizer (its four switches honoured), null (none), or
 *  absent (BERT uncased, as a bare vocab.txt). Anything else would tokenize differently from what the
 *  model was trained with, so it is an error rather than silently ignored. */
function normalizationOf(cfg: unknown, shownAs: string): BertNormalization {
  if (cfg === undefined) return { ...BERT_UNCASED };
  if (cfg === null) return { ...NO_NORMALIZATION };
  const c = cfg as Record<string, unknown>;
  if (typeof c !== 'object' || c.type !== 'BertNormalizer') {
    fail(`${shownAs}: normalizer ${JSON.stringify(typeof c === 'object' ? c.type : c)} is not supported (only BertNormalizer or null)`, shownAs);
  }
  const flag = (key: string, dflt: boolean): boolean => {
    const v = c[key];
    if (v === undefined) return dflt;
    if (typeof v !== 'boolean') fail(`${shownAs}: normalizer.${key} must be true or false, got ${JSON.stringify(v)}`, shownAs);
    return v;
  };
  const sa = c.strip_accents;
  if (sa !== undefined && sa !== null && typeof sa !== 'boolean') fail(`${shownAs}: normalizer.strip_accents must be true, false or null, got ${JSON.stringify(sa)}`, shownAs);
  return { cleanText: flag('clean_text', true), handleChineseChars: flag('handle_chinese_chars', true), stripAccents: sa ?? null, lowercase: flag('lowercase', true) };
}

/** The vocabulary shipped for ct_clip_tiny: runtime/data/assets/ct_clip_tiny_vocab.txt. Found next to
 *  this module when run from source, or in the package's source tree when run from dist/. */
export function tinyVocabPath(): string {
  const here = dirname(fileURLToPath(import.meta.url));
  const candidates = [join(here, 'assets', 'ct_clip_tiny_vocab.txt'), join(here, '..', '..', '..', 'runtime', 'data', 'assets', 'ct_clip_tiny_vocab.txt')];
  const found = candidates.find((p) => existsSync(p));
  if (!found) throw new Error(`ct_clip_tiny vocabulary missing; looked in ${candidates.join(', ')}`);
  return found;
}

/** Architectures that ship a vocabulary (runtime/data/assets); every other one needs `model { vocab }`. */
export const BUNDLED_VOCAB: Readonly<Record<string, string>> = { ct_clip_tiny: 'ct_clip_tiny_vocab.txt' };

/** Where the spec wrote the fields the tokenizer depends on (for diagnostics; null = not known). */
export interface TokenizerSpans { vocab?: LabelledSpan | null; vocabSize?: LabelledSpan | null; architecture?: LabelledSpan | null }

/**
 * The tokenizer a model spec asks for: its `vocab` path, or the bundled vocabulary of an
 * architecture that has one (only ct_clip_tiny: CT-CLIP needs CXR-BERT's `vocab.txt`, which medctc
 * does not ship). The vocabulary must have exactly the text encoder's `vocabSize` tokens: fewer
 * would leave embedding rows no token reaches and more would index past the table, and either way
 * the ids would not be the ones the checkpoint was trained with.
 */
export function tokenizerFor(text: { vocab: string | null; vocabSize: number }, architecture: string, at: TokenizerSpans = {}): WordPieceTokenizer {
  if (text.vocab === null) {
    if (!(architecture in BUNDLED_VOCAB)) {
      throw new DiagnosticError(diag('E5030', `${architecture} needs a vocabulary and medctc bundles none for it`, at.architecture ?? at.vocab ?? null,
        { help: architecture === 'ct_clip'
          ? 'add `vocab "PATH/vocab.txt"` to the model block: the vocab.txt of microsoft/BiomedVLP-CXR-BERT-specialized (30,522 tokens), lower-cased as CT-CLIP does'
          : 'add `vocab "PATH"` (a vocab.txt or tokenizer.json) to the model block' }));
    }
    return checkSize(loadTokenizer(tinyVocabPath(), BUNDLED_VOCAB[architecture]), text.vocabSize, `the bundled ${BUNDLED_VOCAB[architecture]}`, at);
  }
  if (!existsSync(text.vocab)) {
    throw new DiagnosticError(diag('E5001', `cannot read the vocabulary ${text.vocab}: no such file`, at.vocab ?? { file: text.vocab, start: 0, end: 0 },
      { help: 'the path is relative to the spec file\'s folder' }));
  }
  return checkSize(loadTokenizer(text.vocab), text.vocabSize, text.vocab, at);
}

function checkSize(tok: WordPieceTokenizer, vocabSize: number, shownAs: string, at: TokenizerSpans): WordPieceTokenizer {
  if (tok.size === vocabSize) return tok;
  const secondary = at.vocabSize ? [{ ...at.vocabSize, label: `vocab_size ${vocabSize}` }] : [];
  throw new DiagnosticError(diag('E5031', `${shownAs} has ${tok.size} tokens but the text encoder's vocab_size is ${vocabSize}`,
    at.vocab ?? at.vocabSize ?? { file: shownAs, start: 0, end: 0 },
    { secondary, help: `use the vocabulary the checkpoint was trained with, or set model { text { vocab_size ${tok.size} } } if the model really has ${tok.size} token embeddings` }));
}

// Character classes exactly as BERT's tokenization.py defines them.
function isWhitespace(ch: string): boolean {
  return ch === ' ' || ch === '\t' || ch === '\n' || ch === '\r' || /\p{Zs}/u.test(ch);
}
function isControl(ch: string): boolean {
  if (ch === '\t' || ch === '\n' || ch === '\r') return false;
  return /\p{Cc}|\p{Cf}|\p{Co}|\p{Cs}/u.test(ch);
}
function isPunctuation(ch: string): boolean {
  const cp = ch.codePointAt(0)!;
  if ((cp >= 33 && cp <= 47) || (cp >= 58 && cp <= 64) || (cp >= 91 && cp <= 96) || (cp >= 123 && cp <= 126)) return true;
  return /\p{P}/u.test(ch);
}
function isCjk(cp: number): boolean {
  return (cp >= 0x4e00 && cp <= 0x9fff) || (cp >= 0x3400 && cp <= 0x4dbf) || (cp >= 0x20000 && cp <= 0x2a6df) ||
    (cp >= 0x2a700 && cp <= 0x2b73f) || (cp >= 0x2b740 && cp <= 0x2b81f) || (cp >= 0x2b820 && cp <= 0x2ceaf) ||
    (cp >= 0xf900 && cp <= 0xfaff) || (cp >= 0x2f800 && cp <= 0x2fa1f);
}
