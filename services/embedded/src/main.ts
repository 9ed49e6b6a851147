// pnpm start — the embedded default as a long-running process: wiring only.
import { resolve } from "node:path";
import { parseSection, readConfigFile } from "@retrain/runtime";
import { createShutdown, envInt, loadConfig, parseKekBase64 } from "@retrain/service-kit";
import { createLogger, setupTelemetry } from "@retrain/telemetry";
import { applyTrainerSection, TrainerFileSection } from "@retrain/trainer";
import { applyIngestionSection, IngestionFileSection } from "@retrain/ingestion";
import { z } from "zod";
import { startEmbedded } from "./embedded.js";

const config = loadConfig(
  z.object({
    RETRAIN_PORT: envInt({ min: 0, max: 65535 }).default(8080),
    RETRAIN_HOST: z.string().default("127.0.0.1"),
    RETRAIN_DATA_DIR: z.string().default(".retrain-data"),
    RETRAIN_CONFIG: z.string().optional(),
    /** Admin key; default: generated at the first start and printed once. */
    RETRAIN_ADMIN_KEY: z.string().min(16).optional(),
    /** Key-encryption key (base64 of 32 bytes); default: generated into the data directory. */
    RETRAIN_KEK: z.string().min(40).optional(),
    /**
     * Hosts webhooks may be delivered to over plain http (loopback allowed), comma-separated, e.g.
     * `127.0.0.1,localhost` for a receiver on this machine. Default none: https only.
     */
    NOTIFIER_ALLOW_HTTP_HOSTS: z
      .string()
      .default("")
      .transform((raw) => raw.split(",").map((h) => h.trim().toLowerCase()).filter((h) => h !== "")),
    LOG_LEVEL: z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]).default("info"),
  }),
);
const logger = createLogger({ name: "retrain", level: config.LOG_LEVEL });
const telemetry = setupTelemetry({ serviceName: "retrain", logger });
const shutdown = createShutdown({ logger });
const file = await readConfigFile(config.RETRAIN_CONFIG);
const retrain = await startEmbedded({
  dataDir: resolve(config.RETRAIN_DATA_DIR),
  port: config.RETRAIN_PORT,
  host: config.RETRAIN_HOST,
  logger,
  workspaces: file.workspaces,
  webhookLocalHosts: config.NOTIFIER_ALLOW_HTTP_HOSTS,
  ...(config.RETRAIN_ADMIN_KEY !== undefined ? { adminKey: config.RETRAIN_ADMIN_KEY } : {}),
  ...(config.RETRAIN_KEK !== undefined ? { kek: parseKekBase64(config.RETRAIN_KEK, "RETRAIN_KEK") } : {}),
});
const where = config.RETRAIN_CONFIG ?? "retrain.yaml";
await applyTrainerSection(retrain.services.trainer, parseSection(where, TrainerFileSection, file));
await applyIngestionSection(retrain.services.ingestion, parseSection(where, IngestionFileSection, file));

shutdown.onShutdown(() => retrain.stop(), "drain");
shutdown.onShutdown(() => telemetry.shutdown(), "close");
shutdown.installSignalHandlers();

console.log(`Retrain (embedded default: in-memory bus, filesystem store) listening on ${retrain.url}`);
console.log(`  health ${retrain.url}/healthz · readiness ${retrain.url}/readyz · metrics ${retrain.url}/metrics`);
console.log(`  data   ${resolve(config.RETRAIN_DATA_DIR)}`);
// The one place a generated admin key is ever shown: stdout, once, never the logger.
if (retrain.adminKeyIsNew) console.log(`  admin key (shown once; only its digest is kept): ${retrain.adminKey}`);
console.log("Press Ctrl-C to stop.");
