import {
  BlobSASPermissions,
  ContainerClient,
  RestError,
  StorageSharedKeyCredential,
  type BlobItem,
  type BlockBlobClient,
  type BlockBlobUploadOptions,
} from "@azure/storage-blob";
import { randomUUID } from "node:crypto";
import { Readable } from "node:stream";
import type {
  BlobBody,
  BlobProperties,
  BlobStore,
  DeleteBlobOptions,
  GetBlobOptions,
  PutBlobOptions,
} from "./blob-store.js";
import { BlobConflictError, BlobError, BlobNotFoundError, InvalidBlobNameError } from "./errors.js";
import { normalizeMetadata, validateBlobName, validateBlobPrefix } from "./names.js";

/** Options for {@link AzureBlobStore}: a connection string and container, or a ready-made `ContainerClient`. */
export type AzureBlobStoreOptions =
  | {
      /** An Azure Storage connection string with an account key (needed for SAS read URLs). */
      connectionString: string;
      /** The container holding the store's blobs. */
      container: string;
      /** Create the container on first use if missing. Default false (least privilege in production). */
      createContainer?: boolean;
      /** Upload streams in blocks of this size; memory per streamed upload is about blockSizeBytes × (uploadConcurrency + 1). Default 2 MiB. */
      blockSizeBytes?: number;
      /** Blocks uploaded in parallel for streamed bodies. Default 2. */
      uploadConcurrency?: number;
    }
  | {
      /** An already-built client (e.g. with a managed-identity credential); readUrl then needs a shared key. */
      containerClient: ContainerClient;
      /** Create the container on first use if missing. Default false. */
      createContainer?: boolean;
      /** See the connection-string variant. Default 2 MiB. */
      blockSizeBytes?: number;
      /** See the connection-string variant. Default 2. */
      uploadConcurrency?: number;
    };

const DEFAULT_CONTENT_TYPE = "application/octet-stream";
/** Read-URL start time is backdated so a client whose clock runs behind the service's is not refused. */
const SAS_CLOCK_SKEW_MS = 60_000;

/**
 * The {@link BlobStore} on Azure Blob Storage (block blobs) or Azurite. Etags, conditions and SAS URLs
 * are Azure's own; SDK errors are translated into {@link BlobError}s here and never escape.
 */
export class AzureBlobStore implements BlobStore {
  /** Always `"azure"`. */
  readonly kind = "azure" as const;
  readonly #container: ContainerClient;
  readonly #createContainer: boolean;
  readonly #blockSizeBytes: number;
  readonly #uploadConcurrency: number;
  #ready: Promise<void> | undefined;
  #closed = false;

