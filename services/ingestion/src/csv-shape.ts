import { HttpError } from "@retrain/service-kit";

/** Shape limits of an uploaded CSV, checked while it streams in. */
export interface CsvShapeLimits {
  /** Most fields in a row. */
  readonly maxColumns: number;
  /** Longest field, in bytes (quotes included). */
  readonly maxFieldBytes: number;
  /** Longest row, in bytes. */
  readonly maxRowBytes: number;
}

/**
 * The trainer's CSV reader's own limits (packages/ml `resolveCsvReadOptions`): a dataset refused
 * here is one training would fail on later, so refusing it at the upload loses nothing.
 */
export const DEFAULT_CSV_SHAPE_LIMITS: CsvShapeLimits = { maxColumns: 10_000, maxFieldBytes: 1024 ** 2, maxRowBytes: 16 * 1024 ** 2 };

const LF = 0x0a;
const QUOTE = 0x22;
const COMMA = 0x2c;
const FIELD_START = 0;
const UNQUOTED = 1;
const QUOTED = 2;
const QUOTE_SEEN = 3; // in a quoted field, a quote: the closing one, or the first of `""`

/**
 * Checks a CSV's shape byte by byte as it streams, in constant memory: RFC 4180 quoting (a quote
 * opens a quoted field only at its start), at most `maxColumns` fields per row, no field or row
 * longer than its limit, no quoted field left open at the end, and valid UTF-8 throughout. Fails
 * with a 413 (row or field too long) or 400 HttpError naming the line.
 */
export class CsvShapeCheck {
  #state = FIELD_START;
  #line = 1;
  #quoteLine = 1;
  #fields = 0;
  #fieldBytes = 0;
  #rowBytes = 0;
  readonly #utf8 = new TextDecoder("utf-8", { fatal: true });

  constructor(private readonly limits: CsvShapeLimits = DEFAULT_CSV_SHAPE_LIMITS) {}

  /** Checks the next bytes; throws at the first violation. */
  push(chunk: Uint8Array): void {
    try {
      this.#utf8.decode(chunk, { stream: true });
    } catch (error) {
      throw new HttpError(400, "InvalidUtf8", `The dataset is not valid UTF-8 (near line ${this.#line}).`, { cause: error });
    }
    const { maxFieldBytes, maxRowBytes } = this.limits;
    let state = this.#state;
    let fieldBytes = this.#fieldBytes;
    let rowBytes = this.#rowBytes;
    for (let i = 0; i < chunk.length; i++) {
      const b = chunk[i];
      fieldBytes++;
      rowBytes++;
      if (state === QUOTED) {
        if (b === QUOTE) state = QUOTE_SEEN;
        else if (b === LF) this.#line++;
      } else if (state === QUOTE_SEEN && b === QUOTE) {
        state = QUOTED;
      } else if (b === COMMA) {
        this.#endField();
        state = FIELD_START;
        fieldBytes = 0;
      } else if (b === LF) {
        this.#endField();
        this.#fields = 0;
        this.#line++;
        state = FIELD_START;
        fieldBytes = 0;
        rowBytes = 0;
      } else if (state === FIELD_START) {
        if (b === QUOTE) {
          state = QUOTED;
          this.#quoteLine = this.#line;
        } else state = UNQUOTED;
      } else if (state === QUOTE_SEEN) {
        state = UNQUOTED; // text after a closing quote: kept as is, as the reader does
      }
      if (fieldBytes > maxFieldBytes) {
        throw new HttpError(413, "CsvFieldTooLarge", `A field on line ${this.#line} is longer than ${maxFieldBytes} bytes.`);
      }
      if (rowBytes > maxRowBytes) {
        throw new HttpError(413, "CsvRowTooLarge", `Row ${this.#line} is longer than ${maxRowBytes} bytes.`);
      }
    }
    this.#state = state;
    this.#fieldBytes = fieldBytes;
    this.#rowBytes = rowBytes;
  }

  /** Checks the end of the input: no quoted field left open, no UTF-8 sequence cut off. */
  end(): void {
    if (this.#rowBytes > 0) this.#endField(); // the last row has no line break after it
    if (this.#state === QUOTED) {
      throw new HttpError(400, "CsvUnterminatedQuote", `The quoted field that starts on line ${this.#quoteLine} is never closed.`);
    }
    try {
      this.#utf8.decode();
    } catch (error) {
      throw new HttpError(400, "InvalidUtf8", "The dataset ends inside a UTF-8 character.", { cause: error });
    }
  }

  #endField(): void {
    this.#fields++;
    if (this.#fields > this.limits.maxColumns) {
      throw new HttpError(400, "CsvTooManyColumns", `Line ${this.#line} has more than ${this.limits.maxColumns} fields.`);
    }
  }
}
