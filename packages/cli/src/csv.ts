// Just enough CSV for `retrain score`: RFC 4180 fields (quotes, doubled quotes, newlines in quotes).
import { CliError } from "./errors.js";

/** A CSV file's header and rows, every cell as text. */
export interface CsvRows {
  readonly columns: readonly string[];
  readonly rows: readonly (readonly string[])[];
}

/** Parses CSV text; every row must have as many cells as the header. */
export function parseCsv(text: string, source = "the CSV file"): CsvRows {
  const records: string[][] = [];
  let record: string[] = [];
  let field = "";
  let quoted = false;
  let i = text.charCodeAt(0) === 0xfeff ? 1 : 0;
  const endRecord = (): void => {
    record.push(field);
    field = "";
    // A blank line is no record (trailing newlines, empty lines between records).
    if (record.length > 1 || record[0] !== "") records.push(record);
    record = [];
  };
  for (; i < text.length; i++) {
    const c = text[i];
    if (quoted) {
      if (c === '"') {
        if (text[i + 1] === '"') {
          field += '"';
          i++;
        } else quoted = false;
      } else field += c;
    } else if (c === '"' && field === "") quoted = true;
    else if (c === ",") {
      record.push(field);
      field = "";
    } else if (c === "\n" || c === "\r") {
      if (c === "\r" && text[i + 1] === "\n") i++;
      endRecord();
    } else field += c;
  }
  if (quoted) throw new CliError(`${source} ends inside a quoted field`, 1, "CsvParseError");
  if (field !== "" || record.length > 0) endRecord();
  const [columns, ...rows] = records;
  if (columns === undefined) throw new CliError(`${source} is empty: it needs a header row and at least one row`, 1, "CsvParseError");
  rows.forEach((row, r) => {
    if (row.length !== columns.length) throw new CliError(`${source}: row ${r + 2} has ${row.length} values, the header has ${columns.length}`, 1, "CsvParseError");
  });
  return { columns, rows };
}
