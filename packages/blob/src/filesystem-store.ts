import { randomBytes } from "node:crypto";
import { mkdir, open, readdir, readFile, rename, rmdir, unlink, type FileHandle } from "node:fs/promises";
import { dirname, join, resolve, sep } from "node:path";
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
import { errno, withBlobLock } from "./file-lock.js";
import { normalizeMetadata, validateBlobName, validateBlobPrefix } from "./names.js";
import { encodeBlobPath, signBlobRead, DEFAULT_BLOB_URL_PATH_PREFIX } from "./signed-url.js";

/** Options for {@link FileSystemBlobStore}. */
export interface FileSystemBlobStoreOptions {
  /** Directory that holds the store; created on first write. Several processes may share it (one host). */
  root: string;
  /** HMAC key for {@link FileSystemBlobStore.readUrl}; the serving handler must use the same. Default: none (readUrl fails). */
  urlSecret?: string | Buffer;
  /** Base URL where {@link createBlobUrlHandler} is reachable, e.g. `http://127.0.0.1:8080`. Default: none (readUrl fails). */
  publicBaseUrl?: string;
  /** Path prefix the handler is mounted at. Default `/_blobs/`. */
  urlPathPrefix?: string;
  /** Give up waiting for another writer's lock on the same blob after this long. Default 10 000 ms. */
  lockTimeoutMs?: number;
  /** Treat a lock file older than this as abandoned by a crashed writer. Default 30 000 ms. */
  staleLockMs?: number;
}

interface ResolvedOptions {
  blobsDir: string;
  urlSecret: string | Buffer | undefined;
  publicBaseUrl: string | undefined;
  urlPathPrefix: string;
  lock: { lockTimeoutMs: number; staleLockMs: number };
}

function resolveOptions(options: FileSystemBlobStoreOptions): ResolvedOptions {
  const urlPathPrefix = options.urlPathPrefix ?? DEFAULT_BLOB_URL_PATH_PREFIX;
  return {
    blobsDir: join(resolve(options.root), "blobs"),
    urlSecret: options.urlSecret,
    publicBaseUrl: options.publicBaseUrl?.replace(/\/+$/, ""),
    urlPathPrefix: `/${urlPathPrefix.replace(/^\/+|\/+$/g, "")}/`,
    lock: { lockTimeoutMs: options.lockTimeoutMs ?? 10_000, staleLockMs: options.staleLockMs ?? 30_000 },
  };
}

/*
 * On-disk layout. A blob `a/b/c.csv` lives in directory `<root>/blobs/a/b/` as a family of files
 * named `<E>@<suffix>`, where E is the percent-encoded last segment (encodeURIComponent never emits
 * `@`, so directory names, which never contain `@`, cannot collide with blob files — `a` and `a/b`
 * can both exist, as on Azure):
 *
 *   c.csv@head             JSON head record {version, etag, size, contentType, metadata, …} — the commit point
 *   c.csv@<version>.data   the content of that version; written in full before the head names it
 *   c.csv@lock             O_EXCL write lock (see file-lock.ts), held only around the head swap
 *   c.csv@tmp.<random>     head record being written, renamed over `@head`
 *
 * A write streams the content to a fresh `@<version>.data`, fsyncs it, then under the lock checks the
 * condition against the current head and atomically renames a new head record into place; the old
 * version's data file is unlinked afterwards. Readers read the head and open the data file it names; if
 * a concurrent write unlinked it in between they re-read the head, and once open the descriptor keeps
 * that version readable to the end, so a reader never sees a mix of two versions. A writer that crashes
 * between writing its data file and committing leaves an unreferenced `@<version>.data` behind: wasted
 * space, never visible through the store.
 */
const HEAD = "@head";
/** Longest encoded segment: leaves room for `@<32 hex>.data` within the common 255-byte file name limit. */
const MAX_ENCODED_SEGMENT = 200;
const READ_CHUNK_BYTES = 64 * 1024;
const DEFAULT_CONTENT_TYPE = "application/octet-stream";

interface HeadRecord {
  readonly name: string;
  readonly version: string;
  readonly size: number;
  readonly contentType: string;
  readonly metadata: Record<string, string>;
  readonly lastModified: string;
}

