// The registry as its own process: wiring only.
import { connectBus, keyVerifier, openBlobStore, readConfigFile } from "@retrain/runtime";
import { createHttpApp, createShutdown, startHttpServer } from "@retrain/service-kit";
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
const registry = createRegistry({
  store,
  bus,
  logger,
  verifyKey: keyVerifier({ workspaces: file.workspaces, ...(config.RETRAIN_ADMIN_KEY !== undefined ? { adminKey: config.RETRAIN_ADMIN_KEY } : {}) }),
  concurrency: config.REGISTRY_CONCURRENCY,
  reconciler: reconcilerOptions(config),
});
const { app } = createHttpApp({ serviceName: "registry", logger, routes: (router) => registry.registerRoutes(router), shutdownSignal: shutdown.signal });
const server = await startHttpServer(app, { port: config.REGISTRY_PORT, host: config.REGISTRY_HOST, logger });
await registry.start();

shutdown.onShutdown(() => server.close(config.SHUTDOWN_GRACE), "drain");
shutdown.onShutdown(() => registry.stop(config.SHUTDOWN_GRACE), "drain");
shutdown.onShutdown(() => bus.close({ graceMs: 0 }), "close");
shutdown.onShutdown(() => telemetry.shutdown(), "close");
shutdown.installSignalHandlers();
logger.info({ url: server.url, bus: config.BUS, blob: config.BLOB }, "registry ready");
