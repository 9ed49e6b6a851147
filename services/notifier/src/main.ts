// The notifier as its own process: wiring only.
import { connectBus, generatedAdminKeyNotice, openBlobStore, openServiceKeyring, platformKek, readConfigFile } from "@retrain/runtime";
import { createHttpApp, createShutdown, MetricsRegistry, registerBusMetrics, startHttpServer } from "@retrain/service-kit";
import { createLogger, setupTelemetry } from "@retrain/telemetry";
import { createNotifier } from "./app.js";
import { loadNotifierConfig } from "./config.js";

const config = loadNotifierConfig();
const logger = createLogger({ name: "notifier", level: config.LOG_LEVEL });
const telemetry = setupTelemetry({ serviceName: "retrain-notifier", logger });
const shutdown = createShutdown({ logger, graceMs: config.SHUTDOWN_GRACE });
const file = await readConfigFile(config.RETRAIN_CONFIG);
const store = openBlobStore(config);
const bus = await connectBus(config, logger, "notifier");
const { keyring, generatedAdminKey } = await openServiceKeyring(config, { store, workspaces: file.workspaces, logger });
// The bootstrap admin key is shown once, on stdout, never through the logger.
if (generatedAdminKey !== undefined) console.log(generatedAdminKeyNotice(generatedAdminKey));
const kek = platformKek(config);
const metrics = new MetricsRegistry({ defaultLabels: { service: "notifier" } });
registerBusMetrics(metrics, bus);
const notifier = createNotifier({
  store,
  bus,
  logger,
  verifyKey: keyring.verify,
  allowHttpHosts: config.NOTIFIER_ALLOW_HTTP_HOSTS,
  retryScheduleMs: config.NOTIFIER_RETRY_SCHEDULE,
  timeoutMs: config.NOTIFIER_TIMEOUT,
  scanIntervalMs: config.NOTIFIER_SCAN_INTERVAL,
  origin: config.NOTIFIER_ORIGIN,
  maxInFlight: config.NOTIFIER_MAX_IN_FLIGHT,
  concurrency: config.NOTIFIER_CONCURRENCY,
  retentionMs: config.NOTIFIER_DELIVERY_RETENTION,
  retentionSweepMs: config.NOTIFIER_RETENTION_SWEEP_INTERVAL,
  ...(kek !== undefined ? { kek } : {}),
  metrics,
});
// Ready (GET /readyz 200) once the subscriptions are in place, not as soon as the port opens: the
// broker may keep consumer creation waiting for a while, and /healthz stays up meanwhile.
let subscribed = false;
const { app } = createHttpApp({
  serviceName: "notifier",
  logger,
  registry: metrics,
  routes: (router) => {
    keyring.registerRoutes(router);
    notifier.registerRoutes(router);
  },
  readiness: () => subscribed,
  shutdownSignal: shutdown.signal,
});
const server = await startHttpServer(app, { port: config.NOTIFIER_PORT, host: config.NOTIFIER_HOST, logger });
await notifier.start();
subscribed = true;

shutdown.onShutdown(() => server.close(config.SHUTDOWN_GRACE), "drain");
shutdown.onShutdown(() => notifier.stop(config.SHUTDOWN_GRACE), "drain");
shutdown.onShutdown(() => bus.close({ graceMs: 0 }), "close");
shutdown.onShutdown(() => telemetry.shutdown(), "close");
shutdown.installSignalHandlers();
logger.info({ url: server.url, bus: config.BUS, blob: config.BLOB, localHosts: config.NOTIFIER_ALLOW_HTTP_HOSTS }, "notifier ready");
