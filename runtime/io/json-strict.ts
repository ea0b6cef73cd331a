// A strict JSON parser for file headers: JSON.parse silently keeps the last of two equal keys,
// and a safetensors header with a duplicated tensor name must be rejected, not half-read.
// Grammar is RFC 8259; the result is plain objects/arrays like JSON.parse's.

export class JsonSyntaxError extends Error {
  constructor(message: string, readonly offset: number) { super(message); }
}

export class JsonDuplicateKeyError extends Error {
  /** `path` is the chain of object keys leading to the object that repeats `key` ([] = top level). */
  constructor(readonly key: string, readonly path: string[]) { super(`duplicate key "${key}"`); }
}

const NUMBER = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/y;

export function parseJsonStrict(text: string): unknown {
  let i = 0;
  const fail = (what: string): never => { throw new JsonSyntaxError(`${what} at offset ${i}`, i); };
  const ws = (): void => { while (i < text.length && ' \t\n\r'.includes(text[i]!)) i++; };

  const str = (): string => {
    if (text[i] !== '"') fail('expected a string');
    let out = '';
    i++;
    for (;;) {
      if (i >= text.length) fail('unterminated string');
      const c = text[i]!;
      if (c === '"') { i++; return out; }
      if (c < ' ') fail('control character in string');
      if (c !== '\\') { out += c; i++; continue; }
      const e = text[i + 1];
      const simple: Record<string, string> = { '"': '"', '\\': '\\', '/': '/', b: '\b', f: '\f', n: '\n', r: '\r', t: '\t' };
      if (e !== undefined && e in simple) { out += simple[e]; i += 2; continue; }
      if (e === 'u' && /^[0-9a-fA-F]{4}$/.test(text.slice(i + 2, i + 6))) {
        out += String.fromCharCode(parseInt(text.slice(i + 2, i + 6), 16));
        i += 6;
        continue;
      }
      fail('invalid escape');
    }
  };

  const value = (path: string[]): unknown => {
    ws();
    const c = text[i];
    if (c === '{') {
      i++;
      const obj: Record<string, unknown> = {};
      const seen = new Set<string>();
      ws();
      if (text[i] === '}') { i++; return obj; }
      for (;;) {
        ws();
        const k = str();
        if (seen.has(k)) throw new JsonDuplicateKeyError(k, path);
        seen.add(k);
        ws();
        if (text[i] !== ':') fail('expected ":"');
        i++;
        // defineProperty so a key named "__proto__" is data, not a prototype change.
        Object.defineProperty(obj, k, { value: value([...path, k]), enumerable: true, writable: true, configurable: true });
        ws();
        if (text[i] === ',') { i++; continue; }
        if (text[i] === '}') { i++; return obj; }
        fail('expected "," or "}"');
      }
    }
    if (c === '[') {
      i++;
      const arr: unknown[] = [];
      ws();
      if (text[i] === ']') { i++; return arr; }
      for (;;) {
        arr.push(value(path));
        ws();
        if (text[i] === ',') { i++; continue; }
        if (text[i] === ']') { i++; return arr; }
        fail('expected "," or "]"');
      }
    }
    if (c === '"') return str();
    NUMBER.lastIndex = i;
    const m = NUMBER.exec(text);
    if (m) { i += m[0].length; return Number(m[0]); }
    for (const [lit, v] of [['true', true], ['false', false], ['null', null]] as const) {
      if (text.startsWith(lit, i)) { i += lit.length; return v; }
    }
    return fail('unexpected character');
  };

  const v = value([]);
  ws();
  if (i !== text.length) fail('trailing characters');
  return v;
}
