// Fixtures of the evaluator's tests: tiny real models trained with @retrain/ml, holdout CSVs, and an
// in-process scoring host (createScoring) on the same filesystem store, behind a real HTTP server.
import { randomBytes } from "node:crypto";
import { FileSystemBlobStore } from "@retrain/blob";
import { MemoryBus } from "@retrain/bus";
import { type BlobRef, type LearnerName } from "@retrain/contracts";
import { encodeIlearner, fitFeaturizer, readCsvBytes, SeededRandom, trainLearner, type TaskKind } from "@retrain/ml";
import { keyVerifier } from "@retrain/runtime";
import { createMlRuntime, createScoring, serveScoring, type Scoring } from "@retrain/scoring";
import { MetricsRegistry } from "@retrain/service-kit";
import { silentLogger } from "@retrain/telemetry";
import { freePort } from "@retrain/testing";

/** Binary rows: label = 1 with probability σ(w0·x1 + w1·x2 + w2·[color=red]). */
export function binaryCsv(rows: number, seed: number, weights: readonly [number, number, number] = [1.5, -2, 0.5]): string {
  const random = new SeededRandom(seed);
  const lines = ["x1,x2,color,label"];
  for (let i = 0; i < rows; i++) {
    const x1 = random.nextFloat() * 4 - 2;
    const x2 = random.nextFloat() * 4 - 2;
    const color = ["red", "green", "blue"][random.nextInt(3)] ?? "red";
    const z = weights[0] * x1 + weights[1] * x2 + (color === "red" ? weights[2] : 0);
    const label = random.nextFloat() < 1 / (1 + Math.exp(-z)) ? 1 : 0;
    lines.push(`${x1.toFixed(4)},${x2.toFixed(4)},${color},${label}`);
  }
  return lines.join("\n") + "\n";
}

/** Regression rows: y = w0·x1 + w1·x2 + noise (σ 0.3). */
export function regressionCsv(rows: number, seed: number, weights: readonly [number, number] = [3, -2]): string {
  const random = new SeededRandom(seed);
  const lines = ["x1,x2,y"];
  for (let i = 0; i < rows; i++) {
    const x1 = random.nextFloat() * 4 - 2;
    const x2 = random.nextFloat() * 4 - 2;
    const noise = (random.nextFloat() + random.nextFloat() + random.nextFloat() - 1.5) * 0.6;
    lines.push(`${x1.toFixed(4)},${x2.toFixed(4)},${(weights[0] * x1 + weights[1] * x2 + noise).toFixed(4)}`);
  }
  return lines.join("\n") + "\n";
}

/** Trains a real model on `csv` (fitFeaturizer + trainLearner) and returns its `.ilearner` bytes. */
export function trainModel(csv: string, options: { learner: LearnerName; label: string; task: TaskKind; seed?: number }): Buffer {
  const frame = readCsvBytes(Buffer.from(csv));
  const featurizer = fitFeaturizer(frame, { label: options.label, task: options.task });
  const seed = options.seed ?? 1;
  const model = trainLearner(options.learner, featurizer.trainingMatrix(frame), {}, { seed });
  return encodeIlearner({
    learner: options.learner,
    task: options.task,
    parameters: model.parameters,
    state: model.toState(),
    featureSchema: featurizer.schema,
    lineage: { datasetSha256: "0".repeat(64), rows: frame.rows, seed, trainedAt: new Date(0).toISOString(), libraryVersion: "test" },
  });
}

/** Writes a blob and returns its BlobRef as the trainer would put it in ModelTrained. */
export async function putBlob(store: FileSystemBlobStore, name: string, body: Buffer | string, contentType: string): Promise<BlobRef> {
  const props = await store.put(name, body, { contentType });
  return { container: "retrain", name, etag: props.etag, size: props.size, contentType };
}

/** A running scoring host sharing the evaluator's store. */
export interface ScoringFixture {
  readonly url: string;
  readonly adminKey: string;
  readonly workspaceKey: string;
  readonly otherWorkspaceKey: string;
  readonly store: FileSystemBlobStore;
  readonly scoring: Scoring;
  /** Publishes a classic web service serving the model stored at `blob`; returns its name (endpoint `default`). */
  publishClassic(name: string, blob: string): Promise<void>;
  close(): Promise<void>;
}

/** Starts the scoring host (workspaces `ws1`, `ws2`) on a filesystem store rooted at `root`. */
export async function startScoringFixture(root: string): Promise<ScoringFixture> {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const secret = `url-secret-${randomBytes(12).toString("hex")}`;
  const store = new FileSystemBlobStore({ root, urlSecret: secret, publicBaseUrl: url });
  const bus = new MemoryBus({ logger: silentLogger() });
  const adminKey = `admin-key-${randomBytes(12).toString("hex")}`;
  const workspaceKey = `ws1-key-${randomBytes(12).toString("hex")}`;
  const otherWorkspaceKey = `ws2-key-${randomBytes(12).toString("hex")}`;
  const registry = new MetricsRegistry({ defaultMetrics: false });
  const logger = silentLogger();
  const scoring = createScoring({
    store,
    bus,
    logger,
    verifyKey: keyVerifier({ adminKey, workspaces: [{ id: "ws1", keys: { primary: workspaceKey } }, { id: "ws2", keys: { primary: otherWorkspaceKey } }] }),
    kek: randomBytes(32),
    publicUrl: url,
    registry,
    runtime: createMlRuntime(),
    ownHost: `127.0.0.1:${port}`,
    syncIntervalMs: 100,
  });
  await scoring.start();
  const server = await serveScoring(scoring, { logger, registry, port, blobUrls: { store, secret } });
  return {
    url,
    adminKey,
    workspaceKey,
    otherWorkspaceKey,
    store,
    scoring,
    async publishClassic(name, blob) {
      const response = await fetch(`${url}/v1/workspaces/ws1/webservices`, {
        method: "POST",
        headers: { authorization: `Bearer ${adminKey}`, "content-type": "application/json" },
        body: JSON.stringify({ name, kind: "classic", model: { blob } }),
      });
      if (response.status !== 201) throw new Error(`publishing ${name} answered ${response.status}: ${await response.text()}`);
    },
    async close() {
      await server.close(1000);
      await scoring.stop(1000);
      await bus.close({ graceMs: 0 });
      await store.close();
    },
  };
}
