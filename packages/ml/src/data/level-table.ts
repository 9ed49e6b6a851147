// Categorical levels keyed by their bytes: a repeated value is found by hashing and comparing its
// bytes in place, so the reader creates a string only for a level's first occurrence (string creation
// and string hashing dominated reading text columns).

const imul = Math.imul; // module-level: global lookups are slow in VM contexts (jest)
const EMPTY = -1;

/** An open-addressing hash table from a level's UTF-8 bytes to its code, plus the level strings. */
export class LevelTable {
  readonly levels: string[] = [];
  private slots = new Int32Array(64).fill(EMPTY);
  private hashes = new Int32Array(16);
  private starts = new Int32Array(16);
  private lengths = new Int32Array(16);
  private pool = new Uint8Array(1024);
  private poolUsed = 0;
  /** Set by {@link lookup}: the hash and the free slot where {@link add} puts a new level. */
  private lastHash = 0;
  private lastSlot = 0;

  /** The code of the level with bytes `[start, end)`, or -1 when it is new (then call {@link add}). */
  lookup(bytes: Uint8Array, start: number, end: number): number {
    let hash = 0x811c9dc5; // FNV-1a
    for (let i = start; i < end; i++) hash = imul(hash ^ (bytes[i] as number), 0x01000193);
    const mask = this.slots.length - 1;
    const length = end - start;
    let slot = hash & mask;
    for (;;) {
      const code = this.slots[slot] as number;
      if (code === EMPTY) break;
      if (this.hashes[code] === hash && this.lengths[code] === length) {
        const at = this.starts[code] as number;
        let k = 0;
        while (k < length && this.pool[at + k] === bytes[start + k]) k++;
        if (k === length) return code;
      }
      slot = (slot + 1) & mask;
    }
    this.lastHash = hash;
    this.lastSlot = slot;
    return -1;
  }

  /** Adds the level just missed by {@link lookup} (same bytes), whose decoded text is `text`. */
  add(bytes: Uint8Array, start: number, end: number, text: string): number {
    const code = this.levels.length;
    const length = end - start;
    if (code === this.hashes.length) {
      this.hashes = grow(this.hashes, code * 2);
      this.starts = grow(this.starts, code * 2);
      this.lengths = grow(this.lengths, code * 2);
    }
    if (this.poolUsed + length > this.pool.length) {
      const pool = new Uint8Array(Math.max(this.pool.length * 2, this.poolUsed + length));
      pool.set(this.pool.subarray(0, this.poolUsed));
      this.pool = pool;
    }
    this.pool.set(bytes.subarray(start, end), this.poolUsed);
    this.hashes[code] = this.lastHash;
    this.starts[code] = this.poolUsed;
    this.lengths[code] = length;
    this.poolUsed += length;
    this.levels.push(text);
    this.slots[this.lastSlot] = code;
    if ((code + 1) * 2 > this.slots.length) this.rehash();
    return code;
  }

  /** The code of `text`, adding it when new (the slow path, for promoted numeric texts). */
  internText(text: string): number {
    const bytes = Buffer.from(text, "utf8");
    const code = this.lookup(bytes, 0, bytes.length);
    return code >= 0 ? code : this.add(bytes, 0, bytes.length, text);
  }

  private rehash(): void {
    const slots = new Int32Array(this.slots.length * 2).fill(EMPTY);
    const mask = slots.length - 1;
    for (let code = 0; code < this.levels.length; code++) {
      let slot = (this.hashes[code] as number) & mask;
      while (slots[slot] !== EMPTY) slot = (slot + 1) & mask;
      slots[slot] = code;
    }
    this.slots = slots;
  }
}

function grow(array: Int32Array, size: number): Int32Array<ArrayBuffer> {
  const out = new Int32Array(size);
  out.set(array);
  return out;
}