interface BlobPaths {
  readonly name: string;
  readonly dir: string;
  readonly base: string;
  readonly head: string;
  readonly lock: string;
  data(version: string): string;
}

/**
 * The embedded {@link BlobStore}: blobs as files under one directory, with atomic writes, real etags and
 * compare-and-set that holds across concurrent writers in this process and in other processes.
 */
export class FileSystemBlobStore implements BlobStore {
  /** Always `"filesystem"`. */
  readonly kind = "filesystem" as const;
  readonly #options: ResolvedOptions;
  #closed = false;

  constructor(options: FileSystemBlobStoreOptions) {
    this.#options = resolveOptions(options);
  }

  /** The directory holding the blobs (for diagnostics). */
  get root(): string {
    return dirname(this.#options.blobsDir);
  }

  /** Creates or replaces a blob, streaming `body` to disk; see {@link BlobStore.put}. */
  async put(name: string, body: BlobBody, options: PutBlobOptions = {}): Promise<BlobProperties> {
    const paths = this.#paths(name);
    const metadata = normalizeMetadata(name, options.metadata);
    const contentType = options.contentType ?? DEFAULT_CONTENT_TYPE;
    options.signal?.throwIfAborted();
    // Fail fast before streaming a large body that the condition would reject anyway; re-checked under the lock.
    if (options.ifMatch !== undefined || options.ifNoneMatch !== undefined) {
      checkCondition(name, await this.#readHead(paths), options.ifMatch, options.ifNoneMatch);
    }
    const version = randomBytes(16).toString("hex");
    const dataPath = paths.data(version);
    let size: number;
    try {
      size = await writeContent(dataPath, body, options.signal);
    } catch (error) {
      await unlink(dataPath).catch(() => undefined);
      throw translate(name, error, options.signal);
    }
    let committed: { record: HeadRecord; previous: HeadRecord | undefined };
    try {
      committed = await withBlobLock(name, paths.lock, this.#options.lock, async () => {
        const previous = await this.#readHead(paths);
        checkCondition(name, previous, options.ifMatch, options.ifNoneMatch);
        // Stamped inside the lock so lastModified follows commit order.
        const record: HeadRecord = { name, version, size, contentType, metadata, lastModified: new Date().toISOString() };
        await writeFileAtomically(paths, JSON.stringify(record));
        return { record, previous };
      });
    } catch (error) {
      await unlink(dataPath).catch(() => undefined);
      throw translate(name, error, undefined);
    }
    // Readers that opened the old version keep their descriptor; new readers follow the new head.
    if (committed.previous !== undefined) await unlink(paths.data(committed.previous.version)).catch(() => undefined);
    return toProperties(committed.record);
  }

  /** Opens a blob as a stream of 64 KiB chunks; see {@link BlobStore.get}. */
  async get(name: string, options: GetBlobOptions = {}): Promise<{ properties: BlobProperties; body: Readable }> {
    const { record, handle } = await this.#openCurrent(name, options.signal);
    const body = handle.createReadStream({ highWaterMark: READ_CHUNK_BYTES });
    const signal = options.signal;
    if (signal !== undefined) {
      const abort = () => body.destroy(signal.reason instanceof Error ? signal.reason : new Error(String(signal.reason)));
      signal.addEventListener("abort", abort, { once: true });
      body.once("close", () => signal.removeEventListener("abort", abort));
    }
    return { properties: toProperties(record), body };
  }

  /** Reads a whole blob into memory; see {@link BlobStore.getBuffer}. */
  async getBuffer(name: string, options: GetBlobOptions = {}): Promise<{ properties: BlobProperties; body: Buffer }> {
    const { record, handle } = await this.#openCurrent(name, options.signal);
    try {
      const body = await handle.readFile(options.signal === undefined ? {} : { signal: options.signal });
      return { properties: toProperties(record), body };
    } catch (error) {
      throw translate(name, error, options.signal);
    } finally {
      await handle.close();
    }
  }

  /** The blob's properties, or undefined; see {@link BlobStore.head}. */
  async head(name: string): Promise<BlobProperties | undefined> {
    const record = await this.#readHead(this.#paths(name));
    return record === undefined ? undefined : toProperties(record);
  }

  /** Blobs under `prefix` in name order; see {@link BlobStore.list}. */
  async *list(prefix: string): AsyncIterable<BlobProperties> {
    this.#assertOpen(prefix);
    validateBlobPrefix(prefix);
    // Walk only the directory the prefix pins down ("a/b/c" → "a/b/"), then filter by the full prefix.
    const slash = prefix.lastIndexOf("/");
    const fixed = slash < 0 ? [] : prefix.slice(0, slash).split("/");
    const start = join(this.#options.blobsDir, ...fixed.map(encodeSegment));
    const names: string[] = [];
    await collectNames(start, fixed, prefix, names);
    names.sort();
    for (const name of names) {
      const record = await this.#readHead(this.#paths(name));
      if (record !== undefined) yield toProperties(record); // else deleted while listing
    }
  }

  /** Deletes a blob; see {@link BlobStore.delete}. */
  async delete(name: string, options: DeleteBlobOptions = {}): Promise<boolean> {
    const paths = this.#paths(name);
    // Absent now is a valid answer; skipping the lock also avoids creating directories for nothing.
    if ((await this.#readHead(paths)) === undefined) return false;
    let removed: HeadRecord | undefined;
    try {
      removed = await withBlobLock(name, paths.lock, this.#options.lock, async () => {
        const current = await this.#readHead(paths);
        if (current === undefined) return undefined;
        checkCondition(name, current, options.ifMatch, undefined);
        await unlink(paths.head);
        await syncDirectory(paths.dir);
        return current;
      });
    } catch (error) {
      throw translate(name, error, undefined);
    }
    if (removed !== undefined) await unlink(paths.data(removed.version)).catch(() => undefined);
    await pruneEmptyDirectories(paths.dir, this.#options.blobsDir);
    return removed !== undefined;
  }

  /**
   * `<publicBaseUrl>/_blobs/<name>?se=<expiry ms>&sig=<HMAC>`: read-only access to this one blob until
   * the expiry, served by {@link createBlobUrlHandler} with the same secret.
   */
  async readUrl(name: string, expiresInMs: number): Promise<string> {
    this.#paths(name);
    const { urlSecret, publicBaseUrl, urlPathPrefix } = this.#options;
    if (urlSecret === undefined || publicBaseUrl === undefined) {
      throw new BlobError("UrlInvalid", name, "readUrl needs the store's urlSecret and publicBaseUrl options");
    }
    if (!Number.isFinite(expiresInMs) || expiresInMs <= 0) {
      throw new BlobError("UrlInvalid", name, `expiresInMs must be a positive number (got ${expiresInMs})`);
    }
    const expiresAt = Math.floor(Date.now() + expiresInMs);
    const signature = signBlobRead(urlSecret, name, expiresAt);
    return `${publicBaseUrl}${urlPathPrefix}${encodeBlobPath(name)}?se=${expiresAt}&sig=${signature}`;
  }

  /** Marks the store closed; it holds no open resources between calls. */
  async close(): Promise<void> {
    this.#closed = true;
  }

  #assertOpen(name: string): void {
    if (this.#closed) throw new BlobError("Unavailable", name, "the filesystem blob store is closed");
  }

  #paths(name: string): BlobPaths {
    this.#assertOpen(name);
    validateBlobName(name);
    const segments = name.split("/").map(encodeSegment);
    for (const segment of segments) {
      if (Buffer.byteLength(segment) > MAX_ENCODED_SEGMENT) {
        throw new InvalidBlobNameError(name, `a segment is too long for the filesystem store (over ${MAX_ENCODED_SEGMENT} bytes once encoded)`);
      }
    }
    const last = segments.pop() ?? "";
    const dir = join(this.#options.blobsDir, ...segments);
    const base = join(dir, last);
    return { name, dir, base, head: `${base}${HEAD}`, lock: `${base}@lock`, data: (version) => `${base}@${version}.data` };
  }

  async #readHead(paths: BlobPaths): Promise<HeadRecord | undefined> {
    let text: string;
    try {
      text = await readFile(paths.head, "utf8");
    } catch (error) {
      // ENOTDIR cannot arise from this layout, but an unexpected file in the tree should not crash a read.
      if (errno(error) === "ENOENT" || errno(error) === "ENOTDIR") return undefined;
      throw translate(paths.name, error, undefined);
    }
    return parseHeadRecord(paths.head, text);
  }

  async #openCurrent(name: string, signal: AbortSignal | undefined): Promise<{ record: HeadRecord; handle: FileHandle }> {
    const paths = this.#paths(name);
    // Each miss means a writer replaced the version between our reading the head and opening its data.
    for (let attempt = 0; attempt < 100; attempt++) {
      signal?.throwIfAborted();
      const record = await this.#readHead(paths);
      if (record === undefined) throw new BlobNotFoundError(name);
      try {
        return { record, handle: await open(paths.data(record.version), "r") };
      } catch (error) {
        if (errno(error) !== "ENOENT") throw translate(name, error, signal);
      }
    }
    throw new BlobError("Unavailable", name, "the blob kept changing while it was being opened");
  }
}

function checkCondition(name: string, current: HeadRecord | undefined, ifMatch: string | undefined, ifNoneMatch: "*" | undefined): void {
  if (ifNoneMatch === "*" && current !== undefined) {
    throw new BlobConflictError(name, `blob "${name}" already exists (ifNoneMatch "*")`);
  }
  if (ifMatch !== undefined) {
    if (current === undefined) throw new BlobConflictError(name, `blob "${name}" does not exist (ifMatch ${ifMatch})`);
    if (ifMatch !== "*" && ifMatch !== etagOf(current.version)) {
      throw new BlobConflictError(name, `blob "${name}" has changed (ifMatch ${ifMatch}, current ${etagOf(current.version)})`);
    }
  }
}

function etagOf(version: string): string {
  return `"${version}"`;
}

function toProperties(record: HeadRecord): BlobProperties {
  return {
    name: record.name,
    etag: etagOf(record.version),
    size: record.size,
    contentType: record.contentType,
    metadata: { ...record.metadata },
    lastModified: new Date(record.lastModified),
  };
}

function parseHeadRecord(path: string, text: string): HeadRecord {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new BlobError("Unavailable", path, `corrupt head record ${path}`, { cause: error });
  }
  const record = parsed as Partial<Record<keyof HeadRecord, unknown>> | null;
  if (
    typeof record !== "object" ||
    record === null ||
    typeof record.name !== "string" ||
    typeof record.version !== "string" ||
    typeof record.size !== "number" ||
    typeof record.contentType !== "string" ||
    typeof record.lastModified !== "string" ||
    typeof record.metadata !== "object" ||
    record.metadata === null
  ) {
    throw new BlobError("Unavailable", path, `corrupt head record ${path}`);
  }
  const metadata: Record<string, string> = {};
  for (const [key, value] of Object.entries(record.metadata)) {
    if (typeof value === "string") metadata[key] = value;
  }
  return {
    name: record.name,
    version: record.version,
    size: record.size,
    contentType: record.contentType,
    metadata,
    lastModified: record.lastModified,
  };
}

/** Percent-encodes a name segment for the file system; `*` too, so names stay portable. */
function encodeSegment(segment: string): string {
  return encodeURIComponent(segment).replace(/\*/g, "%2A");
}

function decodeSegment(encoded: string): string | undefined {
  try {
    return decodeURIComponent(encoded);
  } catch {
    return undefined;
  }
}

async function collectNames(dir: string, segments: string[], prefix: string, into: string[]): Promise<void> {
  let entries;
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch (error) {
    if (errno(error) === "ENOENT" || errno(error) === "ENOTDIR") return;
    throw translate(prefix, error, undefined);
  }
  for (const entry of entries) {
    if (entry.isDirectory() && !entry.name.includes("@")) {
      const segment = decodeSegment(entry.name);
      if (segment === undefined) continue; // not ours
      const child = [...segments, segment];
      const childPath = `${child.join("/")}/`;
      // Descend only where names can still match: the subtree's path and the prefix must agree so far.
      if (childPath.startsWith(prefix) || prefix.startsWith(childPath)) {
        await collectNames(join(dir, entry.name), child, prefix, into);
      }
    } else if (entry.isFile() && entry.name.endsWith(HEAD) && entry.name.indexOf("@") === entry.name.length - HEAD.length) {
      const segment = decodeSegment(entry.name.slice(0, -HEAD.length));
      if (segment === undefined) continue;
      const name = [...segments, segment].join("/");
      if (name.startsWith(prefix)) into.push(name);
    }
  }
}

/** Writes the content to a new file, fsyncs it and returns its size; memory stays bounded for streams. */
async function writeContent(path: string, body: BlobBody, signal: AbortSignal | undefined): Promise<number> {
  const handle = await openCreatingDirectories(path, "wx");
  try {
    if (typeof body === "string" || body instanceof Uint8Array) {
      const bytes = typeof body === "string" ? Buffer.from(body, "utf8") : body;
      await handle.writeFile(bytes, signal === undefined ? {} : { signal });
    } else {
      // One chunk in flight at a time: memory stays at the source's chunk size whatever the blob's size.
      const source = body instanceof Readable ? body : new Readable().wrap(body);
      try {
        for await (const chunk of source) {
          signal?.throwIfAborted();
          await handle.write(typeof chunk === "string" ? Buffer.from(chunk, "utf8") : (chunk as Uint8Array));
        }
        signal?.throwIfAborted();
      } finally {
        source.destroy();
      }
    }
    await handle.sync();
    return (await handle.stat()).size;
  } finally {
    await handle.close();
  }
}

/** Replaces the head record: temp file in the same directory, fsync, rename, fsync the directory. */
async function writeFileAtomically(paths: BlobPaths, text: string): Promise<void> {
  const temp = `${paths.base}@tmp.${randomBytes(8).toString("hex")}`;
  const handle = await openCreatingDirectories(temp, "wx");
  try {
    await handle.writeFile(text, "utf8");
    await handle.sync();
  } finally {
    await handle.close();
  }
  try {
    await rename(temp, paths.head);
  } catch (error) {
    await unlink(temp).catch(() => undefined);
    throw error;
  }
  await syncDirectory(paths.dir);
}

async function openCreatingDirectories(path: string, flags: string): Promise<FileHandle> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await open(path, flags);
    } catch (error) {
      // The directory may not exist yet, or a concurrent delete may have just pruned it.
      if (errno(error) !== "ENOENT" || attempt >= 5) throw error;
      const created = await mkdir(dirname(path), { recursive: true });
      if (created !== undefined) await syncDirectory(dirname(created));
    }
  }
}

