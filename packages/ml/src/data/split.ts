import { DatasetError } from "./errors.js";
import { SeededRandom } from "./random.js";

/** Options of {@link splitRows}. */
export interface SplitOptions {
  /** Fraction of rows in the first (training) output, in [0, 1], as Studio's Split Data. */
  readonly fraction: number;
  /** Seed of the shuffle; the same seed and row count always give the same split. */
  readonly seed: number;
}

/** Row indexes of the two outputs, each in ascending order. */
export interface RowSplit {
  readonly train: Int32Array;
  readonly holdout: Int32Array;
}

/**
 * Splits rows 0…rows-1 at random into `round(fraction × rows)` training rows and the rest, by a
 * seeded Fisher–Yates shuffle ({@link SeededRandom}); deterministic for a seed. Not stratified.
 */
export function splitRows(rows: number, options: SplitOptions): RowSplit {
  if (!Number.isSafeInteger(rows) || rows < 0 || rows > 0x7fffffff) {
    throw new DatasetError("InvalidArgument", `rows must be an integer in [0, 2^31); got ${rows}`);
  }
  const { fraction, seed } = options;
  if (!(fraction >= 0 && fraction <= 1)) throw new DatasetError("InvalidArgument", `fraction must be in [0, 1]; got ${fraction}`);
  const order = new Int32Array(rows);
  for (let i = 0; i < rows; i++) order[i] = i;
  new SeededRandom(seed).shuffle(order);
  const cut = Math.round(fraction * rows);
  return { train: order.slice(0, cut).sort(), holdout: order.slice(cut).sort() };
}
