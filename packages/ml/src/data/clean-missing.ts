import { DatasetError } from "./errors.js";
import { requireColumn, trustedFrame, type CategoricalColumn, type ColumnKind, type DataColumn, type DataFrame, type NumericColumn } from "./frame.js";

// Hot loops use module-level aliases: global lookups are slow inside VM contexts such as jest's.
const isMissingNumber = Number.isNaN;

/**
 * How Clean Missing Data treats a column's missing values: replace them by the column's mean, median
 * or mode (the most frequent value), or drop every row that has one. A categorical column has no mean
 * or median: `mean` and `median` use its mode.
 */
export type MissingStrategy = "mean" | "median" | "mode" | "drop";

/** The value fitted for one column, recorded so that new data can be cleaned the same way. */
export interface Replacement {
  readonly column: string;
  readonly kind: ColumnKind;
  /** The strategy actually applied (`mode` for a categorical column asked for `mean`/`median`). */
  readonly strategy: MissingStrategy;
  /** The number (numeric) or level (categorical) that replaces a missing value; `null` for `drop`. */
  readonly value: number | string | null;
}

/** Options of {@link cleanMissingData}. */
export interface CleanMissingOptions {
  /** Columns to clean. Default: every column of the frame. */
  readonly columns?: readonly string[];
  /** Strategy for the columns without an entry in `strategies`. Default `"mean"`. */
  readonly strategy?: MissingStrategy;
  /** Per-column strategies, by column name. */
  readonly strategies?: { readonly [column: string]: MissingStrategy };
}

/** What {@link cleanMissingData} returns. */
export interface CleanMissingResult {
  /** The cleaned frame (rows with a missing value in a `drop` column removed). */
  readonly frame: DataFrame;
  /** One entry per cleaned column, in the order of `columns`. */
  readonly replacements: readonly Replacement[];
  /** Source row of each kept row, ascending. */
  readonly rowIndex: Int32Array;
}

/**
 * Studio's Clean Missing Data: fits a replacement per column (mean, median, mode) or drops rows, and
 * returns the cleaned frame with the fitted values. {@link applyReplacements} reuses them on new data.
 */
export function cleanMissingData(frame: DataFrame, options: CleanMissingOptions = {}): CleanMissingResult {
  const names = options.columns ?? frame.columns.map((c) => c.name);
  const replacements = names.map((name) =>
    fitReplacement(requireColumn(frame, name), options.strategies?.[name] ?? options.strategy ?? "mean"),
  );
  return applyReplacements(frame, replacements);
}

/** Cleans `frame` with replacements fitted earlier: fills missing values, drops rows for `drop` columns. */
export function applyReplacements(frame: DataFrame, replacements: readonly Replacement[]): CleanMissingResult {
  const keep = new Uint8Array(frame.rows).fill(1);
  for (const replacement of replacements) {
    if (replacement.strategy !== "drop") continue;
    const column = requireColumn(frame, replacement.column);
    for (let row = 0; row < frame.rows; row++) if (isMissing(column, row)) keep[row] = 0;
  }
  let kept = 0;
  for (let row = 0; row < frame.rows; row++) kept += keep[row] as number;
  const rowIndex = new Int32Array(kept);
  for (let row = 0, k = 0; row < frame.rows; row++) if (keep[row] === 1) rowIndex[k++] = row;

  const byColumn = new Map(replacements.map((r) => [r.column, r]));
  const columns = frame.columns.map((column): DataColumn => {
    const replacement = byColumn.get(column.name);
    const fill = replacement === undefined || replacement.strategy === "drop" ? null : replacement;
    if (fill !== null && fill.kind !== column.kind) {
      throw new DatasetError("ColumnKindMismatch", `column "${column.name}" is ${column.kind}; its replacement was fitted on a ${fill.kind} column`, {
        columnName: column.name,
      });
    }
    if (column.kind === "numeric") {
      const values = new Float64Array(kept);
      const value = fill === null ? Number.NaN : (fill.value as number);
      for (let k = 0; k < kept; k++) {
        const v = column.values[rowIndex[k] as number] as number;
        values[k] = isMissingNumber(v) && fill !== null ? value : v;
      }
      return { name: column.name, kind: "numeric", values };
    }
    let levels = column.levels;
    let fillCode = -1;
    if (fill !== null) {
      fillCode = levels.indexOf(fill.value as string);
      if (fillCode < 0) {
        levels = [...levels, fill.value as string];
        fillCode = levels.length - 1;
      }
    }
    const codes = new Int32Array(kept);
    for (let k = 0; k < kept; k++) {
      const code = column.codes[rowIndex[k] as number] as number;
      codes[k] = code < 0 ? fillCode : code;
    }
    return { name: column.name, kind: "categorical", codes, levels };
  });
  return { frame: trustedFrame(kept, columns), replacements, rowIndex };
}

