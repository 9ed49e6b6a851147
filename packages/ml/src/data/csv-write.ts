import { Readable } from "node:stream";
import { DatasetError } from "./errors.js";
import type { DataColumn, DataFrame } from "./frame.js";

/** What {@link writeCsv} needs of a table: a {@link DataFrame}, or just its columns and row count. */
export type CsvTable = Pick<DataFrame, "rows" | "columns">;

/** Options of {@link writeCsv} and {@link csvChunks}. */
export interface CsvWriteOptions {
  /** Field delimiter, one ASCII character. Default `","`. */
  readonly delimiter?: string;
  /** Record terminator. Default `"\r\n"`, as RFC 4180 asks. */
  readonly lineEnding?: "\r\n" | "\n";
  /** Approximate size of each chunk {@link csvChunks} yields, in UTF-16 code units. Default 65 536. */
  readonly chunkChars?: number;
}

/**
 * The table as one RFC 4180 CSV string with a header row. Numbers print as `String(value)` (the
 * shortest text that reads back to the same double); missing values as empty fields; text is quoted
 * when it holds the delimiter, a quote, a line break, or leading/trailing spaces.
 */
export function writeCsv(table: CsvTable, options: CsvWriteOptions = {}): string {
  let out = "";
  for (const chunk of csvChunks(table, options)) out += chunk;
  return out;
}

/** The same text as {@link writeCsv}, as a readable stream (for large Score Model outputs). */
export function writeCsvStream(table: CsvTable, options: CsvWriteOptions = {}): Readable {
  return Readable.from(csvChunks(table, options), { objectMode: false });
}

/** The CSV text in chunks of about `chunkChars`, so a large table never becomes one string. */
export function* csvChunks(table: CsvTable, options: CsvWriteOptions = {}): Generator<string, void, undefined> {
  const delimiter = options.delimiter ?? ",";
  if (delimiter.length !== 1 || delimiter === '"' || delimiter === "\n" || delimiter === "\r") {
    throw new DatasetError("InvalidArgument", `delimiter must be one character other than a quote or line break; got ${JSON.stringify(delimiter)}`);
  }
  const lineEnding = options.lineEnding ?? "\r\n";
  const chunkChars = options.chunkChars ?? 65536;
  const columns = table.columns;
  for (const column of columns) {
    const length = column.kind === "numeric" ? column.values.length : column.codes.length;
    if (length < table.rows) {
      throw new DatasetError("InvalidArgument", `column "${column.name}" has ${length} rows; the table has ${table.rows}`, { columnName: column.name });
    }
  }
  // Level texts are quoted once per column, not once per cell.
  const levelTexts = columns.map((column) => (column.kind === "categorical" ? column.levels.map((l) => csvField(l, delimiter)) : []));
  let buffer = columns.map((c) => csvField(c.name, delimiter)).join(delimiter) + lineEnding;
  for (let row = 0; row < table.rows; row++) {
    for (let c = 0; c < columns.length; c++) {
      if (c > 0) buffer += delimiter;
      buffer += cell(columns[c] as DataColumn, levelTexts[c] as string[], row);
    }
    buffer += lineEnding;
    if (buffer.length >= chunkChars) {
      yield buffer;
      buffer = "";
    }
  }
  if (buffer.length > 0) yield buffer;
}

function cell(column: DataColumn, levelTexts: readonly string[], row: number): string {
  if (column.kind === "numeric") {
    const value = column.values[row] as number;
    return Number.isNaN(value) ? "" : String(value);
  }
  const code = column.codes[row] as number;
  return code < 0 ? "" : (levelTexts[code] as string);
}

/** One field as RFC 4180 text: quoted (inner quotes doubled) only when it has to be. */
export function csvField(text: string, delimiter = ","): string {
  const needsQuotes =
    text.includes(delimiter) ||
    text.includes('"') ||
    text.includes("\n") ||
    text.includes("\r") ||
    (text.length > 0 && (text[0] === " " || text[text.length - 1] === " "));
  return needsQuotes ? `"${text.replaceAll('"', '""')}"` : text;
}
