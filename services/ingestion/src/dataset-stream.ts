import { createHash } from "node:crypto";
import { Transform, type Readable, type TransformCallback } from "node:stream";
import type { BlobStore } from "@retrain/blob";
import type { BlobRef } from "@retrain/contracts";
import { HttpError } from "@retrain/service-kit";
import { CsvShapeCheck } from "./csv-shape.js";

/** Options for {@link storeDataset}. */
export interface StoreDatasetOptions {
  /** Largest accepted dataset in bytes; more → 413 `RequestEntityTooLarge`. */
  limitBytes: number;
  /** Expected header columns (any order); absent → the header is not checked. */
  columns?: readonly string[];
  /** Logical container name recorded in the BlobRef. */
  container: string;
  /** Blob metadata (printable ASCII values). Default none. */
  metadata?: Record<string, string>;
}

// How much of the start is looked at for binary content, and how long a header row may be.
const SNIFF_BYTES = 1024;
const MAX_HEADER_BYTES = 64 * 1024;

/**
 * Streams `source` into the store as blob `name`, hashing (SHA-256) and counting as it goes, and
 * refuses (HttpError 4xx) an empty body, binary content, a header row that does not match `columns`,
 * more than `limitBytes`, or a CSV shape training cannot read (see {@link CsvShapeCheck}). On any failure the blob is deleted, so nothing half-written remains.
 */
export async function storeDataset(store: BlobStore, name: string, source: Readable, options: StoreDatasetOptions): Promise<BlobRef> {
  const inspector = new DatasetInspector(options.limitBytes, options.columns);
  const onSourceError = (error: Error) => inspector.destroy(error);
  // A refusal can happen before the store starts reading; the store's read surfaces it, not this event.
  inspector.on("error", () => undefined);
  source.once("error", onSourceError);
  source.pipe(inspector);
  try {
    const properties = await store.put(name, inspector, {
      contentType: "text/csv",
      ifNoneMatch: "*",
      ...(options.metadata !== undefined ? { metadata: options.metadata } : {}),
    });
    return {
      container: options.container,
      name,
      etag: properties.etag,
      size: properties.size,
      sha256: inspector.sha256(),
      contentType: "text/csv",
    };
  } catch (error) {
    source.unpipe(inspector);
    await store.delete(name).catch(() => undefined);
    throw error;
  } finally {
    source.off("error", onSourceError);
  }
}

/** Counts, hashes and checks a dataset's bytes as they pass through to the store. */
class DatasetInspector extends Transform {
  readonly #hash = createHash("sha256");
  #size = 0;
  #head: Buffer[] = [];
  #headBytes = 0;
  #sniffed = false;
  #headerChecked = false;
  #digest: string | undefined;
  // Row, field and column limits, quoting and UTF-8, so a dataset training cannot read is refused here.
  readonly #shape = new CsvShapeCheck();

  constructor(
    private readonly limitBytes: number,
    private readonly columns: readonly string[] | undefined,
  ) {
    super();
  }

  sha256(): string {
    this.#digest ??= this.#hash.digest("hex");
    return this.#digest;
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.#size += chunk.byteLength;
    if (this.#size > this.limitBytes) {
      callback(new HttpError(413, "RequestEntityTooLarge", `The dataset exceeds the limit of ${this.limitBytes} bytes.`));
      return;
    }
    this.#hash.update(chunk);
    try {
      if (!this.#sniffed || !this.#headerChecked) this.#inspect(chunk, false);
      this.#shape.push(chunk);
    } catch (error) {
      callback(error as Error);
      return;
    }
    callback(null, chunk);
  }

  override _flush(callback: TransformCallback): void {
    if (this.#size === 0) {
      callback(new HttpError(400, "EmptyDataset", "The dataset is empty; a CSV with a header row was expected."));
      return;
    }
    try {
      this.#inspect(Buffer.alloc(0), true);
      this.#shape.end();
    } catch (error) {
      callback(error as Error);
      return;
    }
    callback();
  }

  #inspect(chunk: Buffer, end: boolean): void {
    if (this.#headBytes < MAX_HEADER_BYTES) {
      this.#head.push(chunk);
      this.#headBytes += chunk.byteLength;
    }
    const head = Buffer.concat(this.#head);
    if (!this.#sniffed && (head.byteLength >= SNIFF_BYTES || end)) {
      this.#sniffed = true;
      assertText(head.subarray(0, SNIFF_BYTES));
    }
    if (!this.#headerChecked && this.#sniffed) {
      const newline = head.indexOf(0x0a);
      if (newline >= 0 || end || head.byteLength >= MAX_HEADER_BYTES) {
        this.#headerChecked = true;
        this.#head = [];
        if (this.columns !== undefined) checkHeader(head.subarray(0, newline >= 0 ? newline : head.byteLength), this.columns);
      }
    }
  }
}

function assertText(start: Buffer): void {
  let control = 0;
  for (const byte of start) {
    if (byte === 0) throw new HttpError(400, "NotCsv", "The dataset is not CSV text: it contains a NUL byte near its start.");
    if ((byte < 0x20 && byte !== 0x09 && byte !== 0x0a && byte !== 0x0d && byte !== 0x0c) || byte === 0x7f) control++;
  }
  if (control > Math.max(2, start.byteLength * 0.01)) {
    throw new HttpError(400, "NotCsv", "The dataset is not CSV text: its start contains binary bytes.");
  }
}

/** The fields of a CSV header row (RFC 4180 quoting, a UTF-8 BOM and a trailing CR removed). */
export function headerColumns(line: Buffer | string): string[] {
  let text = typeof line === "string" ? line : line.toString("utf8");
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  if (text.endsWith("\r")) text = text.slice(0, -1);
  const fields: string[] = [];
  let field = "";
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') {
        field += '"';
        i++;
      } else if (c === '"') quoted = false;
      else field += c;
    } else if (c === '"') quoted = true;
    else if (c === ",") {
      fields.push(field.trim());
      field = "";
    } else field += c;
  }
  fields.push(field.trim());
  return fields;
}

function checkHeader(line: Buffer, expected: readonly string[]): void {
  const actual = headerColumns(line);
  const missing = expected.filter((c) => !actual.includes(c));
  const extra = actual.filter((c) => !expected.includes(c));
  if (missing.length === 0 && extra.length === 0) return;
  const parts = [
    missing.length > 0 ? `missing ${missing.map((c) => `'${c}'`).join(", ")}` : "",
    extra.length > 0 ? `unexpected ${extra.map((c) => `'${c}'`).join(", ")}` : "",
  ].filter(Boolean);
  throw new HttpError(400, "CsvHeaderMismatch", `The CSV header does not match the pipeline's columns: ${parts.join("; ")}.`, {
    details: [
      ...missing.map((c) => ({ code: "MissingColumn", target: c, message: `Column '${c}' is missing.` })),
      ...extra.map((c) => ({ code: "UnexpectedColumn", target: c, message: `Column '${c}' is not one of the pipeline's columns.` })),
    ],
  });
}
