// The scoring host as its own process: wiring only.
import { randomBytes } from "node:crypto";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { connectBus, generatedAdminKeyNotice, openBlobStore, openServiceKeyring, ownStoreHost, parseSection, readConfigFile } from "@retrain/runtime";
import { createShutdown, MetricsRegistry, registerBusMetrics } from "@retrain/service-kit";
import { createLogger, setupTelemetry } from "@retrain/telemetry";
import { createScoring } from "./app.js";
import { applyScoringSection, ScoringFileSection } from "./config-file.js";
import { loadScoringConfig } from "./config.js";
import { loadOrCreateKek } from "./key-vault.js";
import { createMlRuntime } from "./ml-runtime.js";
import { serveScoring } from "./serve.js";

const config = loadScoringConfig();
const logger = createLogger({ name: "scoring", level: config.LOG_LEVEL });
const telemetry = setupTelemetry({ serviceName: "retrain-scoring", logger });
const shutdown = createShutdown({ logger, graceMs: config.SHUTDOWN_GRACE });
const file = await readConfigFile(config.RETRAIN_CONFIG);
const publicUrl = config.SCORING_PUBLIC_URL ?? `http://${config.SCORING_HOST}:${config.SCORING_PORT}`;

const kekFile = join(config.SCORING_DATA_DIR, "kek");
// RETRAIN_KEK is the deployment's one key-encryption key; SCORING_KEK is still honoured for existing deployments.
const kek = await loadOrCreateKek(config.SCORING_KEK ?? config.RETRAIN_KEK, kekFile);
if (kek.source === "generated") {
  logger.warn({ path: kekFile }, "SCORING_KEK is not set: generated a key-encryption key for the API keys; every replica must use the same one");
}

// The filesystem store's read URLs are signed and served by this process, unless configured otherwise.
let urlSecret = config.BLOB_URL_SECRET;
if (config.BLOB === "filesystem" && urlSecret === undefined) {
  const secretFile = join(config.SCORING_DATA_DIR, "url-secret");
  await mkdir(config.SCORING_DATA_DIR, { recursive: true });
  urlSecret = await readFile(secretFile, "utf8").catch(async () => {
    const secret = randomBytes(32).toString("base64url");
    await writeFile(secretFile, secret, { mode: 0o600 });
    return secret;
  });
}
const platform = config.BLOB === "filesystem" ? { ...config, BLOB_URL_SECRET: urlSecret, BLOB_PUBLIC_URL: config.BLOB_PUBLIC_URL ?? publicUrl } : config;
const store = openBlobStore(platform);
const bus = await connectBus(config, logger, "scoring");
const { keyring, generatedAdminKey } = await openServiceKeyring(config, { store, workspaces: file.workspaces, logger });
// The bootstrap admin key is shown once, on stdout, never through the logger.
if (generatedAdminKey !== undefined) console.log(generatedAdminKeyNotice(generatedAdminKey));
const ownHost = ownStoreHost(platform);
const registry = new MetricsRegistry({ defaultLabels: { service: "scoring" } });
registerBusMetrics(registry, bus);

const scoring = createScoring({
  store,
  bus,
  logger,
  verifyKey: keyring.verify,
  kek: kek.kek,
  publicUrl,
  registry,
  runtime: createMlRuntime(),
  allowedHosts: config.SCORING_ALLOWED_HOSTS.split(",").map((h) => h.trim()).filter(Boolean),
  ...(ownHost !== undefined ? { ownHost } : {}),
  syncIntervalMs: config.SCORING_SYNC_INTERVAL,
  concurrency: config.SCORING_CONCURRENCY,
  modelMaxBytes: config.SCORING_MODEL_MAX_BYTES,
  modelFetchTimeoutMs: config.SCORING_MODEL_FETCH_TIMEOUT,
  bodyLimitBytes: config.SCORING_BODY_LIMIT,
  armPageSize: config.SCORING_ARM_PAGE_SIZE,
  readUrlLifetimeMs: config.RETRAIN_READ_URL_LIFETIME,
  resultSasLifetimeMs: config.RETRAIN_RESULT_SAS_LIFETIME,
});
scoring.jobs.registerMetrics(registry);
await scoring.start();
await applyScoringSection(scoring, parseSection(config.RETRAIN_CONFIG ?? "retrain.yaml", ScoringFileSection, file));

const server = await serveScoring(scoring, {
  logger,
  registry,
  port: config.SCORING_PORT,
  host: config.SCORING_HOST,
  shutdownSignal: shutdown.signal,
  routes: (router) => keyring.registerRoutes(router),
  ...(config.BLOB === "filesystem" && urlSecret !== undefined ? { blobUrls: { store, secret: urlSecret } } : {}),
});
if (config.SCORING_PUBLIC_URL === undefined && config.SCORING_PORT === 0) scoring.setPublicUrl(server.url);

shutdown.onShutdown(() => server.close(config.SHUTDOWN_GRACE), "drain");
shutdown.onShutdown(() => scoring.stop(config.SHUTDOWN_GRACE), "drain");
shutdown.onShutdown(() => bus.close({ graceMs: 0 }), "close");
shutdown.onShutdown(() => store.close(), "close");
shutdown.onShutdown(() => telemetry.shutdown(), "close");
shutdown.installSignalHandlers();
logger.info({ url: server.url, public_url: scoring.host.publicUrl, bus: config.BUS, blob: config.BLOB }, "scoring ready");