  constructor(options: AzureBlobStoreOptions) {
    // The SDK client does no I/O until the first request, so nothing connects here.
    this.#container =
      "containerClient" in options ? options.containerClient : new ContainerClient(options.connectionString, options.container);
    this.#createContainer = options.createContainer ?? false;
    this.#blockSizeBytes = options.blockSizeBytes ?? 2 * 1024 * 1024;
    this.#uploadConcurrency = options.uploadConcurrency ?? 2;
    // Azure's limits: a staged block is at most 4000 MiB.
    if (!Number.isInteger(this.#blockSizeBytes) || this.#blockSizeBytes < 1 || this.#blockSizeBytes > 4000 * 1024 * 1024) {
      throw new RangeError(`blockSizeBytes must be an integer between 1 and 4000 MiB (got ${this.#blockSizeBytes})`);
    }
    if (!Number.isInteger(this.#uploadConcurrency) || this.#uploadConcurrency < 1) {
      throw new RangeError(`uploadConcurrency must be a positive integer (got ${this.#uploadConcurrency})`);
    }
  }

  /** The container's name (for diagnostics). */
  get container(): string {
    return this.#container.containerName;
  }

  /**
   * Creates or replaces a block blob. Small bodies go up in one Put Blob (atomic); bodies larger than one
   * block are staged and committed, and the condition applies at commit. See {@link BlobStore.put}.
   */
  async put(name: string, body: BlobBody, options: PutBlobOptions = {}): Promise<BlobProperties> {
    const client = this.#blob(name).getBlockBlobClient();
    const metadata = normalizeMetadata(name, options.metadata);
    await this.#prepare(name);
    const contentType = options.contentType ?? DEFAULT_CONTENT_TYPE;
    const uploadOptions: BlockBlobUploadOptions = {
      metadata,
      blobHTTPHeaders: { blobContentType: contentType },
      conditions: {
        ...(options.ifMatch === undefined ? {} : { ifMatch: options.ifMatch }),
        ...(options.ifNoneMatch === undefined ? {} : { ifNoneMatch: options.ifNoneMatch }),
      },
      ...(options.signal === undefined ? {} : { abortSignal: options.signal }),
    };
    try {
      let size: number;
      let response: { etag?: string; lastModified?: Date };
      if (typeof body === "string" || body instanceof Uint8Array) {
        const bytes = typeof body === "string" ? Buffer.from(body, "utf8") : body;
        size = bytes.byteLength;
        response = await client.upload(bytes, size, uploadOptions);
      } else {
        ({ size, response } = await uploadInBlocks(client, body, uploadOptions, options.signal, {
          blockSize: this.#blockSizeBytes,
          concurrency: this.#uploadConcurrency,
        }));
      }
      return {
        name,
        etag: quoted(required(name, response.etag, "etag")),
        size,
        contentType,
        metadata,
        lastModified: response.lastModified ?? new Date(),
      };
    } catch (error) {
      throw translate(name, error, options.signal, "put");
    }
  }

  /** Downloads a blob as a stream; properties come from the same response. See {@link BlobStore.get}. */
  async get(name: string, options: GetBlobOptions = {}): Promise<{ properties: BlobProperties; body: Readable }> {
    const client = this.#blob(name);
    await this.#prepare(name);
    try {
      const response = await client.download(0, undefined, options.signal === undefined ? {} : { abortSignal: options.signal });
      const stream = response.readableStreamBody;
      if (stream === undefined) throw new BlobError("Unavailable", name, "the download response had no body");
      const body = stream instanceof Readable ? stream : new Readable().wrap(stream);
      const properties: BlobProperties = {
        name,
        etag: quoted(required(name, response.etag, "etag")),
        size: response.contentLength ?? 0,
        contentType: response.contentType ?? DEFAULT_CONTENT_TYPE,
        metadata: lowercaseKeys(response.metadata),
        lastModified: response.lastModified ?? new Date(),
      };
      return { properties, body };
    } catch (error) {
      throw translate(name, error, options.signal, "get");
    }
  }

  /** Downloads a whole blob into memory. See {@link BlobStore.getBuffer}. */
  async getBuffer(name: string, options: GetBlobOptions = {}): Promise<{ properties: BlobProperties; body: Buffer }> {
    const { properties, body } = await this.get(name, options);
    const chunks: Buffer[] = [];
    try {
      for await (const chunk of body) chunks.push(toBuffer(chunk));
    } catch (error) {
      throw translate(name, error, options.signal, "get");
    }
    return { properties, body: Buffer.concat(chunks) };
  }

  /** The blob's properties, or undefined when it does not exist. See {@link BlobStore.head}. */
  async head(name: string): Promise<BlobProperties | undefined> {
    const client = this.#blob(name);
    await this.#prepare(name);
    try {
      const response = await client.getProperties();
      return {
        name,
        etag: quoted(required(name, response.etag, "etag")),
        size: response.contentLength ?? 0,
        contentType: response.contentType ?? DEFAULT_CONTENT_TYPE,
        metadata: lowercaseKeys(response.metadata),
        lastModified: response.lastModified ?? new Date(),
      };
    } catch (error) {
      const translated = translate(name, error, undefined, "head");
      if (translated instanceof BlobNotFoundError) return undefined;
      throw translated;
    }
  }

  /** Blobs under `prefix`, in name order, a page at a time. See {@link BlobStore.list}. */
  async *list(prefix: string): AsyncIterable<BlobProperties> {
    this.#assertOpen(prefix);
    validateBlobPrefix(prefix);
    await this.#prepare(prefix);
    const pages = this.#container.listBlobsFlat({ includeMetadata: true, ...(prefix === "" ? {} : { prefix }) });
    const iterator = pages[Symbol.asyncIterator]();
    for (;;) {
      let next: IteratorResult<BlobItem>;
      try {
        next = await iterator.next();
      } catch (error) {
        throw translate(prefix, error, undefined, "list");
      }
      if (next.done === true) return;
      yield itemProperties(next.value);
    }
  }

  /** Deletes a blob (and its snapshots); false when it did not exist. See {@link BlobStore.delete}. */
  async delete(name: string, options: DeleteBlobOptions = {}): Promise<boolean> {
    const client = this.#blob(name);
    await this.#prepare(name);
    try {
      const response = await client.deleteIfExists({
        deleteSnapshots: "include",
        ...(options.ifMatch === undefined ? {} : { conditions: { ifMatch: options.ifMatch } }),
      });
      return response.succeeded;
    } catch (error) {
      throw translate(name, error, undefined, "delete");
    }
  }

  /**
   * A service SAS URL for this one blob with read permission only, valid from a minute ago (clock skew)
   * until `expiresInMs` from now. Needs a shared-key credential (connection string with AccountKey).
   */
  async readUrl(name: string, expiresInMs: number): Promise<string> {
    const client = this.#blob(name);
    if (!Number.isFinite(expiresInMs) || expiresInMs <= 0) {
      throw new BlobError("UrlInvalid", name, `expiresInMs must be a positive number (got ${expiresInMs})`);
    }
    if (!(client.credential instanceof StorageSharedKeyCredential)) {
      throw new BlobError("UrlInvalid", name, "readUrl needs a shared-key credential (a connection string with AccountKey)");
    }
    const now = Date.now();
    try {
      return await client.generateSasUrl({
        permissions: BlobSASPermissions.parse("r"),
        startsOn: new Date(now - SAS_CLOCK_SKEW_MS),
        expiresOn: new Date(now + expiresInMs),
      });
    } catch (error) {
      throw new BlobError("UrlInvalid", name, `could not sign a read URL for "${name}"`, { cause: error });
    }
  }

  /** Marks the store closed; the SDK keeps no connection that needs closing beyond idle keep-alive sockets. */
  async close(): Promise<void> {
    this.#closed = true;
  }

  #assertOpen(name: string): void {
    if (this.#closed) throw new BlobError("Unavailable", name, "the Azure blob store is closed");
  }

  #blob(name: string) {
    this.#assertOpen(name);
    validateBlobName(name);
    return this.#container.getBlobClient(name);
  }

  /** Creates the container once, on first use, when asked to; a failed attempt is retried next call. */
  async #prepare(name: string): Promise<void> {
    if (!this.#createContainer) return;
    this.#ready ??= this.#container.createIfNotExists().then(
      () => undefined,
      (error: unknown) => {
        this.#ready = undefined;
        throw translate(name, error, undefined, "create container");
      },
    );
    await this.#ready;
  }
}

