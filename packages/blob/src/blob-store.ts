import type { Readable } from "node:stream";

/** What a store knows about one blob, as of the moment it was read or written. */
export interface BlobProperties {
  /** The blob's name within the store (e.g. `services/trainer/state.json`). */
  readonly name: string;
  /** Opaque strong version, quotes included (`"0x8DC…"`); changes on every write. Pass it back as `ifMatch`. */
  readonly etag: string;
  /** Length of the content in bytes. */
  readonly size: number;
  /** MIME type; `application/octet-stream` when none was given at write time. */
  readonly contentType?: string;
  /** User metadata; keys are case-insensitive and returned lowercase. */
  readonly metadata: Record<string, string>;
  /** When the content was last written. */
  readonly lastModified: Date;
}

/** Options for {@link BlobStore.put}. */
export interface PutBlobOptions {
  /** Write only if the blob's current etag equals this one, else {@link BlobConflictError}. Default: unconditional. */
  ifMatch?: string;
  /** `"*"`: write only if the blob does not exist yet, else {@link BlobConflictError}. Default: unconditional. */
  ifNoneMatch?: "*";
  /** MIME type stored with the blob. Default `application/octet-stream`. */
  contentType?: string;
  /** User metadata (C#-identifier keys, printable ASCII values). Default none; a put replaces all metadata. */
  metadata?: Record<string, string>;
  /** Aborts the upload; the blob is left as it was and the signal's reason is thrown. */
  signal?: AbortSignal;
}

/** Options for {@link BlobStore.get} and {@link BlobStore.getBuffer}. */
export interface GetBlobOptions {
  /** Aborts the download: a pending call rejects with the signal's reason, an open body stream is destroyed. */
  signal?: AbortSignal;
}

/** Options for {@link BlobStore.delete}. */
export interface DeleteBlobOptions {
  /** Delete only if the blob's current etag equals this one, else {@link BlobConflictError}. Default: unconditional. */
  ifMatch?: string;
}

/** Anything {@link BlobStore.put} accepts as content; streams are consumed with bounded memory. */
export type BlobBody = Buffer | Uint8Array | string | NodeJS.ReadableStream;

/**
 * The port every service's durable state goes through: named blobs with etags for compare-and-set,
 * streamed content for datasets and models, and expiring read-only URLs to hand to clients.
 * Names are validated by {@link validateBlobName} before any I/O.
 */
export interface BlobStore {
  /** Which adapter this is, for logs and health output. */
  readonly kind: "filesystem" | "azure";
  /** Creates or replaces a blob (strings are written as UTF-8); conditional with `ifMatch`/`ifNoneMatch`. */
  put(name: string, body: BlobBody, options?: PutBlobOptions): Promise<BlobProperties>;
  /** Opens a blob for streaming; properties and body belong to the same version. Missing → {@link BlobNotFoundError}. */
  get(name: string, options?: GetBlobOptions): Promise<{ properties: BlobProperties; body: Readable }>;
  /** Reads a whole blob into memory (for small documents). Missing → {@link BlobNotFoundError}. */
  getBuffer(name: string, options?: GetBlobOptions): Promise<{ properties: BlobProperties; body: Buffer }>;
  /** The blob's properties, or `undefined` when it does not exist. */
  head(name: string): Promise<BlobProperties | undefined>;
  /** Every blob whose name starts with `prefix` (a plain string prefix, `""` for all), in name order. */
  list(prefix: string): AsyncIterable<BlobProperties>;
  /** Deletes a blob; `false` when it did not exist. A stale `ifMatch` → {@link BlobConflictError}. */
  delete(name: string, options?: DeleteBlobOptions): Promise<boolean>;
  /** A URL that lets anyone holding it read this one blob (GET/HEAD only) until `expiresInMs` from now. */
  readUrl(name: string, expiresInMs: number): Promise<string>;
  /** Releases resources; the store must not be used afterwards. */
  close(): Promise<void>;
}
