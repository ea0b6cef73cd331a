// The `.medct` grammar as a chevrotain CstParser. The grammar is deliberately generic: a block
// holds entries `key value* block?`, and the checker (compiler/check/schema.ts) says which keys
// each block accepts. So adding a field never touches the grammar, and the parser can recover
// from any mistake by resynchronising on the next newline or brace.
import { CstParser, type CstNode, type IRecognitionException } from 'chevrotain';
import {
  ALL_TOKENS, Comma, Const, Equals, Experiment, Extends, False, Ident, Import, LBrace, LBracket,
  Let, Newline, NumberLit, RBrace, RBracket, Semi, StringLit, BadString, Sweep, True,
} from './lexer.js';

class MedctParser extends CstParser {
  constructor() {
    super(ALL_TOKENS, { recoveryEnabled: true, maxLookahead: 2, nodeLocationTracking: 'full' });
    this.performSelfAnalysis();
  }

  file = this.RULE('file', () => {
    this.MANY(() => {
      this.OR([
        { ALT: () => this.CONSUME(Newline) },
        { ALT: () => this.CONSUME(Semi) },
        { ALT: () => this.SUBRULE(this.importDecl) },
        { ALT: () => this.SUBRULE(this.letDecl) },
        { ALT: () => this.SUBRULE(this.experimentDecl) },
      ]);
    });
  });

  importDecl = this.RULE('importDecl', () => {
    this.CONSUME(Import);
    this.CONSUME(StringLit);
  });

  letDecl = this.RULE('letDecl', () => {
    this.OR([{ ALT: () => this.CONSUME(Let) }, { ALT: () => this.CONSUME(Const) }]);
    this.CONSUME(Ident);
    this.CONSUME(Equals);
    this.AT_LEAST_ONE(() => this.SUBRULE(this.value));
  });

  experimentDecl = this.RULE('experimentDecl', () => {
    this.CONSUME(Experiment);
    this.CONSUME(StringLit, { LABEL: 'name' });
    this.OPTION(() => {
      this.CONSUME(Extends);
      this.CONSUME2(StringLit, { LABEL: 'parent' });
    });
    this.SUBRULE(this.block);
  });

  block = this.RULE('block', () => {
    this.CONSUME(LBrace);
    this.MANY(() => {
      this.OR([
        { ALT: () => this.CONSUME(Newline) },
        { ALT: () => this.CONSUME(Semi) },
        { ALT: () => this.SUBRULE(this.entry) },
      ]);
    });
    this.CONSUME(RBrace);
  });

  entry = this.RULE('entry', () => {
    this.CONSUME(Ident, { LABEL: 'key' });
    this.MANY(() => this.SUBRULE(this.value));
    this.OPTION(() => this.SUBRULE(this.block));
  });

  value = this.RULE('value', () => {
    this.OR([
      { ALT: () => this.CONSUME(NumberLit) },
      { ALT: () => this.CONSUME(StringLit) },
      { ALT: () => this.CONSUME(BadString) },
      { ALT: () => this.CONSUME(Ident) },
      { ALT: () => this.CONSUME(True) },
      { ALT: () => this.CONSUME(False) },
      { ALT: () => this.SUBRULE(this.list) },
      { ALT: () => { this.CONSUME(Sweep); this.SUBRULE2(this.list); } },
    ]);
  });

  list = this.RULE('list', () => {
    this.CONSUME(LBracket);
    this.OPTION(() => {
      this.SUBRULE(this.value);
      this.MANY(() => {
        this.CONSUME(Comma);
        this.OPTION2(() => this.SUBRULE2(this.value)); // trailing comma allowed
      });
    });
    this.CONSUME(RBracket);
  });
}

let instance: MedctParser | null = null;

/** The shared parser (chevrotain parsers are built once and reused). */
export function parserInstance(): MedctParser {
  return (instance ??= new MedctParser());
}

export interface CstResult {
  cst: CstNode;
  errors: IRecognitionException[];
}