function itemProperties(item: BlobItem): BlobProperties {
  return {
    name: item.name,
    etag: quoted(required(item.name, item.properties.etag, "etag")),
    size: item.properties.contentLength ?? 0,
    contentType: item.properties.contentType ?? DEFAULT_CONTENT_TYPE,
    metadata: lowercaseKeys(item.metadata),
    lastModified: item.properties.lastModified,
  };
}

function lowercaseKeys(metadata: Record<string, string> | undefined): Record<string, string> {
  // Headers arrive lowercased but list results keep the stored case; return one form from both.
  return Object.fromEntries(Object.entries(metadata ?? {}).map(([key, value]) => [key.toLowerCase(), value]));
}

/** List results carry etags unquoted while headers quote them; always return the quoted (header) form. */
function quoted(etag: string): string {
  return etag.startsWith('"') ? etag : `"${etag}"`;
}

function required(name: string, value: string | undefined, field: string): string {
  if (value === undefined) throw new BlobError("Unavailable", name, `the service response lacked ${field}`);
  return value;
}

function toBuffer(chunk: unknown): Buffer {
  if (Buffer.isBuffer(chunk)) return chunk;
  if (chunk instanceof Uint8Array) return Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
  if (typeof chunk === "string") return Buffer.from(chunk, "utf8");
  throw new TypeError(`blob body streams must yield bytes or strings (got ${typeof chunk})`);
}

