// Seeded PRNG for everything the runtime draws (weight init, dropout masks, shuffles, bootstrap
// resamples). xoshiro128** on 32-bit integer ops, seeded through splitmix64, so a seed gives the
// same stream on every platform and Node version. Never Math.random: outputs must be reproducible.

const MASK64 = (1n << 64n) - 1n;

/** One splitmix64 step: returns [next state, output]. Exported for its known-answer test. */
export function splitmix64(state: bigint): [bigint, bigint] {
  const s = (state + 0x9e3779b97f4a7c15n) & MASK64;
  let z = s;
  z = ((z ^ (z >> 30n)) * 0xbf58476d1ce4e5b9n) & MASK64;
  z = ((z ^ (z >> 27n)) * 0x94d049bb133111ebn) & MASK64;
  return [s, z ^ (z >> 31n)];
}

/** FNV-1a, to turn stream labels ("dropout", layer names) into seed material. */
function hashLabel(s: string): bigint {
  let h = 0xcbf29ce484222325n;
  for (const b of new TextEncoder().encode(s)) h = ((h ^ BigInt(b)) * 0x100000001b3n) & MASK64;
  return h;
}

const rotl = (x: number, k: number): number => (x << k) | (x >>> (32 - k));

export interface RngState { s: [number, number, number, number]; spare: number | null }

export class Rng {
  private s0 = 0; private s1 = 0; private s2 = 0; private s3 = 0;
  private spare: number | null = null;

  /** A stream for an integer seed (up to 2^64; negative numbers wrap) and optional labels naming
   *  an independent sub-stream: `new Rng(seed, 'lora-init', 'text.encoder.layer.0.query')`. */
  constructor(seed: number | bigint, ...labels: (string | number)[]) {
    if (typeof seed === 'number' && !Number.isSafeInteger(seed)) throw new Error(`Rng: seed ${seed} is not an integer`);
    let state = BigInt(seed) & MASK64;
    for (const l of labels) state = splitmix64(state ^ hashLabel(String(l)))[1];
    const words: number[] = [];
    for (let i = 0; i < 2; i++) {
      const [next, out] = splitmix64(state);
      state = next;
      words.push(Number(out & 0xffffffffn), Number(out >> 32n));
    }
    [this.s0, this.s1, this.s2, this.s3] = words as [number, number, number, number];
    if ((this.s0 | this.s1 | this.s2 | this.s3) === 0) this.s0 = 1; // the all-zero state is a fixed point
  }

  static fromState(state: RngState): Rng {
    const r = new Rng(0);
    [r.s0, r.s1, r.s2, r.s3] = state.s;
    r.spare = state.spare;
    return r;
  }

  /** Snapshot for checkpoints: `Rng.fromState(r.state())` continues the same stream. */
  state(): RngState { return { s: [this.s0, this.s1, this.s2, this.s3], spare: this.spare }; }

  /** Next 32-bit output as an unsigned integer (xoshiro128**). */
  nextU32(): number {
    const result = Math.imul(rotl(Math.imul(this.s1, 5), 7), 9) >>> 0;
    const t = this.s1 << 9;
    this.s2 ^= this.s0;
    this.s3 ^= this.s1;
    this.s1 ^= this.s2;
    this.s0 ^= this.s3;
    this.s2 ^= t;
    this.s3 = rotl(this.s3, 11);
    return result;
  }

  /** Uniform in [0, 1) with 53 random bits. */
  uniform(): number {
    const hi = this.nextU32() >>> 5, lo = this.nextU32() >>> 6;
    return (hi * 67108864 + lo) / 9007199254740992;
  }

  /** Uniform in [lo, hi). */
  range(lo: number, hi: number): number { return lo + (hi - lo) * this.uniform(); }

  /** Uniform integer in [0, n), unbiased (rejection sampling), n <= 2^32. */
  int(n: number): number {
    if (!Number.isInteger(n) || n < 1 || n > 2 ** 32) throw new Error(`Rng.int: bad bound ${n}`);
    const limit = 2 ** 32 - (2 ** 32 % n);
    for (;;) {
      const x = this.nextU32();
      if (x < limit) return x % n;
    }
  }

  /** Normal(mean, std) by Box-Muller; the second value of each pair is kept for the next call. */
  normal(mean = 0, std = 1): number {
    if (this.spare !== null) {
      const z = this.spare;
      this.spare = null;
      return mean + std * z;
    }
    const u = 1 - this.uniform(); // (0, 1]: log stays finite
    const v = this.uniform();
    const r = Math.sqrt(-2 * Math.log(u));
    this.spare = r * Math.sin(2 * Math.PI * v);
    return mean + std * r * Math.cos(2 * Math.PI * v);
  }

  fillUniform(out: Float32Array | Float64Array, lo: number, hi: number): typeof out {
    for (let i = 0; i < out.length; i++) out[i] = this.range(lo, hi);
    return out;
  }

  fillNormal(out: Float32Array | Float64Array, mean = 0, std = 1): typeof out {
    for (let i = 0; i < out.length; i++) out[i] = this.normal(mean, std);
    return out;
  }

  /** Fisher-Yates shuffle in place. */
  shuffle<T>(xs: T[]): T[] {
    for (let i = xs.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      [xs[i], xs[j]] = [xs[j]!, xs[i]!];
    }
    return xs;
  }
}
