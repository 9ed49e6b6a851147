// Test support for the promoters: tiny real models (@retrain/ml) and an in-process platform (a real
// scoring host on a real HTTP server sharing one filesystem store with the promoter), behind the
// package's `@retrain/promotion/testing` door so both promoters use one copy.
import { randomBytes } from "node:crypto";
import { createBlobUrlHandler, FileSystemBlobStore } from "@retrain/blob";
import { MemoryBus } from "@retrain/bus";
import {
  categoricalColumn,
  encodeIlearner,
  fitFeaturizer,
  frameFromColumns,
  learners,
  numericColumn,
} from "@retrain/ml";
import { keyVerifier } from "@retrain/runtime";
import { createMlRuntime, createScoring, type ModelRuntime, type Scoring } from "@retrain/scoring";
import { createHttpApp, MetricsRegistry, startHttpServer, type RunningServer } from "@retrain/service-kit";
import { silentLogger } from "@retrain/telemetry";
import { freePort, tempDir } from "@retrain/testing";

/** A Two-Class Logistic Regression on synthetic data (`f0…f2` → `yes`/`no`), as .ilearner bytes. */
export function trainModel(seed: number, weights: readonly number[]): Buffer {
  let state = (seed * 7919 + 17) >>> 0 || 1;
  const next = (): number => {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    return (state >>> 0) / 4294967296;
  };
  const rows = 200;
  const columns = weights.map(() => new Float64Array(rows));
  const labels: string[] = [];
  for (let r = 0; r < rows; r++) {
    let z = 0;
    weights.forEach((w, j) => {
      const x = next() * 2 - 1;
      (columns[j] as Float64Array)[r] = x;
      z += x * w;
    });
    labels.push(1 / (1 + Math.exp(-3 * z)) > next() ? "yes" : "no");
  }
  const frame = frameFromColumns([...columns.map((values, j) => numericColumn(`f${j}`, values)), categoricalColumn("label", labels)]);
  const featurizer = fitFeaturizer(frame, { label: "label", task: "binary", positiveLabel: "yes" });
  const model = learners["Two-Class Logistic Regression"].fit(featurizer.trainingMatrix(frame), { l1RegularizationWeight: 0, l2RegularizationWeight: 0.01 }, { seed });
  return encodeIlearner({
    learner: model.learner,
    task: model.task,
    parameters: model.parameters,
    state: model.toState(),
    featureSchema: featurizer.schema,
    lineage: { datasetSha256: "0".repeat(64), rows, seed, trainedAt: new Date(0).toISOString(), libraryVersion: "test" },
  });
}

/** `bytes` with one byte flipped: the checksum no longer matches. */
export function corrupt(bytes: Buffer): Buffer {
  const copy = Buffer.from(bytes);
  const at = Math.floor(copy.length / 2);
  copy[at] = (copy[at] ?? 0) ^ 0xff;
  return copy;
}

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
  const { app } = createHttpApp({ serviceName: "scoring", logger: silentLogger(), registry, routes: (router) => scoring.registerRoutes(router) });
  const blobUrls = createBlobUrlHandler(store, { secret });
  await scoring.start();
  const server: RunningServer = await startHttpServer(
    (req, res) => {
      if (scoring.fastPath(req, res)) return;
      if (blobUrls(req, res)) return;
      app(req, res);
    },
    { port },
  );
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