async function syncDirectory(dir: string): Promise<void> {
  // Makes a rename/unlink/mkdir durable; some platforms cannot fsync a directory, which is not worth failing for.
  const handle = await open(dir, "r").catch(() => undefined);
  if (handle === undefined) return;
  try {
    await handle.sync();
  } catch {
    // EINVAL/EISDIR on platforms without directory fsync.
  } finally {
    await handle.close();
  }
}

async function pruneEmptyDirectories(dir: string, stopAt: string): Promise<void> {
  // rmdir fails on a non-empty directory, so this can never remove another writer's files.
  for (let current = dir; current.startsWith(`${stopAt}${sep}`); current = dirname(current)) {
    try {
      await rmdir(current);
    } catch {
      return;
    }
  }
}

/**
 * File-system failures (errno codes: ENOSPC, EACCES, EMFILE…) become BlobError "Unavailable". Anything
 * else — typically the caller's own body stream failing — is not the store's to relabel and passes through.
 */
function translate(name: string, error: unknown, signal: AbortSignal | undefined): unknown {
  if (signal?.aborted) return signal.reason;
  if (error instanceof BlobError) return error;
  const code = errno(error);
  if (code === undefined || !/^E[A-Z0-9]+$/.test(code)) return error;
  return new BlobError("Unavailable", name, `filesystem blob store: ${code} on "${name}"`, { cause: error });
}