/**
 * Streams a body into a block blob with memory bounded by blockSize × (concurrency + 1): each incoming
 * chunk is copied at once into a reused block buffer (so the source's chunks die young), full blocks are
 * staged `concurrency` at a time, and the block list is committed with the write's conditions — so the
 * compare-and-set applies to the commit. A body that fits in one block goes up as a single, atomic Put Blob.
 */
async function uploadInBlocks(
  client: BlockBlobClient,
  stream: NodeJS.ReadableStream,
  options: BlockBlobUploadOptions,
  signal: AbortSignal | undefined,
  { blockSize, concurrency }: { blockSize: number; concurrency: number },
): Promise<{ size: number; response: { etag?: string; lastModified?: Date } }> {
  const source = stream instanceof Readable ? stream : new Readable().wrap(stream);
  const idPrefix = randomUUID();
  const blockIds: string[] = [];
  const spare: Buffer[] = [];
  const inFlight = new Set<Promise<void>>();
  let failure: { error: unknown } | undefined;
  // Grows up to blockSize, so a small stream does not cost a whole block.
  let block: Buffer = Buffer.allocUnsafe(Math.min(blockSize, 64 * 1024));
  let filled = 0;
  let size = 0;

  const stage = async (buffer: Buffer, length: number): Promise<void> => {
    // Block ids must all have the same length within a blob.
    const id = Buffer.from(`${idPrefix}-${String(blockIds.length).padStart(6, "0")}`).toString("base64");
    blockIds.push(id);
    const task: Promise<void> = client
      .stageBlock(id, buffer.subarray(0, length), length, signal === undefined ? {} : { abortSignal: signal })
      .then(
        () => {
          spare.push(buffer);
        },
        (error: unknown) => {
          failure ??= { error };
        },
      )
      .finally(() => inFlight.delete(task));
    inFlight.add(task);
    while (inFlight.size >= concurrency) await Promise.race(inFlight);
    if (failure !== undefined) throw failure.error;
  };

  try {
    for await (const chunk of source) {
      signal?.throwIfAborted();
      let bytes = toBuffer(chunk);
      size += bytes.byteLength;
      while (bytes.byteLength > 0) {
        if (filled === block.byteLength) {
          if (block.byteLength < blockSize) {
            const grown = Buffer.allocUnsafe(Math.min(blockSize, block.byteLength * 2));
            block.copy(grown, 0, 0, filled);
            block = grown;
          } else {
            await stage(block, filled);
            block = spare.pop() ?? Buffer.allocUnsafe(blockSize);
            filled = 0;
          }
        }
        const copied = bytes.copy(block, filled);
        filled += copied;
        bytes = bytes.subarray(copied);
      }
    }
  } finally {
    source.destroy();
  }
  if (blockIds.length === 0) {
    return { size, response: await client.upload(block.subarray(0, filled), filled, options) };
  }
  if (filled > 0) await stage(block, filled);
  await Promise.all(inFlight);
  if (failure !== undefined) throw failure.error;
  return { size, response: await client.commitBlockList(blockIds, options) };
}

