// The registry as its own process: wiring only.
import { connectBus, generatedAdminKeyNotice, openBlobStore, openServiceKeyring, readConfigFile } from "@retrain/runtime";
import { createHttpApp, createShutdown, MetricsRegistry, registerBusMetrics, startHttpServer } from "@retrain/service-kit";
import { createLogger, setupTelemetry } from "@retrain/telemetry";
import { createRegistry } from "./app.js";
import { loadRegistryConfig, reconcilerOptions } from "./config.js";

const config = loadRegistryConfig();
const logger = createLogger({ name: "registry", level: config.LOG_LEVEL });
const telemetry = setupTelemetry({ serviceName: "retrain-registry", logger });
const shutdown = createShutdown({ logger, graceMs: config.SHUTDOWN_GRACE });
const file = await readConfigFile(config.RETRAIN_CONFIG);
const store = openBlobStore(config);
const bus = await connectBus(config, logger, "registry");
const { keyring, generatedAdminKey } = await openServiceKeyring(config, { store, workspaces: file.workspaces, logger });
// The bootstrap admin key is shown once, on stdout, never through the logger.
if (generatedAdminKey !== undefined) console.log(generatedAdminKeyNotice(generatedAdminKey));
const metrics = new MetricsRegistry({ defaultLabels: { service: "registry" } });
registerBusMetrics(metrics, bus);
const registry = createRegistry({
  metrics,
  store,
  bus,
  logger,
  verifyKey: keyring.verify,
  concurrency: config.REGISTRY_CONCURRENCY,
  reconciler: reconcilerOptions(config),
});
// Ready (GET /readyz 200) once the subscriptions are in place, not as soon as the port opens: the
// broker may keep consumer creation waiting for a while, and /healthz stays up meanwhile.
let subscribed = false;
const { app } = createHttpApp({
  serviceName: "registry",
  logger,
  routes: (router) => {
    keyring.registerRoutes(router);
    registry.registerRoutes(router);
  },
  readiness: () => subscribed,
  shutdownSignal: shutdown.signal,
  registry: metrics,
  bodyLimitBytes: 8 * 1024 * 1024,
});
const server = await startHttpServer(app, { port: config.REGISTRY_PORT, host: config.REGISTRY_HOST, logger });
await registry.start();
subscribed = true;

shutdown.onShutdown(() => server.close(config.SHUTDOWN_GRACE), "drain");
shutdown.onShutdown(() => registry.stop(config.SHUTDOWN_GRACE), "drain");
shutdown.onShutdown(() => bus.close({ graceMs: 0 }), "close");
shutdown.onShutdown(() => telemetry.shutdown(), "close");
shutdown.installSignalHandlers();
logger.info({ url: server.url, bus: config.BUS, blob: config.BLOB }, "registry ready");
