// The trainer as its own process: wiring only.
import { connectBus, generatedAdminKeyNotice, openBlobStore, openServiceKeyring, platformKek, ownStoreHost, parseSection, readConfigFile } from "@retrain/runtime";
import { createHttpApp, createShutdown, registerBusMetrics, startHttpServer } from "@retrain/service-kit";
import { createLogger, setupTelemetry } from "@retrain/telemetry";
import { createTrainer } from "./app.js";
import { loadTrainerConfig } from "./config.js";
import { TrainerFileSection, applyTrainerSection } from "./config-file.js";

const config = loadTrainerConfig();
const logger = createLogger({ name: "trainer", level: config.LOG_LEVEL });
const telemetry = setupTelemetry({ serviceName: "retrain-trainer", logger });
const shutdown = createShutdown({ logger, graceMs: config.SHUTDOWN_GRACE });
const file = await readConfigFile(config.RETRAIN_CONFIG);
const store = openBlobStore(config);
const bus = await connectBus(config, logger, "trainer");
const { keyring, generatedAdminKey } = await openServiceKeyring(config, { store, workspaces: file.workspaces, logger });
// The bootstrap admin key is shown once, on stdout, never through the logger.
if (generatedAdminKey !== undefined) console.log(generatedAdminKeyNotice(generatedAdminKey));
const ownHost = ownStoreHost(config);
const kek = platformKek(config);
const trainer = createTrainer({
  store,
  bus,
  logger,
  verifyKey: keyring.verify,
  container: config.AZURE_STORAGE_CONTAINER,
  concurrency: config.TRAINER_CONCURRENCY,
  jobAckWaitMs: config.TRAINER_JOB_ACK_WAIT,
  allowedHosts: config.TRAINER_ALLOWED_HOSTS.split(",").map((h) => h.trim()).filter(Boolean),
  ...(ownHost !== undefined ? { ownHost } : {}),
  ...(kek !== undefined ? { kek } : {}),
  resultSasLifetimeMs: config.RETRAIN_RESULT_SAS_LIFETIME,
});
await applyTrainerSection(trainer, parseSection(config.RETRAIN_CONFIG ?? "retrain.yaml", TrainerFileSection, file));
// Ready (GET /readyz 200) once the subscriptions are in place, not as soon as the port opens: the
// broker may keep consumer creation waiting for a while, and /healthz stays up meanwhile.
let subscribed = false;
const { app, registry: metrics } = createHttpApp({
  serviceName: "trainer",
  logger,
  routes: (router) => {
    keyring.registerRoutes(router);
    trainer.registerRoutes(router);
  },
  readiness: () => subscribed,
  shutdownSignal: shutdown.signal,
});
registerBusMetrics(metrics, bus);
trainer.jobs.registerMetrics(metrics);
const server = await startHttpServer(app, { port: config.TRAINER_PORT, host: config.TRAINER_HOST, logger });
await trainer.start();
subscribed = true;

shutdown.onShutdown(() => server.close(config.SHUTDOWN_GRACE), "drain");
shutdown.onShutdown(() => trainer.stop(config.SHUTDOWN_GRACE), "drain");
shutdown.onShutdown(() => bus.close({ graceMs: 0 }), "close");
shutdown.onShutdown(() => telemetry.shutdown(), "close");
shutdown.installSignalHandlers();
logger.info({ url: server.url, bus: config.BUS, blob: config.BLOB }, "trainer ready");
