import { Cleanup, tempDir, uniqueName } from "@retrain/testing";
import { CachedListing, readJson, updateJson } from "./documents.js";
import { BlobConflictError } from "./errors.js";
import { FileSystemBlobStore } from "./filesystem-store.js";
import { watchedStore } from "./testing.js";

interface Job {
  status: string;
  attempts: number;
}

function parseJob(value: unknown): Job {
  if (typeof value === "object" && value !== null) {
    const { status, attempts } = value as Record<string, unknown>;
    if (typeof status === "string" && typeof attempts === "number") return { status, attempts };
  }
  throw new TypeError("not a job");
}

describe("JSON documents", () => {
  const cleanup = new Cleanup();
  let store: FileSystemBlobStore;
  beforeAll(async () => {
    const dir = await tempDir("retrain-docs-");
    cleanup.add(() => dir.remove());
    store = new FileSystemBlobStore({ root: dir.path });
  });
  afterAll(() => cleanup.run());

  it("reads undefined for a missing document and the value with its etag otherwise", async () => {
    const name = `${uniqueName("doc")}/job.json`;
    expect(await readJson(store, name, parseJob)).toBeUndefined();
    const put = await store.put(name, JSON.stringify({ status: "queued", attempts: 0 }));
    expect(await readJson(store, name, parseJob)).toEqual({ value: { status: "queued", attempts: 0 }, etag: put.etag });
  });

  it("propagates the parser's error and names the blob on invalid JSON", async () => {
    const name = `${uniqueName("doc")}/bad.json`;
    await store.put(name, JSON.stringify({ status: 1 }));
    await expect(readJson(store, name, parseJob)).rejects.toThrow("not a job");
    await store.put(name, "{not json");
    await expect(readJson(store, name, parseJob)).rejects.toThrow(new RegExp(`blob "${name}".*not valid JSON`));
  });

  it("creates, updates and skips unchanged documents", async () => {
    const name = `${uniqueName("doc")}/job.json`;
    const none = await updateJson(store, name, parseJob, () => undefined);
    expect(none).toEqual({ value: undefined, etag: undefined, changed: false });
    expect(await store.head(name)).toBeUndefined();

    const created = await updateJson(store, name, parseJob, (current) => current ?? { status: "queued", attempts: 0 });
    expect(created).toMatchObject({ value: { status: "queued", attempts: 0 }, changed: true });
    const updated = await updateJson(store, name, parseJob, async (current) =>
      current === undefined ? undefined : { ...current, status: "running", attempts: current.attempts + 1 },
    );
    expect(updated).toMatchObject({ value: { status: "running", attempts: 1 }, changed: true });
    expect(updated.etag).not.toBe(created.etag);
    const same = await updateJson(store, name, parseJob, () => undefined);
    expect(same).toEqual({ value: updated.value, etag: updated.etag, changed: false });
  });

  it("gives up with BlobConflictError after maxAttempts when another writer always wins", async () => {
    const name = `${uniqueName("doc")}/contended.json`;
    await store.put(name, JSON.stringify({ status: "queued", attempts: 0 }));
    let calls = 0;
    const attempt = updateJson(
      store,
      name,
      parseJob,
      async (current) => {
        calls++;
        // A rival writes between our read and our conditional write, every time.
        await store.put(name, JSON.stringify({ status: "rival", attempts: calls }));
        return current === undefined ? undefined : { ...current, status: "mine" };
      },
      { maxAttempts: 3 },
    );
    await expect(attempt).rejects.toBeInstanceOf(BlobConflictError);
    await expect(attempt).rejects.toMatchObject({ code: "Conflict", blobName: name, message: expect.stringMatching(/after 3/) });
    expect(calls).toBe(3);
    expect((await readJson(store, name, parseJob))?.value.status).toBe("rival");
  });

  it("stops when its signal is aborted", async () => {
    const name = `${uniqueName("doc")}/aborted.json`;
    const controller = new AbortController();
    const reason = new Error("shutting down");
    controller.abort(reason);
    await expect(updateJson(store, name, parseJob, () => ({ status: "x", attempts: 0 }), { signal: controller.signal })).rejects.toBe(reason);
    expect(await store.head(name)).toBeUndefined();
  });

  it("CachedListing reads a document only when its etag changed, keeps what `read` made of it, and drops deleted ones", async () => {
    const prefix = `${uniqueName("listing")}/`;
    for (const id of ["a", "b", "c"]) await store.put(`${prefix}${id}.json`, JSON.stringify({ status: id, attempts: 1 }));
    const { store: recording, reads } = watchedStore(store);
    const listing = new CachedListing(recording, prefix, (value) => parseJob(value).status);

    expect(await listing.values()).toEqual(["a", "b", "c"]);
    expect(reads).toHaveLength(3);
    reads.length = 0;
    expect(await listing.values()).toEqual(["a", "b", "c"]);
    expect(reads).toEqual([]);

    await store.put(`${prefix}b.json`, JSON.stringify({ status: "b2", attempts: 2 }));
    await store.delete(`${prefix}c.json`);
    await store.put(`${prefix}d.json`, JSON.stringify({ status: "d", attempts: 1 }));
    expect(await listing.values()).toEqual(["a", "b2", "d"]);
    expect(reads).toEqual([`${prefix}b.json`, `${prefix}d.json`]);
    expect(listing.size).toBe(3);
  });
});
