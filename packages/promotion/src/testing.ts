// Test support for the promoters: tiny real models (@retrain/ml) and an in-process platform (a real
// scoring host on a real HTTP server sharing one filesystem store with the promoter), behind the
// package's `@retrain/promotion/testing` door so both promoters use one copy.
import { randomBytes } from "node:crypto";
import { FileSystemBlobStore } from "@retrain/blob";
import { MemoryBus } from "@retrain/bus";
import { keyVerifier } from "@retrain/runtime";
import { createMlRuntime, createScoring, serveScoring, type ModelRuntime, type Scoring } from "@retrain/scoring";
import { corrupt, trainLogisticModel } from "@retrain/scoring/testing";
import { MetricsRegistry } from "@retrain/service-kit";
import { silentLogger } from "@retrain/telemetry";
import { freePort, tempDir } from "@retrain/testing";

/** A Two-Class Logistic Regression on synthetic data (`f0…f2` → `yes`/`no`), as .ilearner bytes. */
export function trainModel(seed: number, weights: readonly number[]): Buffer {
  return trainLogisticModel({ seed, weights, features: weights.length, rows: 200 });
}

export { corrupt };

/** The scoring host's own model runtime over @retrain/ml. */
export function testRuntime(): ModelRuntime {
  return createMlRuntime();
}

/** The in-process platform: one store (served over HTTP with signed read URLs) and a scoring host. */
export interface Platform {
  readonly url: string;
  readonly store: FileSystemBlobStore;
  readonly scoring: Scoring;
  readonly adminKey: string;
  readonly workspace: string;
  /** Writes a model blob as the trainer would (`trainer/jobs/…/output1.ilearner`). */
  putModel(name: string, bytes: Buffer): Promise<{ container: string; name: string; etag: string; size: number }>;
  /** A JSON call to the scoring host with the admin key. */
  request(method: string, path: string, body?: unknown): Promise<{ status: number; headers: Headers; body: unknown }>;
  close(): Promise<void>;
}

/** Starts the platform in a temp dir. */
export async function startPlatform(): Promise<Platform> {
  const dir = await tempDir("retrain-promoter-");
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const secret = `url-secret-${randomBytes(12).toString("hex")}`;
  const store = new FileSystemBlobStore({ root: dir.path, urlSecret: secret, publicBaseUrl: url });
  const bus = new MemoryBus({ logger: silentLogger() });
  const adminKey = `admin-key-${randomBytes(12).toString("hex")}`;
  const workspace = "ws1";
  const registry = new MetricsRegistry({ defaultMetrics: false });
  const scoring = createScoring({
    store,
    bus,
    logger: silentLogger(),
    verifyKey: keyVerifier({ adminKey, workspaces: [{ id: workspace, keys: { primary: `ws1-key-${randomBytes(12).toString("hex")}` } }] }),
    kek: randomBytes(32),
    publicUrl: url,
    registry,
    runtime: testRuntime(),
    ownHost: `127.0.0.1:${port}`,
    syncIntervalMs: 100,
  });
  await scoring.start();
  const server = await serveScoring(scoring, { logger: silentLogger(), registry, port, blobUrls: { store, secret } });
  return {
    url,
    store,
    scoring,
    adminKey,
    workspace,
    async putModel(name, bytes) {
      const props = await store.put(name, bytes, { contentType: "application/octet-stream" });
      return { container: "retrain", name, etag: props.etag, size: props.size };
    },
    async request(method, path, body) {
      const response = await fetch(`${url}${path}`, {
        method,
        headers: { authorization: `Bearer ${adminKey}`, ...(body !== undefined ? { "content-type": "application/json" } : {}) },
        ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
      });
      const text = await response.text();
      return { status: response.status, headers: response.headers, body: text === "" ? undefined : (JSON.parse(text) as unknown) };
    },
    async close() {
      await server.close(1000);
      await scoring.stop(1000);
      await bus.close({ graceMs: 0 });
      await store.close();
      await dir.remove();
    },
  };
}
