// The evaluator as its own process: wiring only.
import { connectBus, generatedAdminKeyNotice, openBlobStore, openServiceKeyring, readConfigFile } from "@retrain/runtime";
import { ConfigError, createHttpApp, createShutdown, registerBusMetrics, startHttpServer } from "@retrain/service-kit";
import { createLogger, setupTelemetry } from "@retrain/telemetry";
import { createEvaluator } from "./app.js";
import { loadEvaluatorConfig } from "./config.js";
import { ScoringClient } from "./scoring-client.js";

const config = loadEvaluatorConfig();
const scoringKey = config.EVALUATOR_SCORING_KEY ?? config.RETRAIN_ADMIN_KEY;
if (scoringKey === undefined) {
  throw new ConfigError([{ variable: "EVALUATOR_SCORING_KEY", problem: "is required (or RETRAIN_ADMIN_KEY): the key the scoring host is asked with" }]);
}
const logger = createLogger({ name: "evaluator", level: config.LOG_LEVEL });
const telemetry = setupTelemetry({ serviceName: "retrain-evaluator", logger });
const shutdown = createShutdown({ logger, graceMs: config.SHUTDOWN_GRACE });
const file = await readConfigFile(config.RETRAIN_CONFIG);
const store = openBlobStore(config);
const bus = await connectBus(config, logger, "evaluator");
const { keyring, generatedAdminKey } = await openServiceKeyring(config, { store, workspaces: file.workspaces, logger });
// The bootstrap admin key is shown once, on stdout, never through the logger.
if (generatedAdminKey !== undefined) console.log(generatedAdminKeyNotice(generatedAdminKey));
const evaluator = createEvaluator({
  store,
  bus,
  logger,
  verifyKey: keyring.verify,
  champions: new ScoringClient({ baseUrl: config.EVALUATOR_SCORING_URL, apiKey: scoringKey, timeoutMs: config.EVALUATOR_SCORING_TIMEOUT }),
  concurrency: config.EVALUATOR_CONCURRENCY,
});
// Ready (GET /readyz 200) once the subscriptions are in place, not as soon as the port opens: the
// broker may keep consumer creation waiting for a while, and /healthz stays up meanwhile.
let subscribed = false;
const { app, registry: metrics } = createHttpApp({
  serviceName: "evaluator",
  logger,
  routes: (router) => {
    keyring.registerRoutes(router);
    evaluator.registerRoutes(router);
  },
  readiness: () => subscribed,
  shutdownSignal: shutdown.signal,
});
registerBusMetrics(metrics, bus);
const server = await startHttpServer(app, { port: config.EVALUATOR_PORT, host: config.EVALUATOR_HOST, logger });
await evaluator.start();
subscribed = true;

shutdown.onShutdown(() => server.close(config.SHUTDOWN_GRACE), "drain");
shutdown.onShutdown(() => evaluator.stop(config.SHUTDOWN_GRACE), "drain");
shutdown.onShutdown(() => bus.close({ graceMs: 0 }), "close");
shutdown.onShutdown(() => telemetry.shutdown(), "close");
shutdown.installSignalHandlers();
logger.info({ url: server.url, bus: config.BUS, blob: config.BLOB, scoring: config.EVALUATOR_SCORING_URL }, "evaluator ready");
