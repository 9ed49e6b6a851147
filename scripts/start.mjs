// pnpm start — the embedded default: one process, in-memory bus, filesystem blob store under
// ./.retrain-data, every API on one port. Services mount here as they are built; today it serves
// health, readiness, metrics and signed blob read URLs. Stops gracefully on Ctrl-C / SIGTERM.
import { randomBytes } from "node:crypto";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { FileSystemBlobStore, createBlobUrlHandler } from "../packages/blob/dist/index.js";
import { MemoryBus } from "../packages/bus/dist/index.js";
import { createHttpApp, createShutdown, startHttpServer } from "../packages/service-kit/dist/index.js";
import { createLogger, setupTelemetry } from "../packages/telemetry/dist/index.js";

const port = Number(process.env.RETRAIN_PORT ?? 8080);
const dataDir = resolve(process.env.RETRAIN_DATA_DIR ?? ".retrain-data");
const logger = createLogger({ name: "retrain", level: process.env.LOG_LEVEL ?? "info" });
const telemetry = setupTelemetry({ serviceName: "retrain", logger });

// The URL-signing secret survives restarts so read URLs handed out stay valid until they expire.
await mkdir(dataDir, { recursive: true });
const secretFile = join(dataDir, ".url-secret");
const urlSecret = await readFile(secretFile, "utf8").catch(async () => {
  const secret = randomBytes(32).toString("base64url");
  await writeFile(secretFile, secret, { mode: 0o600 });
  return secret;
});

const shutdown = createShutdown({ logger });
const store = new FileSystemBlobStore({ root: join(dataDir, "blobs"), urlSecret, publicBaseUrl: `http://127.0.0.1:${port}` });
const bus = new MemoryBus({ logger });
const { app } = createHttpApp({ serviceName: "retrain", logger, shutdownSignal: shutdown.signal });
const blobUrls = createBlobUrlHandler(store, { secret: urlSecret });
const server = await startHttpServer((req, res) => {
  if (!blobUrls(req, res)) app(req, res);
}, { port, host: process.env.RETRAIN_HOST ?? "127.0.0.1", logger });

shutdown.onShutdown((_signal) => server.close(), "drain");
shutdown.onShutdown(() => bus.close(), "drain");
shutdown.onShutdown(() => store.close(), "close");
shutdown.onShutdown(() => telemetry.shutdown(), "close");
shutdown.installSignalHandlers();

console.log(`Retrain (embedded default) listening on ${server.url}`);
console.log(`  health   ${server.url}/healthz   readiness ${server.url}/readyz   metrics ${server.url}/metrics`);
console.log(`  data     ${dataDir}`);
console.log("Press Ctrl-C to stop.");
