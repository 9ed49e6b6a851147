// The new promoter as its own process: wiring only.
import { connectBus, openBlobStore } from "@retrain/runtime";
import { createHttpApp, createShutdown, registerBusMetrics, startHttpServer } from "@retrain/service-kit";
import { createLogger, setupTelemetry } from "@retrain/telemetry";
import { createNewPromoter } from "./app.js";
import { loadNewPromoterConfig } from "./config.js";

const config = loadNewPromoterConfig();
const logger = createLogger({ name: "new-promoter", level: config.LOG_LEVEL });
const telemetry = setupTelemetry({ serviceName: "retrain-new-promoter", logger });
const shutdown = createShutdown({ logger, graceMs: config.SHUTDOWN_GRACE });
const store = openBlobStore(config);
const bus = await connectBus(config, logger, "new-promoter");
const promoter = createNewPromoter({
  store,
  bus,
  logger,
  scoringUrl: config.PROMOTER_SCORING_URL,
  scoringKey: config.PROMOTER_SCORING_KEY,
  modelUrlLifetimeMs: config.PROMOTER_MODEL_URL_LIFETIME,
  smokeTimeoutMs: config.PROMOTER_SMOKE_TIMEOUT,
  pollIntervalMs: config.PROMOTER_POLL_INTERVAL,
  operationTimeoutMs: config.PROMOTER_OPERATION_TIMEOUT,
  concurrency: config.PROMOTER_CONCURRENCY,
});
// Ready (GET /readyz 200) once the subscriptions are in place, not as soon as the port opens: the
// broker may keep consumer creation waiting for a while, and /healthz stays up meanwhile.
let subscribed = false;
const { app, registry: metrics } = createHttpApp({ serviceName: "new-promoter", logger, readiness: () => subscribed, shutdownSignal: shutdown.signal });
registerBusMetrics(metrics, bus);
const server = await startHttpServer(app, { port: config.NEW_PROMOTER_PORT, host: config.NEW_PROMOTER_HOST, logger });
await promoter.start();
subscribed = true;

shutdown.onShutdown(() => server.close(config.SHUTDOWN_GRACE), "drain");
shutdown.onShutdown(() => promoter.stop(config.SHUTDOWN_GRACE), "drain");
shutdown.onShutdown(() => bus.close({ graceMs: 0 }), "close");
shutdown.onShutdown(() => store.close(), "close");
shutdown.onShutdown(() => telemetry.shutdown(), "close");
shutdown.installSignalHandlers();
logger.info({ url: server.url, scoring: config.PROMOTER_SCORING_URL, bus: config.BUS, blob: config.BLOB }, "new-promoter ready");
