// Test support behind the package's `@retrain/blob/testing` door.
import type { BlobStore } from "./blob-store.js";

/**
 * `store` as it is, with the name of every blob read (`getBuffer`, which `readJson` uses) recorded:
 * for tests that check what a cache saves. Only reads and listings go through the wrapper.
 */
export function recordingReads(store: BlobStore): { readonly store: BlobStore; readonly reads: string[] } {
  const reads: string[] = [];
  const recording: BlobStore = Object.assign(Object.create(store) as BlobStore, {
    getBuffer: (name: string, options?: Parameters<BlobStore["getBuffer"]>[1]) => {
      reads.push(name);
      return store.getBuffer(name, options);
    },
    list: (prefix: string) => store.list(prefix),
  });
  return { store: recording, reads };
}
