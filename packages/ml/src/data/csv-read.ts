import { createReadStream } from "node:fs";
import { stat } from "node:fs/promises";
import { ColumnBuilder, NUMERIC, firstBlockRows, nextBlockRows } from "./column-builder.js";
import { DatasetError, type DatasetErrorCode } from "./errors.js";
import { trustedFrame, type DataFrame } from "./frame.js";
import { TEXT_KEPT, TEXT_STRING, TEXT_VERIFY, parseDecimalBytes, parseNumberText, scanDecimal, type ParsedNumber } from "./parse-number.js";

/** Options of {@link readCsv}; every field has a default (see {@link resolveCsvReadOptions}). */
export interface CsvReadOptions {
  /** Field delimiter, one ASCII character. Default `","`. */
  readonly delimiter?: string;
  /**
   * Field texts read as missing, compared after unquoting (so `"NA"` is missing too). Default
   * `["", "NA", "NaN", "?"]`; the empty field is missing whatever this says.
   */
  readonly missingValues?: readonly string[];
  /**
   * Columns read as categorical even when every value is a number (ZIP codes; a scoring schema's
   * categorical features). Names not in the header are ignored, so a schema's list can be passed as is.
   */
  readonly categoricalColumns?: readonly string[];
  /** Largest input accepted, in bytes. Default 2 GiB. */
  readonly maxBytes?: number;
  /** Most header columns accepted; checked while the header is read, before any column storage exists. Default 10 000. */
  readonly maxColumns?: number;
  /** Longest field, in bytes after unquoting. Default 1 MiB. */
  readonly maxFieldBytes?: number;
  /** Longest record, in bytes. Default 16 MiB. */
  readonly maxRowBytes?: number;
  /** Read size when `source` is a file path. Default 1 MiB. */
  readonly chunkBytes?: number;
  /** Stops reading; the read rejects with the signal's reason. */
  readonly abortSignal?: AbortSignal;
}

/** {@link CsvReadOptions} with every default applied. */
export interface ResolvedCsvReadOptions {
  readonly delimiter: string;
  readonly missingValues: readonly string[];
  readonly categoricalColumns: readonly string[];
  readonly maxBytes: number;
  readonly maxColumns: number;
  readonly maxFieldBytes: number;
  readonly maxRowBytes: number;
  readonly chunkBytes: number;
  readonly abortSignal: AbortSignal | undefined;
}

/** The reader's defaults, in one place. */
export function resolveCsvReadOptions(options: CsvReadOptions = {}): ResolvedCsvReadOptions {
  const delimiter = options.delimiter ?? ",";
  if (delimiter.length !== 1 || delimiter.charCodeAt(0) > 0x7f || delimiter === '"' || delimiter === "\n" || delimiter === "\r") {
    throw new DatasetError("InvalidArgument", `delimiter must be one ASCII character other than a quote or line break; got ${JSON.stringify(delimiter)}`);
  }
  const positive = (name: string, value: number | undefined, fallback: number): number => {
    const resolved = value ?? fallback;
    if (!Number.isSafeInteger(resolved) || resolved <= 0) {
      throw new DatasetError("InvalidArgument", `${name} must be a positive integer; got ${String(value)}`);
    }
    return resolved;
  };
  return {
    delimiter,
    missingValues: options.missingValues ?? ["", "NA", "NaN", "?"],
    categoricalColumns: options.categoricalColumns ?? [],
    maxBytes: positive("maxBytes", options.maxBytes, 2 * 1024 ** 3),
    maxColumns: positive("maxColumns", options.maxColumns, 10_000),
    maxFieldBytes: positive("maxFieldBytes", options.maxFieldBytes, 1024 ** 2),
    maxRowBytes: positive("maxRowBytes", options.maxRowBytes, 16 * 1024 ** 2),
    chunkBytes: positive("chunkBytes", options.chunkBytes, 1024 ** 2),
    abortSignal: options.abortSignal,
  };
}

