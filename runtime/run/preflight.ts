// The checks a run makes before it reads any volume: what they need is the build, the spec and a
// few small files (the vocabulary, the weights file's header, the output folder), so a mistake in
// any of them is reported in seconds rather than after a preprocessing pass over the data. The
// checks that need the split sizes (batch vs split, warmup vs steps: planTraining) follow as soon
// as the tables are read and the volumes listed, still before the first volume is read.
import { accessSync, constants, mkdirSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import { DiagnosticError } from '../../base/diagnostics/types.js';
import { diag } from '../../base/diagnostics/catalog.js';
import { spanFor, type Sources } from '../../compiler/passes/provenance.js';
import { tokenizerFor, type WordPieceTokenizer } from '../data/index.js';
import type { BuiltExperiment } from './build-dir.js';
import { checkDataFitsPlan, textFeeds, type TextFeeds } from './feeds.js';
import type { SpecAt } from './spec-at.js';

/** The tokenizer (vocabulary file and size), and the prompts' feeds checked against both plans. */
export function checkBeforeData(b: BuiltExperiment, o: { at: SpecAt; sources?: Sources; train: boolean }): { tokenizer: WordPieceTokenizer; text: TextFeeds } {
  const exp = b.experiment;
  const written = (ptr: string) => spanFor(exp, o.sources, ptr);
  const vocab = exp.model.text.vocab === null ? null : resolve(b.baseDir, exp.model.text.vocab);
  const tokenizer = tokenizerFor({ vocab, vocabSize: exp.model.text.vocabSize }, exp.model.architecture, {
    vocab: written('/model/text/vocab'), vocabSize: written('/model/text/vocabSize'), architecture: o.at(['/model/architecture']),
  });
  const text = textFeeds(tokenizer, exp.prompts, exp.model.text.maxLength);
  const size = exp.data.preprocess.size;
  checkDataFitsPlan(b.plans.eval, size, text, o.at);
  if (o.train && b.plans.train) {
    // The CLIP loss pairs each volume with its own report; the pair losses read the prompts.
    checkDataFitsPlan(b.plans.train, size, exp.train!.loss === 'clip' ? null : text, o.at);
  }
  return { tokenizer, text };
}

/** The run folder exists (created if need be) and can be written, else E5520 at `outputs.dir`. */
export function ensureOutputDir(dir: string, at: SpecAt): void {
  let problem: string | null = null;
  try {
    mkdirSync(dir, { recursive: true });
    if (!statSync(dir).isDirectory()) problem = 'it is not a folder';
    else accessSync(dir, constants.W_OK);
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    problem = err.code === 'EEXIST' || err.code === 'ENOTDIR' ? 'a file is in the way' : err.code ?? String(e);
  }
  if (problem) {
    throw new DiagnosticError(diag('E5520', `cannot write the run folder ${dir}: ${problem}`, at(['/outputs/dir'], 'run folder'),
      { help: 'choose another outputs.dir (or --out), or remove what is in the way' }));
  }
}
