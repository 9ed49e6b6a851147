// The ingestion service as its own process: wiring only.
import { connectBus, generatedAdminKeyNotice, openBlobStore, openServiceKeyring, ownStoreHost, parseSection, readConfigFile } from "@retrain/runtime";
import { createHttpApp, createShutdown, registerBusMetrics, startHttpServer } from "@retrain/service-kit";
import { createLogger, setupTelemetry } from "@retrain/telemetry";
import { createIngestion } from "./app.js";
import { loadIngestionConfig } from "./config.js";
import { IngestionFileSection, applyIngestionSection } from "./config-file.js";

const config = loadIngestionConfig();
const logger = createLogger({ name: "ingestion", level: config.LOG_LEVEL });
const telemetry = setupTelemetry({ serviceName: "retrain-ingestion", logger });
const shutdown = createShutdown({ logger, graceMs: config.SHUTDOWN_GRACE });
const file = await readConfigFile(config.RETRAIN_CONFIG);
const store = openBlobStore(config);
const bus = await connectBus(config, logger, "ingestion");
const { keyring, generatedAdminKey } = await openServiceKeyring(config, { store, workspaces: file.workspaces, logger });
// The bootstrap admin key is shown once, on stdout, never through the logger.
if (generatedAdminKey !== undefined) console.log(generatedAdminKeyNotice(generatedAdminKey));
const ownHost = ownStoreHost(config);
const ingestion = createIngestion({
  store,
  bus,
  logger,
  verifyKey: keyring.verify,
  container: config.AZURE_STORAGE_CONTAINER,
  maxDatasetBytes: config.INGESTION_MAX_DATASET_BYTES,
  allowedHosts: config.INGESTION_ALLOWED_HOSTS.split(",").map((h) => h.trim()).filter(Boolean),
  datasetPrefixes: config.INGESTION_DATASET_PREFIXES,
  scheduleIntervalMs: config.INGESTION_SCHEDULE_INTERVAL,
  ...(ownHost !== undefined ? { ownHost } : {}),
});
await applyIngestionSection(ingestion, parseSection(config.RETRAIN_CONFIG ?? "retrain.yaml", IngestionFileSection, file));
// Ready (GET /readyz 200) once the subscriptions are in place, not as soon as the port opens: the
// broker may keep consumer creation waiting for a while, and /healthz stays up meanwhile.
let subscribed = false;
const { app, registry: metrics } = createHttpApp({
  serviceName: "ingestion",
  logger,
  routes: (router) => {
    keyring.registerRoutes(router);
    ingestion.registerRoutes(router);
  },
  readiness: () => subscribed,
  shutdownSignal: shutdown.signal,
});
registerBusMetrics(metrics, bus);
const server = await startHttpServer(app, { port: config.INGESTION_PORT, host: config.INGESTION_HOST, logger });
await ingestion.start();
subscribed = true;

shutdown.onShutdown(() => server.close(config.SHUTDOWN_GRACE), "drain");
shutdown.onShutdown(() => ingestion.stop(config.SHUTDOWN_GRACE), "drain");
shutdown.onShutdown(() => bus.close({ graceMs: 0 }), "close");
shutdown.onShutdown(() => telemetry.shutdown(), "close");
shutdown.installSignalHandlers();
logger.info({ url: server.url, bus: config.BUS, blob: config.BLOB }, "ingestion ready");
