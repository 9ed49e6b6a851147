/**
 * Why a dataset operation failed.
 * - `CsvRaggedRow`: a record has a different number of fields than the header.
 * - `CsvUnterminatedQuote`: the input ended inside a quoted field.
 * - `CsvBadQuote`: a quoted field's closing quote is followed by something other than a delimiter or line end.
 * - `CsvTooManyColumns` / `CsvFieldTooLong` / `CsvRowTooLong` / `CsvTooLarge`: a reader limit was exceeded.
 * - `CsvEmpty`: no header row at all. `CsvNoHeader`: the first row cannot be a header (an empty name).
 * - `CsvDuplicateColumn`: two header names are equal. `CsvInvalidUtf8`: text that is not valid UTF-8.
 * - `ColumnNotFound`, `ColumnKindMismatch`, `ColumnAllMissing`, `LabelInvalid`, `FeatureMismatch`,
 *   `SchemaInvalid`, `InvalidArgument`: the data or the call does not fit what the featurizer, splitter
 *   or scorer needs.
 */
export type DatasetErrorCode =
  | "CsvRaggedRow"
  | "CsvUnterminatedQuote"
  | "CsvBadQuote"
  | "CsvTooManyColumns"
  | "CsvFieldTooLong"
  | "CsvRowTooLong"
  | "CsvTooLarge"
  | "CsvEmpty"
  | "CsvNoHeader"
  | "CsvDuplicateColumn"
  | "CsvInvalidUtf8"
  | "ColumnNotFound"
  | "ColumnKindMismatch"
  | "ColumnAllMissing"
  | "LabelInvalid"
  | "FeatureMismatch"
  | "SchemaInvalid"
  | "InvalidArgument";

/** Where in the input a dataset error happened (1-based; absent when not known). */
export interface DatasetErrorContext {
  /** Physical line where the offending record starts (quoted newlines counted). */
  readonly line?: number;
  /** 1-based field position within the record. */
  readonly column?: number;
  /** Column name, when the error concerns one. */
  readonly columnName?: string;
}

/** The one error type of `src/data` and `src/evaluate`; `code` says why and the message names line and column. */
export class DatasetError extends Error {
  override readonly name = "DatasetError";
  readonly line: number | undefined;
  readonly column: number | undefined;
  readonly columnName: string | undefined;

  constructor(
    readonly code: DatasetErrorCode,
    message: string,
    context: DatasetErrorContext = {},
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.line = context.line;
    this.column = context.column;
    this.columnName = context.columnName;
  }
}

/** True when `error` is a {@link DatasetError}, optionally with the given code (narrowing helper). */
export function isDatasetError<C extends DatasetErrorCode>(error: unknown, code?: C): error is DatasetError & { code: C } {
  return error instanceof DatasetError && (code === undefined || error.code === code);
}
