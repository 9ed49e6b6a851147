// Quantile binning for histogram gradient boosting: every feature's values are mapped to at most
// `maxBins` ordered bins (u8), plus one extra bin for NaN right after the feature's last bin (so a
// feature with few distinct values has a short histogram). A value goes to bin b when
// thresholds[b − 1] < x ≤ thresholds[b], so "bin ≤ b" ⇔ "x ≤ thresholds[b]": the trees store the float
// threshold and predict on raw values with exactly the training-time routing. The mapping itself runs
// in the boosting kernel (it must be self-contained to run on helper threads); this file places the
// thresholds and the lookup grid it uses.
import type { TrainingMatrix } from "../model.js";
import { SeededRandom } from "./random.js";

/** Rows sampled to place the quantile thresholds (as scikit-learn's HistGradientBoosting does). */
export const BINNING_SAMPLE = 200_000;
/** Grid cells of the value → bin lookup (a coarse index that makes mapping a value O(1) on average). */
export const BIN_GRID = 1024;

/** The bin boundaries of every feature, and the lookup grid that maps values to bins quickly. */
export interface BinMapper {
  readonly features: number;
  /** Feature j's thresholds are `thresholds[offsets[j] .. offsets[j + 1])`, ascending. */
  readonly thresholds: Float64Array;
  readonly offsets: Int32Array;
  /** Per feature and grid cell (BIN_GRID of them), a bin close to that of any value in the cell. */
  readonly grid: Uint8Array;
  /** Per feature: [first threshold, cells per unit of value]. */
  readonly gridScale: Float64Array;
}

/**
 * Places up to `maxBins − 1` thresholds per feature: midpoints between distinct values when there are at
 * most `maxBins` of them, else midpoint quantiles of a seeded sample of {@link BINNING_SAMPLE} rows.
 */
export function fitBins(m: TrainingMatrix, maxBins: number, seed: number): BinMapper {
  const { rows, features: f, x } = m;
  const sampleRows = sampleIndices(rows, BINNING_SAMPLE, seed);
  const n = sampleRows.length;
  // One pass over the sampled rows (each row's features are contiguous), into per-feature columns.
  const sample = new Float64Array(n * f);
  for (let k = 0; k < n; k++) {
    const base = (sampleRows[k] as number) * f;
    for (let j = 0; j < f; j++) sample[j * n + k] = x[base + j] as number;
  }
  const values = new Float64Array(n);
  const scratch = new Float64Array(n);
  const perFeature: Float64Array[] = [];
  for (let j = 0; j < f; j++) {
    let count = 0;
    for (let k = j * n; k < (j + 1) * n; k++) {
      const v = sample[k] as number;
      if (v === v) values[count++] = v;
    }
    perFeature.push(quantileThresholds(radixSort(values.subarray(0, count), scratch.subarray(0, count)), maxBins));
  }
  const offsets = new Int32Array(f + 1);
  for (let j = 0; j < f; j++) offsets[j + 1] = (offsets[j] as number) + (perFeature[j] as Float64Array).length;
  const thresholds = new Float64Array(offsets[f] as number);
  for (let j = 0; j < f; j++) thresholds.set(perFeature[j] as Float64Array, offsets[j] as number);
  const grid = new Uint8Array(f * BIN_GRID);
  const gridScale = new Float64Array(2 * f);
  for (let j = 0; j < f; j++) {
    const t = perFeature[j] as Float64Array;
    if (t.length === 0) continue;
    const lo = t[0] as number;
    const width = (t[t.length - 1] as number) - lo;
    const perUnit = width > 0 && Number.isFinite(BIN_GRID / width) ? BIN_GRID / width : 0;
    gridScale[2 * j] = lo;
    gridScale[2 * j + 1] = perUnit;
    let b = 0;
    for (let c = 0; c < BIN_GRID; c++) {
      const edge = perUnit > 0 ? lo + c / perUnit : lo;
      while (b < t.length && (t[b] as number) < edge) b++;
      grid[j * BIN_GRID + c] = b;
    }
  }
  return { features: f, thresholds, offsets, grid, gridScale };
}

/** Non-missing bins of feature `j` (thresholds + 1); its NaN bin has this index. */
export function binCount(mapper: BinMapper, j: number): number {
  return (mapper.offsets[j + 1] as number) - (mapper.offsets[j] as number) + 1;
}

