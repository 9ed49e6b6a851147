import { DatasetError } from "./errors.js";
import type { DataColumn } from "./frame.js";
import { LevelTable } from "./level-table.js";
import { TEXT_KEPT, numberText } from "./parse-number.js";

// Column storage for the streaming reader. Values go into blocks of rows (the same block size for
// every column, so the reader rotates them all at one row), which grow from a small first block up to
// MAX_BLOCK_ROWS: no large reallocation copies while reading, and one exact-size copy at the end.
// When the input's size is known (a file, a byte array), the second block is sized from the bytes per
// row seen so far and absorbs the first, so a column usually ends as a single array with no copy.
//
// A column starts numeric and stays so while every value parses as a finite number. So that a later
// non-numeric value can turn it categorical with the *original* texts as levels ("1.50" stays "1.50"),
// each numeric value has a text code (see parse-number.ts): how to rebuild its text from the double.
// A column whose values all share one code keeps just that code; the per-row code blocks are only
// allocated when a second code shows up; texts that no code can rebuild ("007", "1e-05", " 4") are kept
// verbatim in a sparse row → text map.

const MAX_BLOCK_ROWS = 65536;
// Hot loops use module-level aliases: global lookups are slow inside VM contexts such as jest's.
const isMissingNumber = Number.isNaN;

/** Rows of the first block: small, so that a wide file costs little before its length is known. */
export function firstBlockRows(columns: number): number {
  return Math.max(16, Math.min(1024, Math.floor(262144 / Math.max(1, columns))));
}

/** Rows of the block after one of `previous` rows, when the input's size gives no estimate. */
export function nextBlockRows(previous: number): number {
  return Math.min(MAX_BLOCK_ROWS, previous * 2);
}

/** {@link ColumnBuilder.kind} of a column still numeric. */
export const NUMERIC = 0;
const CATEGORICAL = 1;
const NO_CODE = -1;

/** One column under construction (numeric until proven otherwise). */
export class ColumnBuilder {
  /** NUMERIC or CATEGORICAL: a small integer, compared in the reader's hot loop. */
  kind: number;
  /** Numeric values: the current block (written at the reader's slot) and the full blocks before it. */
  num: Float64Array;
  readonly numBlocks: Float64Array[] = [];
  /** Categorical codes, blocked the same way. */
  cat: Int32Array;
  readonly catBlocks: Int32Array[] = [];
  readonly levelTable = new LevelTable();
  /** The text code every numeric value so far shares (NO_CODE before the first one). */
  textCode = NO_CODE;
  /** Per-row text codes, blocked like `num`; allocated only once two codes differ. */
  codes: Uint8Array | null = null;
  readonly codeBlocks: Uint8Array[] = [];
  /** Verbatim texts (row → text) of numbers no code can rebuild. */
  kept: Map<number, string> | null = null;

  constructor(
    readonly name: string,
    categorical: boolean,
    blockRows: number,
  ) {
    this.kind = categorical ? CATEGORICAL : NUMERIC;
    this.num = categorical ? new Float64Array(0) : new Float64Array(blockRows);
    this.cat = categorical ? new Int32Array(blockRows) : new Int32Array(0);
  }

  /** Records how the numeric value at (`row`, `slot`) can be rebuilt as text. */
  noteText(row: number, slot: number, code: number, text: string | undefined): void {
    if (code === TEXT_KEPT) {
      (this.kept ??= new Map()).set(row, text ?? "");
    }
    if (this.codes !== null) {
      this.codes[slot] = code;
    } else if (code !== this.textCode) {
      if (this.textCode === NO_CODE) {
        this.textCode = code;
      } else {
        this.materializeCodes()[slot] = code;
      }
    }
  }

  /** Per-row code blocks for the rows so far, filled with the column's single code until now. */
  private materializeCodes(): Uint8Array {
    for (const block of this.numBlocks) this.codeBlocks.push(new Uint8Array(block.length).fill(this.textCode));
    const codes = new Uint8Array(this.num.length).fill(this.textCode);
    this.codes = codes;
    return codes;
  }

  /**
   * Starts a new block of `size` rows (called for every column at the same row). With `merge`, the
   * new block starts with the current one's rows instead: when the input's size predicts the row
   * count, the column then ends as one array and needs no final copy.
   */
  rotate(size: number, merge: boolean): void {
    if (this.kind === NUMERIC) {
      const num = new Float64Array(size);
      if (merge) num.set(this.num);
      else this.numBlocks.push(this.num);
      this.num = num;
      if (this.codes !== null) {
        const codes = new Uint8Array(size);
        if (merge) codes.set(this.codes);
        else this.codeBlocks.push(this.codes);
        this.codes = codes;
      }
    } else {
      const cat = new Int32Array(size);
      if (merge) cat.set(this.cat);
      else this.catBlocks.push(this.cat);
      this.cat = cat;
    }
  }

  /** Turns the numeric values of the first `rows` rows into categorical levels of their source texts. */
  promote(rows: number): void {
    const blocks = [...this.numBlocks, this.num];
    const codeBlocks = this.codes === null ? null : [...this.codeBlocks, this.codes];
    let row = 0;
    for (let b = 0; b < blocks.length; b++) {
      const values = blocks[b] as Float64Array;
      const codes = codeBlocks === null ? null : (codeBlocks[b] as Uint8Array);
      const out = new Int32Array(values.length);
      for (let k = 0; k < values.length; k++, row++) {
        if (row >= rows) break;
        const value = values[k] as number;
        if (isMissingNumber(value)) {
          out[k] = -1;
          continue;
        }
        const code = codes === null ? this.textCode : (codes[k] as number);
        const text = code === TEXT_KEPT ? (this.kept?.get(row) ?? String(value)) : numberText(value, code);
        out[k] = this.levelTable.internText(text);
      }
      if (b < blocks.length - 1) this.catBlocks.push(out);
      else this.cat = out;
    }
    this.kind = CATEGORICAL;
    this.numBlocks.length = 0;
    this.num = new Float64Array(0);
    this.codeBlocks.length = 0;
    this.codes = null;
    this.kept = null;
  }

  /** The finished column of exactly `rows` rows. */
  finish(rows: number): DataColumn {
    if (this.kind === NUMERIC) {
      const values = this.numBlocks.length === 0 ? trim(this.num, rows) : concat(new Float64Array(rows), this.numBlocks, this.num);
      return { name: this.name, kind: "numeric", values };
    }
    return {
      name: this.name,
      kind: "categorical",
      codes: this.catBlocks.length === 0 ? trim(this.cat, rows) : concat(new Int32Array(rows), this.catBlocks, this.cat),
      levels: this.levelTable.levels,
    };
  }
}

function concat<T extends Float64Array | Int32Array>(out: T, blocks: readonly T[], last: T): T {
  let at = 0;
  for (const block of [...blocks, last]) {
    const take = Math.min(block.length, out.length - at);
    if (take <= 0) break;
    out.set(block.subarray(0, take), at);
    at += take;
  }
  if (at !== out.length) throw new DatasetError("InvalidArgument", `column storage holds ${at} rows; expected ${out.length}`);
  return out;
}

/** A single block as the column: as is when exact, a view when little is wasted, else a copy. */
function trim<T extends Float64Array | Int32Array>(block: T, rows: number): T {
  if (block.length === rows) return block;
  return (block.length - rows <= (rows >> 4) + 64 ? block.subarray(0, rows) : block.slice(0, rows)) as T;
}