/**
 * Reads an RFC 4180 CSV with a header row into typed column arrays, chunk by chunk, from a stream,
 * a byte array or a file path. Columns whose every non-missing value is a finite number are numeric;
 * the others categorical (levels in order of first appearance, with their exact source texts).
 * Fails with a {@link DatasetError} whose `line` is the physical line where the offending record
 * starts (line breaks inside quoted fields counted) and `column` the 1-based field.
 */
export async function readCsv(source: NodeJS.ReadableStream | Uint8Array | string, options: CsvReadOptions = {}): Promise<DataFrame> {
  const resolved = resolveCsvReadOptions(options);
  const signal = resolved.abortSignal;
  signal?.throwIfAborted();
  if (typeof source === "string") {
    const info = await stat(source);
    if (info.size > resolved.maxBytes) throw tooLarge(info.size, resolved.maxBytes);
    const parser = new CsvParser(resolved, info.size);
    await feed(parser, createReadStream(source, { highWaterMark: resolved.chunkBytes }), signal);
    return parser.end();
  }
  if (source instanceof Uint8Array) return readCsvBytes(source, options);
  const parser = new CsvParser(resolved);
  await feed(parser, source, signal);
  return parser.end();
}

/**
 * {@link readCsv} for bytes already in memory, synchronously (small tables: metrics files, tests).
 * `abortSignal` and `chunkBytes` do not apply.
 */
export function readCsvBytes(bytes: Uint8Array, options: CsvReadOptions = {}): DataFrame {
  const resolved = resolveCsvReadOptions(options);
  if (bytes.length > resolved.maxBytes) throw tooLarge(bytes.length, resolved.maxBytes);
  const parser = new CsvParser(resolved, bytes.length);
  parser.push(bytes);
  return parser.end();
}

async function feed(parser: CsvParser, stream: NodeJS.ReadableStream, signal: AbortSignal | undefined): Promise<void> {
  // Leaving the loop by a throw calls the iterator's return(), which destroys a file stream.
  for await (const chunk of stream) {
    signal?.throwIfAborted();
    parser.push(typeof chunk === "string" ? Buffer.from(chunk, "utf8") : chunk);
  }
  signal?.throwIfAborted();
}

function tooLarge(size: number, max: number): DatasetError {
  return new DatasetError("CsvTooLarge", `the CSV is ${size} bytes; the limit is ${max}`);
}

const LF = 0x0a;
const CR = 0x0d;
const QUOTE = 0x22;
const BOM = [0xef, 0xbb, 0xbf] as const;
const EMPTY = Buffer.alloc(0);
const NAN = Number.NaN; // module-level: global lookups are slow in VM contexts (jest)

// Where the parser stands at a chunk boundary.
const START = 0; // at the start of a field (nothing of it read yet)
const UNQUOTED = 1; // inside an unquoted field; its bytes so far are in `carry`
const QUOTED = 2; // inside a quoted field; its content so far is in `carry`
const QUOTE_SEEN = 3; // a quote ended the last chunk inside a quoted field: closing or the first of `""`
const AFTER_QUOTE = 4; // a quoted field was closed; a delimiter or line break must follow

/** Bytes of a field that spans chunks (or holds `""` escapes), bounded by maxFieldBytes. */
class FieldBuffer {
  bytes = Buffer.alloc(256);
  length = 0;

  constructor(private readonly onOverflow: () => never, private readonly max: number) {}

  append(source: Uint8Array, start: number, end: number): void {
    const needed = this.length + (end - start);
    if (needed > this.max) this.onOverflow();
    if (needed > this.bytes.length) {
      const grown = Buffer.alloc(Math.min(Math.max(needed, this.bytes.length * 2), this.max));
      grown.set(this.bytes.subarray(0, this.length));
      this.bytes = grown;
    }
    this.bytes.set(source.subarray(start, end), this.length);
    this.length = needed;
  }
}

