// An in-process scoring host for tests: real filesystem blob stores, the in-memory bus, a real HTTP
// server (the fast path in front of the express app, as main.ts wires it), and a second store
// standing for the trainer's, whose signed read URLs play the part of BES output SAS URLs.
import { randomBytes } from "node:crypto";
import { createBlobUrlHandler, FileSystemBlobStore } from "@retrain/blob";
import { MemoryBus } from "@retrain/bus";
import { keyVerifier } from "@retrain/runtime";
import { MetricsRegistry, startHttpServer, type RunningServer } from "@retrain/service-kit";
import { silentLogger } from "@retrain/telemetry";
import { freePort, tempDir } from "@retrain/testing";
import { createScoring, type Scoring, type ScoringDeps } from "../app.js";
import { createMlRuntime } from "../ml-runtime.js";
import { serveScoring } from "../serve.js";

/** A JSON answer. */
export interface Answer {
  readonly status: number;
  readonly headers: Headers;
  readonly text: string;
  /** The parsed body (undefined when empty or not JSON). */
  readonly body: unknown;
}

/** Where models are fetched from in tests: a blob store served over HTTP with signed read URLs. */
export interface ModelSource {
  readonly url: string;
  /** `host:port`, to allow-list. */
  readonly host: string;
  readonly store: FileSystemBlobStore;
  /** Stores `bytes` and returns its location as a PATCH carries it (BaseLocation + RelativeLocation + SasBlobToken). */
  put(name: string, bytes: Buffer): Promise<{ BaseLocation: string; RelativeLocation: string; SasBlobToken: string }>;
  /** Stores `bytes` and returns one signed URL (an ARM asset uri). */
  putUri(name: string, bytes: Buffer): Promise<string>;
  close(): Promise<void>;
}

/** Starts a model source server. */
export async function startModelSource(): Promise<ModelSource> {
  const dir = await tempDir("retrain-source-");
  const port = await freePort();
  const secret = randomBytes(32);
  const url = `http://127.0.0.1:${port}`;
  const store = new FileSystemBlobStore({ root: dir.path, urlSecret: secret, publicBaseUrl: url });
  const handler = createBlobUrlHandler(store, { secret });
  const server = await startHttpServer(
    (req, res) => {
      if (!handler(req, res)) {
        res.statusCode = 404;
        res.end();
      }
    },
    { port },
  );
  const putUri = async (name: string, bytes: Buffer): Promise<string> => {
    await store.put(name, bytes);
    return store.readUrl(name, 3_600_000);
  };
  return {
    url,
    host: `127.0.0.1:${port}`,
    store,
    putUri,
    async put(name, bytes) {
      const parsed = new URL(await putUri(name, bytes));
      return { BaseLocation: `${parsed.origin}/`, RelativeLocation: parsed.pathname.slice(1), SasBlobToken: parsed.search };
    },
    async close() {
      await server.close(1000);
      await store.close();
      await dir.remove();
    },
  };
}

/** Options of {@link startScoring}. */
export interface StartScoringOptions {
  /** Overrides of the scoring host's dependencies. */
  readonly deps?: Partial<ScoringDeps>;
  /** The own store's directory (two hosts on one store share it). Default: a new temp dir. */
  readonly storeRoot?: string;
  readonly kek?: Buffer;
  /** Hosts allowed besides the model source's. */
  readonly allowedHosts?: readonly string[];
}

/** A running in-process scoring host. */
export interface ScoringHarness {
  readonly url: string;
  readonly workspace: string;
  readonly workspaceKey: string;
  readonly adminKey: string;
  readonly scoring: Scoring;
  readonly store: FileSystemBlobStore;
  readonly source: ModelSource;
  readonly server: RunningServer;
  readonly registry: MetricsRegistry;
  /** Sends a request; `key` goes into `Authorization: Bearer`. */
  request(method: string, path: string, options?: { key?: string | undefined; body?: unknown; headers?: Record<string, string> }): Promise<Answer>;
  close(): Promise<void>;
}

/** Starts a scoring host with a workspace `ws1` (its key and an admin key) and a model source. */
export async function startScoring(options: StartScoringOptions = {}): Promise<ScoringHarness> {
  const source = await startModelSource();
  const dir = options.storeRoot === undefined ? await tempDir("retrain-scoring-") : undefined;
  const root = options.storeRoot ?? (dir as { path: string }).path;
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const secret = "scoring-test-url-secret-0123456789";
  const store = new FileSystemBlobStore({ root, urlSecret: secret, publicBaseUrl: url });
  const bus = new MemoryBus({ logger: silentLogger() });
  const workspace = "ws1";
  const workspaceKey = `ws1-key-${randomBytes(12).toString("hex")}`;
  const adminKey = `admin-key-${randomBytes(12).toString("hex")}`;
  const registry = new MetricsRegistry({ defaultMetrics: false });
  const logger = silentLogger();
  const scoring = createScoring({
    store,
    bus,
    logger,
    verifyKey: keyVerifier({ adminKey, workspaces: [{ id: workspace, keys: { primary: workspaceKey } }, { id: "ws2", keys: { primary: "ws2-key-0123456789abcdef" } }] }),
    kek: options.kek ?? randomBytes(32),
    publicUrl: url,
    registry,
    runtime: createMlRuntime({ warmupRuns: 5 }),
    allowedHosts: [source.host, ...(options.allowedHosts ?? [])],
    ownHost: `127.0.0.1:${port}`,
    syncIntervalMs: 100,
    ...options.deps,
  });
  await scoring.start();
  const server = await serveScoring(scoring, { logger, registry, port, blobUrls: { store, secret } });
  return {
    url,
    workspace,
    workspaceKey,
    adminKey,
    scoring,
    store,
    source,
    server,
    registry,
    async request(method, path, requestOptions = {}) {
      const headers: Record<string, string> = { ...requestOptions.headers };
      if (requestOptions.key !== undefined) headers["authorization"] = `Bearer ${requestOptions.key}`;
      let body: string | undefined;
      if (requestOptions.body !== undefined) {
        headers["content-type"] ??= "application/json";
        body = typeof requestOptions.body === "string" ? requestOptions.body : JSON.stringify(requestOptions.body);
      }
      const response = await fetch(path.startsWith("http") ? path : `${url}${path}`, { method, headers, ...(body !== undefined ? { body } : {}) });
      const text = await response.text();
      let parsed: unknown;
      try {
        parsed = text === "" ? undefined : JSON.parse(text);
      } catch {
        parsed = undefined;
      }
      return { status: response.status, headers: response.headers, text, body: parsed };
    },
    async close() {
      await server.close(1000);
      await scoring.stop(1000);
      await bus.close({ graceMs: 0 });
      await store.close();
      await source.close();
      await dir?.remove();
    },
  };
}

/** Narrows an answer body to an object (throws with the answer when it is not). */
export function json(answer: Answer): Record<string, unknown> {
  if (typeof answer.body !== "object" || answer.body === null || Array.isArray(answer.body)) {
    throw new Error(`expected a JSON object, got HTTP ${answer.status}: ${answer.text.slice(0, 500)}`);
  }
  return answer.body as Record<string, unknown>;
}
