// Test support behind the package's `@retrain/blob/testing` door.
import type { Readable } from "node:stream";
import type { BlobStore } from "./blob-store.js";

/** What {@link watchedStore} saw. */
export interface StoreWatch {
  /** The name of every blob read whole (`getBuffer`, which `readJson` uses), in order. */
  readonly reads: string[];
  /** The body stream of every blob opened for streaming (`get`), in order. */
  readonly opened: Readable[];
}

/**
 * `store` as it is, with its reads recorded: for tests that check what a cache saves, or that a
 * stream a service opened was closed. Every call goes to `store` itself.
 */
export function watchedStore(store: BlobStore): { readonly store: BlobStore } & StoreWatch {
  const reads: string[] = [];
  const opened: Readable[] = [];
  const watched: BlobStore = {
    kind: store.kind,
    put: (name, body, options) => store.put(name, body, options),
    get: async (name, options) => {
      const blob = await store.get(name, options);
      opened.push(blob.body);
      return blob;
    },
    getBuffer: (name, options) => {
      reads.push(name);
      return store.getBuffer(name, options);
    },
    head: (name) => store.head(name),
    list: (prefix) => store.list(prefix),
    delete: (name, options) => store.delete(name, options),
    readUrl: (name, expiresInMs) => store.readUrl(name, expiresInMs),
    close: () => store.close(),
  };
  return { store: watched, reads, opened };
}