function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** The byte-level RFC 4180 state machine; fed chunk by chunk, it fills the column builders. */
class CsvParser {
  private readonly options: ResolvedCsvReadOptions;
  private readonly delimiter: number;
  private readonly special = new Uint8Array(256);
  private readonly missingFirst = new Uint8Array(256);
  private readonly missingTokens: Buffer[];
  private readonly categorical: Set<string>;
  private readonly decoder = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });
  private readonly parsed: ParsedNumber = { value: 0, textCode: 0 };
  private readonly carry: FieldBuffer;

  private mode = START;
  private skipLF = false;
  private bomPending: Buffer | null = EMPTY;
  private inHeader = true;
  private readonly names: string[] = [];
  /** Filled in place when the header ends (the scan loop holds on to this array). */
  private readonly builders: ColumnBuilder[] = [];
  private ncols = 0;
  /** Rows the current block holds, and whether it is still the first one. */
  private blockRows = 0;
  private firstBlock = true;
  /** Absolute offset where the data rows start (after the header). */
  private dataStart = 0;
  /** Index of the field being read within the current record. */
  private field = 0;
  private rows = 0;
  /** Row within the current block. */
  private slot = 0;
  /** Physical line at the current position (1-based; newlines inside quotes count). */
  private line = 1;
  /** Physical line where the current record started: what errors report. */
  private recordLine = 1;
  /** Absolute offset of the current chunk's first byte, and of the current record's start. */
  private base = 0;
  private recordStart = 0;
  private total = 0;

  /**
   * @param expectedBytes the input's size when known (a file, a byte array), used to size column
   *   storage; 0 for a stream.
   */
  constructor(options: ResolvedCsvReadOptions, private readonly expectedBytes = 0) {
    this.options = options;
    this.delimiter = options.delimiter.charCodeAt(0);
    this.special[this.delimiter] = 1;
    this.special[LF] = 1;
    this.special[CR] = 1;
    this.missingTokens = options.missingValues.filter((t) => t !== "").map((t) => Buffer.from(t, "utf8"));
    for (const token of this.missingTokens) this.missingFirst[token[0] as number] = 1;
    this.categorical = new Set(options.categoricalColumns);
    this.carry = new FieldBuffer(() => {
      throw this.fail("CsvFieldTooLong", `a field is longer than ${options.maxFieldBytes} bytes`);
    }, options.maxFieldBytes);
  }

  push(chunk: Uint8Array): void {
    this.total += chunk.length;
    if (this.total > this.options.maxBytes) throw this.fail("CsvTooLarge", `the CSV is larger than ${this.options.maxBytes} bytes`, false);
    let buf = asBuffer(chunk);
    if (this.bomPending !== null) {
      const rest = this.stripBom(buf);
      if (rest === null) return;
      buf = rest;
    }
    this.process(buf);
  }

  end(): DataFrame {
    if (this.bomPending !== null) {
      const pending = this.bomPending;
      this.bomPending = null;
      this.process(pending);
    }
    const at = this.base;
    switch (this.mode) {
      case QUOTED:
        throw this.fail("CsvUnterminatedQuote", "a quoted field is not closed before the end of the input");
      case UNQUOTED:
      case QUOTE_SEEN:
        this.emit(this.carry.bytes, 0, this.carry.length);
        this.carry.length = 0;
        this.endRecord(at);
        break;
      case AFTER_QUOTE:
        this.endRecord(at);
        break;
      default:
        if (this.field > 0) {
          this.emit(EMPTY, 0, 0);
          this.endRecord(at);
        }
    }
    this.mode = START;
    if (this.inHeader) throw new DatasetError("CsvEmpty", "the CSV is empty: it has no header row");
    return trustedFrame(
      this.rows,
      this.builders.map((b) => b.finish(this.rows)),
    );
  }

  /** Drops a UTF-8 BOM at the very start, even when it arrives split across chunks. */
  private stripBom(buf: Buffer): Buffer | null {
    const pending = this.bomPending ?? EMPTY;
    const joined = pending.length === 0 ? buf : Buffer.concat([pending, buf]);
    let prefix = 0;
    while (prefix < 3 && prefix < joined.length && joined[prefix] === BOM[prefix]) prefix++;
    if (prefix === joined.length && prefix < 3) {
      this.bomPending = Buffer.from(joined);
      return null;
    }
    this.bomPending = null;
    return prefix === 3 ? joined.subarray(3) : joined;
  }

  private process(buf: Buffer): void {
    const n = buf.length;
    let i = 0;
    if (this.skipLF && n > 0) {
      this.skipLF = false;
      if (buf[0] === LF) i = 1;
    }
    if (this.mode !== START && i < n) i = this.resume(buf, i);
    if (this.mode === START) this.scan(buf, i);
    this.base += n;
    if (this.base - this.recordStart > this.options.maxRowBytes) this.rowTooLong();
  }

  /** The main loop, at the start of a field: unquoted fields are scanned and emitted in place. */
  private scan(buf: Buffer, from: number): void {
    const n = buf.length;
    const special = this.special;
    const delimiter = this.delimiter;
    const builders = this.builders;
    const parsed = this.parsed;
    const maxFieldBytes = this.options.maxFieldBytes;
    let i = from;
    while (i < n) {
      const c = buf[i] as number;
      if (c === QUOTE) {
        i = this.quoted(buf, i + 1, false);
        continue;
      }
      if (this.field === 0 && (c === LF || c === CR)) {
        // A blank line: skipped, as pandas does (so a trailing blank line is not a row of missing values).
        i++;
        this.line++;
        if (c === CR) {
          if (i < n) {
            if (buf[i] === LF) i++;
          } else this.skipLF = true;
        }
        this.recordLine = this.line;
        this.recordStart = this.base + i;
        continue;
      }
      if (!this.inHeader) {
        // Numeric columns: find the field's end and its value in one pass over its bytes.
        const builder = builders[this.field];
        if (builder !== undefined && builder.kind === NUMERIC) {
          const stop = scanDecimal(buf, i, n, parsed);
          if (stop > i && stop < n && special[buf[stop] as number] === 1 && stop - i <= maxFieldBytes) {
            builder.num[this.slot] = parsed.value;
            if (parsed.textCode !== builder.textCode || builder.codes !== null) this.noteFastText(builder, buf, i, stop);
            i = stop;
            if (buf[i] === delimiter) {
              this.field++;
              i++;
            } else {
              i = this.lineBreak(buf, i);
            }
            continue;
          }
        }
      }
      const start = i;
      while (i < n && special[buf[i] as number] === 0) i++;
      if (i === n) {
        this.carry.append(buf, start, n);
        this.mode = UNQUOTED;
        return;
      }
      this.emit(buf, start, i);
      if (buf[i] === delimiter) {
        this.field++;
        i++;
      } else {
        i = this.lineBreak(buf, i);
      }
    }
  }

  /** Continues a field left open by the previous chunk; returns where scanning goes on. */
  private resume(buf: Buffer, from: number): number {
    const n = buf.length;
    switch (this.mode) {
      case UNQUOTED: {
        let i = from;
        while (i < n && this.special[buf[i] as number] === 0) i++;
        this.carry.append(buf, from, i);
        if (i === n) return n;
        this.mode = START;
        this.emit(this.carry.bytes, 0, this.carry.length);
        this.carry.length = 0;
        return this.afterField(buf, i);
      }
      case QUOTED:
        return this.quoted(buf, from, true);
      case QUOTE_SEEN:
        if (buf[from] === QUOTE) {
          this.carry.append(buf, from, from + 1);
          return this.quoted(buf, from + 1, true);
        }
        this.mode = START;
        this.emit(this.carry.bytes, 0, this.carry.length);
        this.carry.length = 0;
        return this.afterQuote(buf, from);
      default:
        this.mode = START;
        return this.afterQuote(buf, from);
    }
  }

  /** Reads a quoted field's content from `from`; `carrying` when part of it is already in `carry`. */
  private quoted(buf: Buffer, from: number, carrying: boolean): number {
    const n = buf.length;
    let start = from;
    for (;;) {
      let j = start;
      while (j < n) {
        const c = buf[j];
        if (c === QUOTE) break;
        if (c === LF) this.line++;
        j++;
      }
      if (j === n) {
        this.carry.append(buf, start, n);
        this.mode = QUOTED;
        return n;
      }
      if (j + 1 === n) {
        this.carry.append(buf, start, j);
        this.mode = QUOTE_SEEN;
        return n;
      }
      if (buf[j + 1] === QUOTE) {
        this.carry.append(buf, start, j + 1);
        carrying = true;
        start = j + 2;
        continue;
      }
      this.mode = START;
      if (carrying) {
        this.carry.append(buf, start, j);
        this.emit(this.carry.bytes, 0, this.carry.length);
        this.carry.length = 0;
      } else {
        this.emit(buf, start, j);
      }
      return this.afterQuote(buf, j + 1);
    }
  }

  /** After a closing quote only a delimiter or a line break may follow. */
  private afterQuote(buf: Buffer, i: number): number {
    if (i === buf.length) {
      this.mode = AFTER_QUOTE;
      return i;
    }
    if (this.special[buf[i] as number] === 0) {
      throw this.fail("CsvBadQuote", "a closing quote is followed by text; quotes inside a quoted field must be doubled");
    }
    return this.afterField(buf, i);
  }

  /** Consumes the delimiter or line break at `i` after a field. */
  private afterField(buf: Buffer, i: number): number {
    if (buf[i] === this.delimiter) {
      this.field++;
      return i + 1;
    }
    return this.lineBreak(buf, i);
  }

  /** Ends the record at the CR, LF or CRLF at `i`; returns the index after it. */
  private lineBreak(buf: Buffer, i: number): number {
    const c = buf[i];
    this.endRecord(this.base + i);
    i++;
    if (c === CR) {
      if (i < buf.length) {
        if (buf[i] === LF) i++;
      } else {
        this.skipLF = true;
      }
    }
    this.recordStart = this.base + i;
    return i;
  }

  /** One field's bytes: a header name, or a value stored into its column. */
  private emit(bytes: Buffer, start: number, end: number): void {
    const length = end - start;
    if (length > this.options.maxFieldBytes) {
      throw this.fail("CsvFieldTooLong", `a field is ${length} bytes; the limit is ${this.options.maxFieldBytes}`);
    }
    if (this.inHeader) {
      this.headerField(bytes, start, end);
      return;
    }
    const builder = this.builders[this.field];
    if (builder === undefined) return; // a field beyond the header: reported as ragged at the record's end
    const slot = this.slot;
    const missing = length === 0 || (this.missingFirst[bytes[start] as number] === 1 && this.isMissing(bytes, start, end));
    if (builder.kind === NUMERIC) {
      if (missing) {
        builder.num[slot] = NAN;
        return;
      }
      const parsed = this.parsed;
      if (parseDecimalBytes(bytes, start, end, parsed)) {
        builder.num[slot] = parsed.value;
        if (parsed.textCode !== builder.textCode || builder.codes !== null) this.noteFastText(builder, bytes, start, end);
        return;
      }
      const text = this.decode(bytes, start, end);
      const value = parseNumberText(text);
      if (!Number.isNaN(value)) {
        builder.num[slot] = value;
        builder.noteText(this.rows, slot, String(value) === text ? TEXT_STRING : TEXT_KEPT, text);
        return;
      }
      builder.promote(this.rows);
      builder.cat[slot] = builder.levelTable.internText(text);
      return;
    }
    if (missing) {
      builder.cat[slot] = -1;
      return;
    }
    const table = builder.levelTable;
    const code = table.lookup(bytes, start, end);
    builder.cat[slot] = code >= 0 ? code : table.add(bytes, start, end, this.decode(bytes, start, end));
  }

  private noteFastText(builder: ColumnBuilder, bytes: Buffer, start: number, end: number): void {
    let code = this.parsed.textCode;
    let text: string | undefined;
    if (code === TEXT_VERIFY || code === TEXT_KEPT) {
      text = bytes.toString("latin1", start, end); // the fast path only accepts ASCII
      if (code === TEXT_VERIFY) code = String(this.parsed.value) === text ? TEXT_STRING : TEXT_KEPT;
    }
    builder.noteText(this.rows, this.slot, code, text);
  }

  private isMissing(bytes: Buffer, start: number, end: number): boolean {
    const length = end - start;
    for (const token of this.missingTokens) {
      if (token.length !== length) continue;
      let k = 0;
      while (k < length && token[k] === bytes[start + k]) k++;
      if (k === length) return true;
    }
    return false;
  }

  /** Field text: ASCII decoded directly, anything else through a strict UTF-8 decoder. */
  private decode(bytes: Buffer, start: number, end: number): string {
    let k = start;
    while (k < end && (bytes[k] as number) < 0x80) k++;
    if (k === end) return bytes.toString("latin1", start, end);
    try {
      return this.decoder.decode(bytes.subarray(start, end));
    } catch (error) {
      throw this.fail("CsvInvalidUtf8", "a field is not valid UTF-8", true, error);
    }
  }

  private headerField(bytes: Buffer, start: number, end: number): void {
    if (this.names.length >= this.options.maxColumns) {
      throw this.fail("CsvTooManyColumns", `the header has more than ${this.options.maxColumns} columns`);
    }
    this.names.push(this.decode(bytes, start, end));
  }

  private endRecord(at: number): void {
    if (at - this.recordStart > this.options.maxRowBytes) this.rowTooLong();
    const fields = this.field + 1;
    if (this.inHeader) {
      this.finishHeader();
      this.dataStart = at + 1;
    } else {
      if (fields !== this.ncols) {
        this.field = Math.min(fields, this.ncols);
        throw this.fail("CsvRaggedRow", `line ${this.recordLine} has ${fields} fields; the header has ${this.ncols}`);
      }
      this.rows++;
      this.slot++;
      if (this.slot === this.blockRows) this.nextBlock(at);
    }
    this.field = 0;
    this.line++;
    this.recordLine = this.line;
  }

  private finishHeader(): void {
    const names = this.names;
    const seen = new Set<string>();
    for (let c = 0; c < names.length; c++) {
      const name = names[c] as string;
      if (name === "") {
        this.field = c;
        throw this.fail("CsvNoHeader", `column ${c + 1} of the first row has an empty name; the first row must be a header`);
      }
      if (seen.has(name)) {
        this.field = c;
        throw this.fail("CsvDuplicateColumn", `column ${c + 1} repeats the name "${name}"`);
      }
      seen.add(name);
    }
    this.inHeader = false;
    this.ncols = names.length;
    this.blockRows = firstBlockRows(names.length);
    for (const name of names) this.builders.push(new ColumnBuilder(name, this.categorical.has(name), this.blockRows));
  }

  /**
   * Moves every column to a new block once the current one is full (`at`: where the last record
   * ended). After the first block, a known input size predicts the remaining rows from the bytes per
   * row so far; that estimate (plus 3%) becomes one block that absorbs the first.
   */
  private nextBlock(at: number): void {
    let size = nextBlockRows(this.blockRows);
    let merge = false;
    if (this.firstBlock && this.expectedBytes > 0 && at > this.dataStart) {
      const bytesPerRow = (at - this.dataStart) / this.rows;
      const estimate = this.rows + Math.ceil((Math.max(0, this.expectedBytes - at) / bytesPerRow) * 1.03) + 64;
      if (estimate > size) {
        size = estimate;
        merge = true;
      }
    }
    this.firstBlock = false;
    for (const builder of this.builders) builder.rotate(size, merge);
    if (!merge) this.slot = 0;
    this.blockRows = size;
  }

  private rowTooLong(): never {
    throw this.fail("CsvRowTooLong", `a record is longer than ${this.options.maxRowBytes} bytes`);
  }

  /** An error at the current record's line and field, with both in the message. */
  private fail(code: DatasetErrorCode, problem: string, withColumn = true, cause?: unknown): DatasetError {
    const line = this.recordLine;
    const column = this.field + 1;
    const name = this.inHeader ? undefined : this.names[this.field];
    const where = withColumn ? `line ${line}, column ${column}${name === undefined ? "" : ` ("${name}")`}` : `line ${line}`;
    const message = problem.startsWith(`line ${line} `) ? problem : `${where}: ${problem}`;
    return new DatasetError(
      code,
      message,
      { line, ...(withColumn ? { column } : {}), ...(name === undefined ? {} : { columnName: name }) },
      cause === undefined ? undefined : { cause },
    );
  }
}
