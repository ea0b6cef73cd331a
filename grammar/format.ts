// The canonical layout: one entry per line, two-space indent, `key value...` separated by single
// spaces, lists as `[a, b]`. Keeps the user's order, comments (own-line and trailing) and single
// blank lines between items; literals are printed as written. A comment inside a multi-line list
// moves to the line after its entry. Idempotent: formatting formatted text changes nothing.
import type { Block, Comment, Entry, MedctFile, Pos, TopItem, Value } from './ast.js';

/** A block of at most this many plain fields that fits the width is printed on one line: `optimizer adamw { lr 1e-4; weight_decay 0.1 }`. */
const INLINE_MAX_ENTRIES = 3;
const INLINE_MAX_WIDTH = 80;

export function formatMedct(ast: MedctFile, text: string): string {
  return new Printer(ast.comments, text).file(ast.items);
}

class Printer {
  private out: string[] = [];
  private next = 0;            // index of the first comment not printed yet
  private lastEnd = 0;         // end offset of the last thing printed

  constructor(private readonly comments: Comment[], private readonly text: string) {}

  file(items: TopItem[]): string {
    for (const item of items) {
      this.leading(item.start, 0);
      this.line(0, this.top(item), item.start);
      if (item.kind === 'experiment') this.blockBody(item.block, 1, item);
      else this.trailing(item.end);
    }
    this.leading(Infinity, 0);
    while (this.out.length && this.out[this.out.length - 1] === '') this.out.pop();
    return this.out.join('\n') + (this.out.length ? '\n' : '');
  }

  private top(item: TopItem): string {
    switch (item.kind) {
      case 'import': return `import ${JSON.stringify(item.path)}`;
      case 'let': return `${item.constant ? 'const' : 'let'} ${item.name} = ${value(item.value, this.text)}`;
      case 'experiment':
        return `experiment ${this.raw(item.namePos)}${item.parent ? ` extends ${this.raw(item.parent)}` : ''} {`;
    }
  }

  private raw(p: Pos): string {
    return this.text.slice(p.start, p.end);
  }

  /** Prints the entries of `block` and its closing brace; the opening line is already out. */
  private blockBody(block: Block, depth: number, owner: Pos): void {
    this.trailingOnLine(block.start);
    for (const e of block.entries) this.entry(e, depth);
    this.leading(block.end - 1, depth);
    this.out.push('  '.repeat(depth - 1) + '}');
    this.lastEnd = block.end;
    this.trailing(owner.end);
  }

  private entry(e: Entry, depth: number): void {
    this.leading(e.start, depth);
    const head = [e.key, ...e.args.map((a) => value(a, this.text))].join(' ');
    if (e.block) {
      if (e.block.entries.length === 0 && !this.commentsBefore(e.block.end)) {
        this.line(depth, `${head} {}`, e.start);
        this.lastEnd = e.end;
        this.trailing(e.end);
        return;
      }
      const inner = e.block.entries.map((x) => [x.key, ...x.args.map((a) => value(a, this.text))].join(' '));
      const oneLine = `${head} { ${inner.join('; ')} }`;
      if (e.block.entries.length <= INLINE_MAX_ENTRIES && e.block.entries.every((x) => !x.block) && !this.commentsBefore(e.block.end) &&
          2 * depth + oneLine.length <= INLINE_MAX_WIDTH) {
        this.line(depth, oneLine, e.start);
        this.lastEnd = e.end;
        this.trailing(e.end);
        return;
      }
      this.line(depth, `${head} {`, e.start);
      this.blockBody(e.block, depth + 1, e);
    } else {
      this.line(depth, head, e.start);
      this.lastEnd = e.end;
      this.trailing(e.end);
    }
  }

  private commentsBefore(offset: number): boolean {
    return this.next < this.comments.length && this.comments[this.next]!.start < offset;
  }

  private line(depth: number, s: string, start: number): void {
    if (this.out.length && this.blankBetween(this.lastEnd, start) && this.out[this.out.length - 1] !== '' && !this.out[this.out.length - 1]!.endsWith('{')) this.out.push('');
    this.out.push('  '.repeat(depth) + s);
    this.lastEnd = start;
  }

  private blankBetween(a: number, b: number): boolean {
    return /\n[ \t\r]*\n/.test(this.text.slice(a, Math.min(b, this.text.length)));
  }

  /** Own-line comments that come before `offset`. */
  private leading(offset: number, depth: number): void {
    while (this.commentsBefore(offset)) {
      const c = this.comments[this.next++]!;
      this.line(depth, c.text.trimEnd(), c.start);
      this.lastEnd = c.end;
    }
  }

  /** A comment on the same line as the item that ended at `end` is appended to the last line. */
  private trailing(end: number): void {
    if (!this.commentsBefore(Infinity)) return;
    const c = this.comments[this.next]!;
    if (c.start >= end && !this.text.slice(end, c.start).includes('\n') && this.out.length) {
      this.out[this.out.length - 1] += ' ' + c.text.trimEnd();
      this.next++;
      this.lastEnd = c.end;
    }
  }

  /** Comment right after an opening `{`: keep it there. */
  private trailingOnLine(braceStart: number): void {
    this.trailing(braceStart + 1);
  }
}

function value(v: Value, text: string): string {
  const unit = 'unit' in v && v.unit ? ' ' + v.unit.name : '';
  switch (v.kind) {
    case 'number': return v.raw + unit;
    case 'string': return v.raw.endsWith('"') && v.raw.length > 1 ? v.raw : JSON.stringify(v.value);
    case 'ident': return v.name;
    case 'bool': return String(v.value);
    case 'list': return `[${v.items.map((i) => value(i, text)).join(', ')}]${unit}`;
    case 'sweep': return `sweep [${v.items.map((i) => value(i, text)).join(', ')}]${unit}`;
    case 'error': return text.slice(v.start, v.end);
  }
}
