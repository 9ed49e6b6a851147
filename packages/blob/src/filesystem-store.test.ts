import { execFile, spawn } from "node:child_process";
import { mkdir, readdir, readFile, utimes, writeFile } from "node:fs/promises";
import { createServer } from "node:http";
import { hostname } from "node:os";
import { join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { promisify } from "node:util";
import { Cleanup, tempDir, uniqueName } from "@retrain/testing";
import { createBlobUrlHandler, type BlobUrlHandler } from "./blob-url-handler.js";
import { describeBlobStoreContract } from "./blob-store.contract.js";
import { updateJson } from "./documents.js";
import { FileSystemBlobStore } from "./filesystem-store.js";

const run = promisify(execFile);
const SECRET = "test-url-secret";

interface Served {
  readonly store: FileSystemBlobStore;
  readonly root: string;
  readonly baseUrl: string;
  readonly cleanup: Cleanup;
}

/** A filesystem store in a temp dir, with its read URLs served by a node:http server on a free port. */
async function serveStore(): Promise<Served> {
  const cleanup = new Cleanup();
  const dir = await tempDir("retrain-blob-");
  cleanup.add(() => dir.remove());
  // The store needs the server's port for its URLs, and the server needs the store's handler.
  const route: { handler?: BlobUrlHandler } = {};
  const server = createServer((req, res) => {
    if (route.handler?.(req, res) !== true) {
      res.statusCode = 404;
      res.end("host route");
    }
  });
  await new Promise<void>((ready) => server.listen(0, "127.0.0.1", ready));
  cleanup.add(
    () =>
      new Promise<void>((closed) => {
        server.closeAllConnections();
        server.close(() => closed());
      }),
  );
  const address = server.address();
  if (address === null || typeof address === "string") throw new Error("server has no port");
  const baseUrl = `http://127.0.0.1:${address.port}`;
  const store = new FileSystemBlobStore({ root: dir.path, urlSecret: SECRET, publicBaseUrl: baseUrl });
  cleanup.add(() => store.close());
  route.handler = createBlobUrlHandler(store, { secret: SECRET });
  return { store, root: dir.path, baseUrl, cleanup };
}

describeBlobStoreContract("filesystem", async () => {
  const served = await serveStore();
  return { store: served.store, teardown: () => served.cleanup.run() };
});

describe("FileSystemBlobStore", () => {
  let served: Served;
  beforeAll(async () => {
    served = await serveStore();
  });
  afterAll(() => served.cleanup.run());

  it("keeps head records, locks and temp files out of list() and leaves none behind", async () => {
    const prefix = uniqueName("layout");
    await served.store.put(`${prefix}/a`, "1");
    await served.store.put(`${prefix}/a`, "2");
    await served.store.put(`${prefix}/a/b`, "3");
    expect((await collectNames(served.store.list(`${prefix}/`)))).toEqual([`${prefix}/a`, `${prefix}/a/b`]);
    const files = await readdir(join(served.root, "blobs", prefix));
    // One head and one data file per blob; no stray lock, temp or superseded data files.
    const family = files.filter((f) => f.startsWith("a@"));
    expect(family).toHaveLength(2);
    expect(family).toEqual(expect.arrayContaining(["a@head", expect.stringMatching(/^a@[0-9a-f]{32}\.data$/)]));
    expect(files).toContain("a");
    await served.store.delete(`${prefix}/a/b`);
    await served.store.delete(`${prefix}/a`);
    await expect(readdir(join(served.root, "blobs", prefix))).rejects.toMatchObject({ code: "ENOENT" });
  });

  it("never lets a reader see a mix of two versions while writers replace the blob", async () => {
    const blob = `${uniqueName("consistent")}/x`;
    await served.store.put(blob, "v0".repeat(10_000), { metadata: { version: "0" } });
    let writing = true;
    const writer = (async () => {
      try {
        for (let i = 1; i <= 60; i++) await served.store.put(blob, `v${i}`.repeat(10_000), { metadata: { version: String(i) } });
      } finally {
        writing = false;
      }
    })();
    let reads = 0;
    while (writing) {
      const { properties, body } = await served.store.getBuffer(blob);
      const version = properties.metadata["version"];
      expect(body.toString()).toBe(`v${version}`.repeat(10_000));
      reads++;
    }
    await writer;
    expect(reads).toBeGreaterThan(0);
  });

  it("breaks a lock left by a dead process and one older than staleLockMs", async () => {
    const blob = `${uniqueName("stale")}/x`;
    await served.store.put(blob, "before");
    const blobDir = join(served.root, "blobs", blob.split("/")[0] ?? "");
    const deadPid = await exitedPid();
    await writeFile(join(blobDir, "x@lock"), JSON.stringify({ pid: deadPid, host: hostname(), nonce: "dead", at: Date.now() }));
    await served.store.put(blob, "after dead owner");

    // A lock from another host can't be checked by pid; only its age frees it.
    const store = new FileSystemBlobStore({ root: served.root, staleLockMs: 1_000, lockTimeoutMs: 5_000 });
    await writeFile(join(blobDir, "x@lock"), JSON.stringify({ pid: 1, host: "elsewhere", nonce: "old", at: 0 }));
    const old = new Date(Date.now() - 60_000);
    await utimes(join(blobDir, "x@lock"), old, old);
    await store.put(blob, "after old lock");
    expect((await store.getBuffer(blob)).body.toString()).toBe("after old lock");
    expect(await readdir(blobDir)).not.toContain("x@lock");
  });

  it("gives up with BlobError Unavailable when a live lock is never released", async () => {
    const blob = `${uniqueName("held")}/x`;
    await served.store.put(blob, "v");
    const blobDir = join(served.root, "blobs", blob.split("/")[0] ?? "");
    await writeFile(join(blobDir, "x@lock"), JSON.stringify({ pid: process.pid, host: hostname(), nonce: "live", at: Date.now() }));
    const store = new FileSystemBlobStore({ root: served.root, lockTimeoutMs: 200 });
    await expect(store.put(blob, "w")).rejects.toMatchObject({ name: "BlobError", code: "Unavailable", blobName: blob });
    expect((await store.getBuffer(blob)).body.toString()).toBe("v");
  });

  describe("read URL handler", () => {
    it("answers HEAD with the blob's headers and GET with its bytes", async () => {
      const blob = `${uniqueName("head")}/report.csv`;
      const put = await served.store.put(blob, "a,b\n1,2\n", { contentType: "text/csv" });
      const url = await served.store.readUrl(blob, 60_000);
      expect(url).toMatch(new RegExp(`^${served.baseUrl}/_blobs/${blob}\\?se=\\d+&sig=[A-Za-z0-9_-]+$`));
      const head = await fetch(url, { method: "HEAD" });
      expect(head.status).toBe(200);
      expect(head.headers.get("content-length")).toBe("8");
      expect(head.headers.get("content-type")).toBe("text/csv");
      expect(head.headers.get("etag")).toBe(put.etag);
      const get = await fetch(url);
      expect(await get.text()).toBe("a,b\n1,2\n");
    });

    it("refuses a tampered signature or expiry with a JSON AuthenticationFailed body", async () => {
      const blob = `${uniqueName("tamper")}/x`;
      await served.store.put(blob, "x");
      const url = new URL(await served.store.readUrl(blob, 60_000));
      const tampered = [
        new URL(url),
        new URL(url),
        new URL(url),
      ];
      tampered[0]?.searchParams.set("sig", "A" + (url.searchParams.get("sig") ?? "").slice(1));
      tampered[1]?.searchParams.set("se", String(Number(url.searchParams.get("se")) + 1000));
      tampered[2]?.searchParams.delete("sig");
      for (const bad of tampered) {
        const response = await fetch(bad);
        expect(response.status).toBe(403);
        expect(await response.json()).toEqual({ error: { code: "AuthenticationFailed", message: expect.any(String) } });
      }
    });

    it("answers 404 for a signed URL whose blob is gone, 405 for other verbs, and leaves other paths to the host", async () => {
      const blob = `${uniqueName("gone")}/x`;
      await served.store.put(blob, "x");
      const url = await served.store.readUrl(blob, 60_000);
      await served.store.delete(blob);
      const missing = await fetch(url);
      expect(missing.status).toBe(404);
      expect(await missing.json()).toMatchObject({ error: { code: "BlobNotFound" } });
      const post = await fetch(url, { method: "POST", body: "x" });
      expect(post.status).toBe(405);
      expect(post.headers.get("allow")).toBe("GET, HEAD");
      await post.arrayBuffer();
      const elsewhere = await fetch(`${served.baseUrl}/health`);
      expect(await elsewhere.text()).toBe("host route");
    });

    it("cannot mint URLs without a secret and base URL", async () => {
      const store = new FileSystemBlobStore({ root: served.root });
      await expect(store.readUrl("a/b", 1_000)).rejects.toMatchObject({ code: "UrlInvalid" });
    });
  });
});

describe("FileSystemBlobStore across processes", () => {
  const packageDir = resolve(__dirname, "..");
  const cleanup = new Cleanup();
  let root: string;

  beforeAll(async () => {
    // The children import the compiled package, so build it (and what it references) first.
    await run(process.execPath, [require.resolve("typescript/bin/tsc"), "-b", packageDir], { cwd: packageDir });
    const dir = await tempDir("retrain-blob-xproc-");
    cleanup.add(() => dir.remove());
    root = dir.path;
  }, 180_000);
  afterAll(() => cleanup.run());

  it("keeps compare-and-set exact when two processes increment one counter 50 times each", async () => {
    const script = join(root, "increment.mjs");
    await mkdir(join(root, "store"), { recursive: true });
    const entry = pathToFileURL(join(packageDir, "dist", "index.js")).href;
    await writeFile(
      script,
      [
        `import { FileSystemBlobStore, updateJson } from ${JSON.stringify(entry)};`,
        `const store = new FileSystemBlobStore({ root: process.argv[2] });`,
        `const parse = (u) => u;`,
        `for (let i = 0; i < 50; i++) {`,
        `  await updateJson(store, "counters/shared.json", parse, (c) => ({ n: (c?.n ?? 0) + 1, by: [...(c?.by ?? []), process.pid] }));`,
        `}`,
        `await store.close();`,
      ].join("\n"),
    );
    const child = () =>
      new Promise<void>((done, fail) => {
        const proc = spawn(process.execPath, [script, join(root, "store")], { stdio: ["ignore", "inherit", "pipe"] });
        let stderr = "";
        proc.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
        proc.once("error", fail);
        proc.once("exit", (code) => (code === 0 ? done() : fail(new Error(`child exited ${code}: ${stderr}`))));
      });
    await Promise.all([child(), child()]);

    const store = new FileSystemBlobStore({ root: join(root, "store") });
    const final = JSON.parse((await store.getBuffer("counters/shared.json")).body.toString()) as { n: number; by: number[] };
    expect(final.n).toBe(100);
    expect(final.by).toHaveLength(100);
    // Both processes really interleaved on the same blob.
    expect(new Set(final.by).size).toBe(2);
    const files = await readdir(join(root, "store", "blobs", "counters"));
    expect(files).toHaveLength(2);
    expect(files).toEqual(expect.arrayContaining(["shared.json@head", expect.stringMatching(/^shared\.json@[0-9a-f]{32}\.data$/)]));
    // And the in-process path still agrees with what the children wrote.
    const next = await updateJson(store, "counters/shared.json", (u) => u as { n: number }, (c) => ({ n: (c?.n ?? 0) + 1 }));
    expect(next.value?.n).toBe(101);
    expect(JSON.parse(await readFile(join(root, "store", "blobs", "counters", "shared.json@head"), "utf8"))).toMatchObject({
      name: "counters/shared.json",
    });
  }, 60_000);
});

async function collectNames(iterable: AsyncIterable<{ name: string }>): Promise<string[]> {
  const result: string[] = [];
  for await (const item of iterable) result.push(item.name);
  return result;
}

/** The pid of a process that has already exited (for a lock whose owner is gone). */
async function exitedPid(): Promise<number> {
  const proc = spawn(process.execPath, ["-e", ""], { stdio: "ignore" });
  const pid = proc.pid;
  await new Promise((done) => proc.once("exit", done));
  if (pid === undefined) throw new Error("child had no pid");
  return pid;
}
