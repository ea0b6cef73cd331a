// A small seeded PRNG (sfc32, seeded through splitmix32) so generated data depends only on the
// seed. Streams are derived from (seed, labels...) so each volume is independent of generation order.

function splitmix32(x: number): number {
  x = (x + 0x9e3779b9) | 0;
  let z = x;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
  return (z ^ (z >>> 16)) >>> 0;
}

/** FNV-1a over a string, for turning stream labels into seed material. */
function hashString(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

export class Rng {
  private a: number; private b: number; private c: number; private d: number;
  private spareNormal: number | null = null;

  /** A stream for `seed` and any number of labels, e.g. new Rng(7, 'train', 12). */
  constructor(seed: number, ...labels: (string | number)[]) {
    let h = splitmix32(seed >>> 0 ^ Math.floor(seed / 2 ** 32));
    for (const l of labels) h = splitmix32(h ^ hashString(String(l)));
    this.a = splitmix32(h); this.b = splitmix32(this.a); this.c = splitmix32(this.b); this.d = splitmix32(this.c);
    for (let i = 0; i < 12; i++) this.nextU32();
  }

  nextU32(): number {
    const t = (((this.a + this.b) | 0) + this.d) | 0;
    this.d = (this.d + 1) | 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) | 0;
    this.c = (this.c << 21) | (this.c >>> 11);
    this.c = (this.c + t) | 0;
    return t >>> 0;
  }

  /** Uniform in [0, 1). */
  next(): number { return this.nextU32() / 4294967296; }
  uniform(lo: number, hi: number): number { return lo + (hi - lo) * this.next(); }
  int(lo: number, hiInclusive: number): number { return lo + Math.floor(this.next() * (hiInclusive - lo + 1)); }
  bern(p: number): boolean { return this.next() < p; }
  pick<T>(xs: readonly T[]): T { return xs[Math.floor(this.next() * xs.length)]!; }

  /** Standard normal (Box-Muller, both values used). */
  normal(): number {
    if (this.spareNormal !== null) { const s = this.spareNormal; this.spareNormal = null; return s; }
    let u = this.next();
    while (u <= 1e-12) u = this.next();
    const r = Math.sqrt(-2 * Math.log(u)), th = 2 * Math.PI * this.next();
    this.spareNormal = r * Math.sin(th);
    return r * Math.cos(th);
  }
}