function quantileThresholds(sorted: Float64Array, maxBins: number): Float64Array {
  const n = sorted.length;
  if (n === 0) return new Float64Array(0);
  // Distinct values, up to maxBins + 1 (enough to know whether there are more than maxBins).
  const distinct: number[] = [];
  for (let k = 0; k < n && distinct.length <= maxBins; k++) {
    const v = sorted[k] as number;
    if (distinct.length === 0 || v !== distinct[distinct.length - 1]) distinct.push(v);
  }
  const out: number[] = [];
  if (distinct.length <= maxBins) {
    for (let k = 1; k < distinct.length; k++) out.push(((distinct[k - 1] as number) + (distinct[k] as number)) / 2);
  } else {
    for (let q = 1; q < maxBins; q++) {
      // numpy's percentile(method="midpoint"): halfway between the two order statistics around q/maxBins.
      const position = (q / maxBins) * (n - 1);
      const v = ((sorted[Math.floor(position)] as number) + (sorted[Math.ceil(position)] as number)) / 2;
      if (out.length === 0 || v > (out[out.length - 1] as number)) out.push(v);
    }
    // A threshold at the maximum would leave the last bin empty.
    while (out.length > 0 && (out[out.length - 1] as number) >= (sorted[n - 1] as number)) out.pop();
  }
  return Float64Array.from(out);
}

/**
 * Sorts finite doubles ascending with an LSD radix sort on their bit patterns (4 passes of 16 bits,
 * skipping passes where every key shares the digit): ~5× faster than the built-in typed-array sort on
 * the 200 000 values binning sorts per feature. Returns whichever of `a` / `scratch` holds the result.
 */
export function radixSort(a: Float64Array, scratch: Float64Array): Float64Array {
  const n = a.length;
  let src = new Uint32Array(a.buffer, a.byteOffset, 2 * n);
  let dst = new Uint32Array(scratch.buffer, scratch.byteOffset, 2 * n);
  // Map IEEE-754 bits to unsigned order: negatives flip every bit, positives flip the sign bit.
  for (let k = 0; k < n; k++) {
    const hi = src[2 * k + 1] as number;
    if (hi >>> 31) {
      src[2 * k + 1] = ~hi >>> 0;
      src[2 * k] = ~(src[2 * k] as number) >>> 0;
    } else src[2 * k + 1] = (hi | 0x80000000) >>> 0;
  }
  const counts = new Uint32Array(65536);
  let inA = true;
  for (let pass = 0; pass < 4; pass++) {
    const word = pass < 2 ? 0 : 1;
    const shift = pass % 2 === 0 ? 0 : 16;
    counts.fill(0);
    for (let k = 0; k < n; k++) {
      const d = ((src[2 * k + word] as number) >>> shift) & 0xffff;
      counts[d] = (counts[d] as number) + 1;
    }
    if (n === 0 || counts[((src[word] as number) >>> shift) & 0xffff] === n) continue;
    let sum = 0;
    for (let d = 0; d < 65536; d++) {
      const c = counts[d] as number;
      counts[d] = sum;
      sum += c;
    }
    for (let k = 0; k < n; k++) {
      const d = ((src[2 * k + word] as number) >>> shift) & 0xffff;
      const to = counts[d] as number;
      counts[d] = to + 1;
      dst[2 * to] = src[2 * k] as number;
      dst[2 * to + 1] = src[2 * k + 1] as number;
    }
    const t = src;
    src = dst;
    dst = t;
    inA = !inA;
  }
  for (let k = 0; k < n; k++) {
    const hi = src[2 * k + 1] as number;
    if (hi >>> 31) src[2 * k + 1] = (hi & 0x7fffffff) >>> 0;
    else {
      src[2 * k + 1] = ~hi >>> 0;
      src[2 * k] = ~(src[2 * k] as number) >>> 0;
    }
  }
  return inA ? a : scratch;
}

/** Up to `k` distinct row indices chosen with a seeded partial Fisher–Yates shuffle, ascending. */
function sampleIndices(rows: number, k: number, seed: number): Int32Array {
  const all = new Int32Array(rows);
  for (let i = 0; i < rows; i++) all[i] = i;
  if (rows <= k) return all;
  const random = new SeededRandom(seed);
  for (let i = 0; i < k; i++) {
    const j = i + random.int(rows - i);
    const t = all[i] as number;
    all[i] = all[j] as number;
    all[j] = t;
  }
  return all.subarray(0, k).sort();
}
