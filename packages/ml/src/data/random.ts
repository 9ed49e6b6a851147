import { DatasetError } from "./errors.js";

// A module-level alias: global lookups are slow inside jest's VM context, and this is the hot call.
const imul = Math.imul;

/**
 * A seeded pseudo-random generator: xoshiro128** (Blackman & Vigna), its 128-bit state filled from the
 * seed by splitmix32. Small, fast with Math.imul, and the same sequence on every platform for a seed —
 * what makes a split or a subsample reproducible from the seed recorded in the model's lineage.
 */
export class SeededRandom {
  private s0: number;
  private s1: number;
  private s2: number;
  private s3: number;

  /** `seed`: every safe integer is accepted (its high 21 bits are mixed in too). */
  constructor(seed: number) {
    if (!Number.isSafeInteger(seed)) throw new DatasetError("InvalidArgument", `seed must be a safe integer; got ${seed}`);
    const high = Math.floor(seed / 4294967296);
    let state = (seed >>> 0) ^ Math.imul(high >>> 0, 0x9e3779b9);
    const splitmix32 = (): number => {
      state = (state + 0x9e3779b9) | 0;
      let z = state;
      z = Math.imul(z ^ (z >>> 16), 0x21f0aaad);
      z = Math.imul(z ^ (z >>> 15), 0x735a2d97);
      return (z ^ (z >>> 15)) >>> 0;
    };
    this.s0 = splitmix32();
    this.s1 = splitmix32();
    this.s2 = splitmix32();
    this.s3 = splitmix32();
  }

  /** A generator at a given raw 128-bit state (not all zero): checks against reference vectors. */
  static fromState(state: readonly [number, number, number, number]): SeededRandom {
    if (state.every((word) => (word | 0) === 0)) throw new DatasetError("InvalidArgument", "xoshiro128** state must not be all zero");
    const random = new SeededRandom(0);
    [random.s0, random.s1, random.s2, random.s3] = state.map((word) => word | 0) as [number, number, number, number];
    return random;
  }

  /** The next 32 random bits as an unsigned integer. */
  nextUint32(): number {
    const result = imul(rotl(imul(this.s1, 5), 7), 9) >>> 0;
    const t = this.s1 << 9;
    this.s2 ^= this.s0;
    this.s3 ^= this.s1;
    this.s1 ^= this.s2;
    this.s0 ^= this.s3;
    this.s2 ^= t;
    this.s3 = rotl(this.s3, 11);
    return result;
  }

  /** A float in [0, 1) with 53 random bits. */
  nextFloat(): number {
    const high = this.nextUint32() >>> 5;
    const low = this.nextUint32() >>> 6;
    return (high * 67108864 + low) / 9007199254740992;
  }

  /** An integer in [0, bound) without modulo bias (bound ≤ 2^32). */
  nextInt(bound: number): number {
    if (!(bound > 0 && bound <= 4294967296 && bound % 1 === 0)) {
      throw new DatasetError("InvalidArgument", `bound must be an integer in [1, 2^32]; got ${bound}`);
    }
    // Rejection sampling: draw below the largest multiple of bound that fits in 32 bits.
    const limit = 4294967296 - (4294967296 % bound);
    for (;;) {
      const value = this.nextUint32();
      if (value < limit) return value % bound;
    }
  }

  /** Shuffles `values` in place (Fisher–Yates) and returns it. */
  shuffle<T extends { [index: number]: number; length: number }>(values: T): T {
    for (let i = values.length - 1; i > 0; i--) {
      const j = this.nextInt(i + 1);
      const swap = values[i] as number;
      values[i] = values[j] as number;
      values[j] = swap;
    }
    return values;
  }
}

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}