/**
 * The replacement for one column under `strategy`, computed over its non-missing values in `rows`
 * (default all rows). Fails with `ColumnAllMissing` when there is no value to compute it from.
 */
export function fitReplacement(column: DataColumn, strategy: MissingStrategy, rows?: Int32Array): Replacement {
  if (strategy === "drop") return { column: column.name, kind: column.kind, strategy, value: null };
  if (column.kind === "categorical") {
    return { column: column.name, kind: "categorical", strategy: "mode", value: categoricalMode(column, rows) };
  }
  const values = presentValues(column, rows);
  if (values.length === 0) {
    throw new DatasetError("ColumnAllMissing", `column "${column.name}" has no values to compute a ${strategy} from`, { columnName: column.name });
  }
  const value = strategy === "mean" ? mean(values) : strategy === "median" ? median(values) : numericMode(values);
  return { column: column.name, kind: "numeric", strategy, value };
}

/** The most frequent level (ties: the level first in sorted order) among `rows` (default all). */
export function categoricalMode(column: CategoricalColumn, rows?: Int32Array): string {
  const counts = new Float64Array(column.levels.length);
  const count = rows === undefined ? column.codes.length : rows.length;
  for (let k = 0; k < count; k++) {
    const code = column.codes[rows === undefined ? k : (rows[k] as number)] as number;
    if (code >= 0) counts[code] = (counts[code] as number) + 1;
  }
  let best: string | undefined;
  let bestCount = 0;
  for (let code = 0; code < counts.length; code++) {
    const n = counts[code] as number;
    const level = column.levels[code] as string;
    if (n > bestCount || (n === bestCount && n > 0 && best !== undefined && level < best)) {
      best = level;
      bestCount = n;
    }
  }
  if (best === undefined) {
    throw new DatasetError("ColumnAllMissing", `column "${column.name}" has no values to compute a mode from`, { columnName: column.name });
  }
  return best;
}

function presentValues(column: NumericColumn, rows?: Int32Array): Float64Array {
  const count = rows === undefined ? column.values.length : rows.length;
  const out = new Float64Array(count);
  let n = 0;
  for (let k = 0; k < count; k++) {
    const v = column.values[rows === undefined ? k : (rows[k] as number)] as number;
    if (!isMissingNumber(v)) out[n++] = v;
  }
  return out.subarray(0, n);
}

function mean(values: Float64Array): number {
  // Kahan-compensated, so a million values sum without drift.
  let sum = 0;
  let compensation = 0;
  for (let i = 0; i < values.length; i++) {
    const y = (values[i] as number) - compensation;
    const t = sum + y;
    compensation = t - sum - y;
    sum = t;
  }
  return sum / values.length;
}

function median(values: Float64Array): number {
  const sorted = Float64Array.from(values).sort();
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? (sorted[mid] as number) : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

/** The most frequent value; ties go to the smallest. */
function numericMode(values: Float64Array): number {
  const sorted = Float64Array.from(values).sort();
  let best = sorted[0] as number;
  let bestRun = 0;
  for (let i = 0; i < sorted.length; ) {
    let j = i + 1;
    while (j < sorted.length && sorted[j] === sorted[i]) j++;
    if (j - i > bestRun) {
      bestRun = j - i;
      best = sorted[i] as number;
    }
    i = j;
  }
  return best;
}

function isMissing(column: DataColumn, row: number): boolean {
  return column.kind === "numeric" ? isMissingNumber(column.values[row] as number) : (column.codes[row] as number) < 0;
}
