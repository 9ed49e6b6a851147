import { setTimeout as sleep } from "node:timers/promises";
import type { BlobStore } from "./blob-store.js";
import { BlobConflictError, isBlobError } from "./errors.js";

/** A JSON document as read, with the etag to make the next write conditional on. */
export interface JsonDocument<T> {
  readonly value: T;
  readonly etag: string;
}

/** What {@link updateJson} did: the document as it now stands, and whether this call wrote it. */
export type UpdateJsonResult<T> =
  | { readonly value: T; readonly etag: string; readonly changed: boolean }
  | { readonly value: undefined; readonly etag: undefined; readonly changed: false };

/** Options for {@link updateJson}. */
export interface UpdateJsonOptions {
  /** Read-mutate-write attempts before giving up with {@link BlobConflictError}. Default 20. */
  maxAttempts?: number;
  /** Cap of the jittered backoff between attempts. Default 100 ms. */
  maxBackoffMs?: number;
  /** Aborts between attempts and during I/O; the signal's reason is thrown. */
  signal?: AbortSignal;
}

/**
 * Reads a JSON blob and checks its shape with `parse` (e.g. a zod schema's `parse`); `undefined` when
 * the blob does not exist. Invalid JSON throws a SyntaxError naming the blob; `parse` throws its own.
 */
export async function readJson<T>(store: BlobStore, name: string, parse: (value: unknown) => T): Promise<JsonDocument<T> | undefined> {
  return readDocument(store, name, parse, undefined);
}

/**
 * Compare-and-set on a JSON blob: reads it, applies `mutate` to a fresh copy, and writes the result only
 * if nobody wrote in between (ifMatch, or ifNoneMatch "*" when it did not exist); on conflict it re-reads
 * and retries with jittered backoff. `mutate` returning undefined means "no change" (nothing is written).
 * This is how a service records state, inbox and outbox in one atomic step. `mutate` may run more than
 * once, so it must not have side effects beyond computing the next value.
 */
export async function updateJson<T>(
  store: BlobStore,
  name: string,
  parse: (value: unknown) => T,
  mutate: (current: T | undefined) => T | undefined | Promise<T | undefined>,
  options: UpdateJsonOptions = {},
): Promise<UpdateJsonResult<T>> {
  const maxAttempts = options.maxAttempts ?? 20;
  const maxBackoffMs = options.maxBackoffMs ?? 100;
  const signal = options.signal;
  for (let attempt = 1; ; attempt++) {
    signal?.throwIfAborted();
    const current = await readDocument(store, name, parse, signal);
    const next = await mutate(current?.value);
    if (next === undefined) {
      return current === undefined
        ? { value: undefined, etag: undefined, changed: false }
        : { value: current.value, etag: current.etag, changed: false };
    }
    try {
      const written = await store.put(name, JSON.stringify(next), {
        contentType: "application/json",
        ...(current === undefined ? { ifNoneMatch: "*" as const } : { ifMatch: current.etag }),
        ...(signal === undefined ? {} : { signal }),
      });
      return { value: next, etag: written.etag, changed: true };
    } catch (error) {
      if (!isBlobError(error, "Conflict")) throw error;
      if (attempt >= maxAttempts) {
        throw new BlobConflictError(name, `gave up updating "${name}" after ${maxAttempts} conflicting attempts`, { cause: error });
      }
    }
    // Full jitter, growing with the attempt: racing writers spread out instead of colliding in lockstep.
    const ceilingMs = Math.min(maxBackoffMs, 2 ** attempt);
    await sleep(Math.random() * ceilingMs, undefined, signal === undefined ? {} : { signal });
  }
}

async function readDocument<T>(
  store: BlobStore,
  name: string,
  parse: (value: unknown) => T,
  signal: AbortSignal | undefined,
): Promise<JsonDocument<T> | undefined> {
  let blob;
  try {
    blob = await store.getBuffer(name, signal === undefined ? {} : { signal });
  } catch (error) {
    if (isBlobError(error, "NotFound")) return undefined;
    throw error;
  }
  let json: unknown;
  try {
    json = JSON.parse(blob.body.toString("utf8"));
  } catch (error) {
    throw new SyntaxError(`blob "${name}" (etag ${blob.properties.etag}) is not valid JSON`, { cause: error });
  }
  return { value: parse(json), etag: blob.properties.etag };
}

/**
 * The JSON documents under a prefix, kept by blob name with the etag each was read at: a call costs
 * one listing plus a read of each document that changed since the last call, and documents gone are
 * dropped. `read` parses a document and keeps only what the caller needs of it (a summary, say), so
 * memory stays small. For lists asked often (per event, or by a page that polls) whose documents
 * change rarely.
 */
export class CachedListing<T> {
  readonly #cache = new Map<string, { readonly etag: string; readonly value: T }>();

  constructor(
    private readonly store: BlobStore,
    private readonly prefix: string,
    private readonly read: (value: unknown) => T,
  ) {}

  /** Every document under the prefix, in name order, as `read` made it. */
  async values(): Promise<T[]> {
    const out: T[] = [];
    const listed = new Set<string>();
    for await (const props of this.store.list(this.prefix)) {
      listed.add(props.name);
      const known = this.#cache.get(props.name);
      if (known !== undefined && known.etag === props.etag) {
        out.push(known.value);
        continue;
      }
      const doc = await readJson(this.store, props.name, this.read);
      if (doc === undefined) continue;
      this.#cache.set(props.name, { etag: doc.etag, value: doc.value });
      out.push(doc.value);
    }
    for (const name of this.#cache.keys()) if (!listed.has(name)) this.#cache.delete(name);
    return out;
  }

  /** How many documents are held. */
  get size(): number {
    return this.#cache.size;
  }
}