/**
 * Translates the SDK's RestError (HTTP status, service error code, or a network failure) into a
 * BlobError. The abort reason passes through, and so does anything else — typically the caller's own
 * body stream failing — which is not the service's failure to relabel.
 */
function translate(name: string, error: unknown, signal: AbortSignal | undefined, operation: string): unknown {
  if (signal?.aborted) return signal.reason;
  if (error instanceof BlobError || !(error instanceof RestError)) return error;
  const status = error.statusCode;
  // HEAD responses have no body, so the service's error code only arrives in a header (details.errorCode).
  const code = error.code ?? errorCodeHeader(error) ?? "";
  if (code === "ContainerNotFound") {
    return new BlobError("ContainerNotFound", name, `container does not exist (create it, or pass createContainer: true)`, { cause: error });
  }
  if (status === 412 || code === "ConditionNotMet" || code === "BlobAlreadyExists" || (status === 409 && operation === "put")) {
    return new BlobConflictError(name, `blob "${name}" changed or already exists (${code || status})`, { cause: error });
  }
  if (code === "InvalidBlockList") {
    // Another writer committed the same blob while our blocks were staged, which discards them.
    return new BlobConflictError(name, `a concurrent write to "${name}" discarded this upload's staged blocks`, { cause: error });
  }
  if (status === 404) return new BlobNotFoundError(name, { cause: error });
  if (code === "InvalidResourceName" || code === "InvalidUri" || code === "InvalidMetadata") {
    return new InvalidBlobNameError(name, `rejected by the service (${code})`, { cause: error });
  }
  return new BlobError("Unavailable", name, `azure blob ${operation} of "${name}" failed: ${status ?? "no response"} ${code}`.trim(), {
    cause: error,
  });
}

function errorCodeHeader(error: RestError): string | undefined {
  const details = error.details;
  if (typeof details !== "object" || details === null || !("errorCode" in details)) return undefined;
  return typeof details.errorCode === "string" ? details.errorCode : undefined;
}


/** The three parts the Batch Execution Service reports a blob location in. */
export interface SasUrlParts {
  /** `https://account.blob.core.windows.net/`, or with the account path for path-style (Azurite) URLs. */
  readonly baseLocation: string;
  /** `container/blob/name` (still percent-encoded as in the URL). */
  readonly relativeLocation: string;
  /** The query string with its leading `?`, or `""` when there is none. */
  readonly sasBlobToken: string;
}

/**
 * Splits a blob URL into BaseLocation, RelativeLocation and SasBlobToken, so that concatenating the
 * three gives the URL back. Path-style hosts (IP literals, localhost, single-label names like `azurite`,
 * Azurite's ports 10000–10009) keep the first path segment (the account) in the base.
 */
export function splitSasUrl(url: string): SasUrlParts {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch (error) {
    throw new BlobError("UrlInvalid", "", `not a URL: ${JSON.stringify(url)}`, { cause: error });
  }
  const segments = parsed.pathname.replace(/^\/+/, "").split("/");
  const accountSegments = isPathStyle(parsed) ? 1 : 0;
  if (segments.length < accountSegments + 1 || segments.slice(accountSegments).join("") === "") {
    throw new BlobError("UrlInvalid", "", `URL names no blob: ${parsed.origin}${parsed.pathname}`);
  }
  const account = segments.slice(0, accountSegments).map((s) => `${s}/`).join("");
  return {
    baseLocation: `${parsed.protocol}//${parsed.host}/${account}`,
    relativeLocation: segments.slice(accountSegments).join("/"),
    sasBlobToken: parsed.search,
  };
}

function isPathStyle(url: URL): boolean {
  const host = url.hostname;
  if (host === "localhost" || host === "host.docker.internal" || !host.includes(".")) return true;
  if (/^\d{1,3}(\.\d{1,3}){3}$/.test(host) || host.startsWith("[")) return true;
  const port = Number(url.port);
  return port >= 10000 && port <= 10009;
}
