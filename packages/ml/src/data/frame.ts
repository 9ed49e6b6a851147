import { DatasetError } from "./errors.js";

/** A numeric column: one float per row, `NaN` where the value is missing. */
export interface NumericColumn {
  readonly name: string;
  readonly kind: "numeric";
  readonly values: Float64Array;
}

/** A categorical column: a level index per row (`-1` = missing) into `levels`. */
export interface CategoricalColumn {
  readonly name: string;
  readonly kind: "categorical";
  readonly codes: Int32Array;
  readonly levels: readonly string[];
}

/** One column of a {@link DataFrame}. */
export type DataColumn = NumericColumn | CategoricalColumn;

/** The kind of a column, as inferred by the reader or declared in a schema. */
export type ColumnKind = DataColumn["kind"];

/** A table held column by column in typed arrays (what `readCsv` returns and `writeCsv` writes). */
export interface DataFrame {
  readonly rows: number;
  readonly columns: readonly DataColumn[];
  /** The column with this exact name, if any. */
  column(name: string): DataColumn | undefined;
}

/** Number of rows a column holds. */
export function columnLength(column: DataColumn): number {
  return column.kind === "numeric" ? column.values.length : column.codes.length;
}

/** The text of row `row` of a column as a CSV writer would print it; `undefined` when missing. */
export function cellText(column: DataColumn, row: number): string | undefined {
  if (column.kind === "numeric") {
    const value = column.values[row] ?? Number.NaN;
    return Number.isNaN(value) ? undefined : String(value);
  }
  const code = column.codes[row] ?? -1;
  return code < 0 ? undefined : column.levels[code];
}

class Frame implements DataFrame {
  readonly #byName: Map<string, DataColumn>;

  constructor(
    readonly rows: number,
    readonly columns: readonly DataColumn[],
  ) {
    this.#byName = new Map(columns.map((c) => [c.name, c]));
  }

  column(name: string): DataColumn | undefined {
    return this.#byName.get(name);
  }
}

/** The named column, or a `ColumnNotFound` error that lists what the frame has. */
export function requireColumn(frame: Pick<DataFrame, "column" | "columns">, name: string): DataColumn {
  const column = frame.column(name);
  if (column === undefined) {
    const have = frame.columns.map((c) => c.name);
    const shown = have.length > 20 ? `${have.slice(0, 20).join(", ")}, …` : have.join(", ");
    throw new DatasetError("ColumnNotFound", `column "${name}" not found; the data has ${have.length} columns: ${shown}`, { columnName: name });
  }
  return column;
}

/** Wraps columns the caller already checked (the reader's own output); no validation pass. */
export function trustedFrame(rows: number, columns: readonly DataColumn[]): DataFrame {
  return new Frame(rows, columns);
}

/**
 * Builds a frame from columns, checking that names are unique, lengths agree and categorical codes
 * point at a level. `rows` is only needed for a frame without columns.
 */
export function frameFromColumns(columns: readonly DataColumn[], rows?: number): DataFrame {
  const count = rows ?? (columns[0] === undefined ? 0 : columnLength(columns[0]));
  const seen = new Set<string>();
  for (const column of columns) {
    if (seen.has(column.name)) {
      throw new DatasetError("InvalidArgument", `column "${column.name}" appears twice`, { columnName: column.name });
    }
    seen.add(column.name);
    const length = columnLength(column);
    if (length !== count) {
      throw new DatasetError("InvalidArgument", `column "${column.name}" has ${length} rows; expected ${count}`, {
        columnName: column.name,
      });
    }
    if (column.kind === "categorical") {
      const levels = column.levels.length;
      for (let i = 0; i < length; i++) {
        const code = column.codes[i] ?? -1;
        if (code < -1 || code >= levels) {
          throw new DatasetError(
            "InvalidArgument",
            `column "${column.name}" row ${i} has code ${code}; it has ${levels} levels`,
            { columnName: column.name },
          );
        }
      }
    }
  }
  return new Frame(count, columns);
}

/** The rows at `rowIndexes` (in that order, repeats allowed) of every column. */
export function selectRows(frame: DataFrame, rowIndexes: Int32Array): DataFrame {
  for (let i = 0; i < rowIndexes.length; i++) {
    const row = rowIndexes[i] ?? -1;
    if (row < 0 || row >= frame.rows) {
      throw new DatasetError("InvalidArgument", `row index ${row} is outside the frame's ${frame.rows} rows`);
    }
  }
  const columns = frame.columns.map((column): DataColumn => {
    if (column.kind === "numeric") {
      const values = new Float64Array(rowIndexes.length);
      for (let i = 0; i < rowIndexes.length; i++) values[i] = column.values[rowIndexes[i] as number] as number;
      return { name: column.name, kind: "numeric", values };
    }
    const codes = new Int32Array(rowIndexes.length);
    for (let i = 0; i < rowIndexes.length; i++) codes[i] = column.codes[rowIndexes[i] as number] as number;
    return { name: column.name, kind: "categorical", codes, levels: column.levels };
  });
  return new Frame(rowIndexes.length, columns);
}

/** A numeric column from plain numbers (`NaN` or `null` = missing); handy for tests and small tables. */
export function numericColumn(name: string, values: ArrayLike<number | null>): NumericColumn {
  const out = new Float64Array(values.length);
  for (let i = 0; i < values.length; i++) out[i] = values[i] ?? Number.NaN;
  return { name, kind: "numeric", values: out };
}

/** A categorical column from strings (`null` = missing); levels in order of first appearance. */
export function categoricalColumn(name: string, values: ArrayLike<string | null>): CategoricalColumn {
  const index = new Map<string, number>();
  const levels: string[] = [];
  const codes = new Int32Array(values.length);
  for (let i = 0; i < values.length; i++) {
    const value = values[i] ?? null;
    if (value === null) {
      codes[i] = -1;
      continue;
    }
    let code = index.get(value);
    if (code === undefined) {
      code = levels.length;
      levels.push(value);
      index.set(value, code);
    }
    codes[i] = code;
  }
  return { name, kind: "categorical", codes, levels };
}
