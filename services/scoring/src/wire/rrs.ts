// The Request-Response Service (RRS, api-version 2.0) bodies: the classic table format and the
// swagger format (rows as objects). Parsed by hand: this runs on every scoring request.
import { executionError } from "../errors.js";
import type { Cell, InputColumn, ScoredTable } from "../model-runtime.js";

/** The single web service input every predictive service here takes. */
export const INPUT_NAME = "input1";
/** Its single output. */
export const OUTPUT_NAME = "output1";

/** An RRS request's rows, by column. */
export interface ExecuteInput {
  readonly columnNames: readonly string[];
  readonly rows: readonly (readonly Cell[])[];
  /** The request sent rows as objects (the swagger format). */
  readonly rowObjects: boolean;
}

function parseError(message: string): never {
  throw executionError(400, "InputParseError", message);
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function isCell(value: unknown): value is Cell {
  return value === null || typeof value === "string" || typeof value === "number" || typeof value === "boolean";
}

// The error names the cell, but the name is only built when there is an error: this runs per cell.
function badCell(where: () => string): never {
  return parseError(`${where()} must be a string, a number, a boolean or null.`);
}

/**
 * Reads `Inputs.input1` in either format: `{ColumnNames, Values}` (classic) or `[{column: value}]`
 * (swagger; columns taken in the order of `schema`). Throws 400 `BadArgument`/`InputParseError`.
 */
export function parseExecuteBody(body: unknown, schema: readonly InputColumn[]): ExecuteInput {
  if (!isRecord(body)) parseError("The request body must be a JSON object with 'Inputs'.");
  const inputs = body["Inputs"] ?? body["inputs"];
  if (!isRecord(inputs)) parseError("The request must have an 'Inputs' object.");
  const names = Object.keys(inputs);
  const input = inputs[INPUT_NAME];
  if (input === undefined) parseError(`The request must have the input '${INPUT_NAME}'${names.length > 0 ? `; got '${names.join("', '")}'` : ""}.`);
  if (names.length > 1) parseError(`This web service takes one input ('${INPUT_NAME}'); got ${names.length}.`);

  if (Array.isArray(input)) {
    const columnNames = schema.map((c) => c.name);
    const rows = input.map((row, r) => {
      if (!isRecord(row)) parseError(`Inputs.${INPUT_NAME}[${r}] must be an object of column values.`);
      return columnNames.map((name) => {
        const value = row[name];
        if (value === undefined) return null;
        return isCell(value) ? value : badCell(() => `Inputs.${INPUT_NAME}[${r}].${name}`);
      });
    });
    return { columnNames, rows, rowObjects: true };
  }
  if (!isRecord(input)) parseError(`Inputs.${INPUT_NAME} must be an object with ColumnNames and Values, or an array of rows.`);
  const columnNames = input["ColumnNames"];
  const values = input["Values"];
  if (!Array.isArray(columnNames) || !columnNames.every((n) => typeof n === "string")) {
    parseError(`Inputs.${INPUT_NAME}.ColumnNames must be an array of strings.`);
  }
  if (!Array.isArray(values)) parseError(`Inputs.${INPUT_NAME}.Values must be an array of rows.`);
  const width = columnNames.length;
  const rows = values.map((row: unknown, r) => {
    if (!Array.isArray(row)) parseError(`Inputs.${INPUT_NAME}.Values[${r}] must be an array.`);
    if (row.length !== width) parseError(`Inputs.${INPUT_NAME}.Values[${r}] has ${row.length} values; ColumnNames has ${width}.`);
    for (let c = 0; c < width; c++) {
      const value: unknown = row[c];
      if (value === undefined) row[c] = null;
      else if (!isCell(value)) badCell(() => `Inputs.${INPUT_NAME}.Values[${r}][${c}]`);
    }
    return row as Cell[];
  });
  return { columnNames: columnNames as string[], rows, rowObjects: false };
}

/** How the answer is written: the classic table (with `ColumnTypes` when `details`), or swagger rows. */
export interface ExecuteFormat {
  readonly swagger: boolean;
  readonly details: boolean;
}

/** `Results.output1` in the requested format; values as strings, as the classic service wrote them. */
export function executeResult(table: ScoredTable, format: ExecuteFormat): unknown {
  if (format.swagger) {
    const names = table.columnNames;
    const rows = table.values.map((row) => {
      const out: Record<string, string | null> = {};
      for (let c = 0; c < names.length; c++) out[names[c] as string] = row[c] ?? null;
      return out;
    });
    return { Results: { [OUTPUT_NAME]: rows } };
  }
  const value = format.details
    ? { ColumnNames: table.columnNames, ColumnTypes: table.columnTypes, Values: table.values }
    : { ColumnNames: table.columnNames, Values: table.values };
  return { Results: { [OUTPUT_NAME]: { type: "table", value } } };
}

/** Where a table answer's column names and types are already written out: models keep their arrays. */
interface TableHead {
  readonly types: readonly string[];
  readonly plain: string;
  readonly details: string;
}
const tableHeads = new WeakMap<readonly string[], TableHead>();

function tableHead(table: ScoredTable): TableHead {
  const known = tableHeads.get(table.columnNames);
  if (known !== undefined && known.types === table.columnTypes) return known;
  const start = `{"Results":{"${OUTPUT_NAME}":{"type":"table","value":{"ColumnNames":${JSON.stringify(table.columnNames)}`;
  const head = { types: table.columnTypes, plain: `${start},"Values":`, details: `${start},"ColumnTypes":${JSON.stringify(table.columnTypes)},"Values":` };
  tableHeads.set(table.columnNames, head);
  return head;
}

/**
 * `JSON.stringify(executeResult(table, format))`, written without building the answer's objects:
 * the table format's fixed part is serialized once per model, so a request only serializes its
 * values (this runs on every RRS answer; a test holds both forms to the same bytes).
 */
export function executeResultJson(table: ScoredTable, format: ExecuteFormat): string {
  if (format.swagger) return JSON.stringify(executeResult(table, format));
  const head = tableHead(table);
  return `${format.details ? head.details : head.plain}${JSON.stringify(table.values)}}}}}`;
}
