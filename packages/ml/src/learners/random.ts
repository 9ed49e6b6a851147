/**
 * A small seeded generator (mulberry32): fast, 32-bit state, and the same stream on every platform, which
 * is what makes "same seed → same model" hold. Not for cryptography.
 */
export class SeededRandom {
  private state: number;

  constructor(seed: number) {
    // Mix the seed once so nearby seeds (0, 1, 2…) start far apart.
    this.state = Math.imul((seed | 0) ^ 0x9e3779b9, 0x85ebca6b) >>> 0;
  }

  /** A uniform float in [0, 1). */
  next(): number {
    let t = (this.state = (this.state + 0x6d2b79f5) | 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** A uniform integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }
}
