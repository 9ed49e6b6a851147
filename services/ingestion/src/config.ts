import { envDurationMs, envInt, loadConfig } from "@retrain/service-kit";
import { PlatformEnv } from "@retrain/runtime";
import { z } from "zod";

/** The ingestion service's configuration: the platform's variables plus its own. */
export const IngestionEnv = PlatformEnv.extend({
  INGESTION_PORT: envInt({ min: 0, max: 65535 }).default(8080),
  INGESTION_HOST: z.string().default("127.0.0.1"),
  /** Largest dataset accepted by upload or copied from a URL (bytes). Default 512 MiB. */
  INGESTION_MAX_DATASET_BYTES: envInt({ min: 1 }).default(512 * 1024 * 1024),
  /** Hosts a DatasetAvailable URL or an Event Grid blob may be fetched from, comma-separated (`*.blob.core.windows.net`). */
  INGESTION_ALLOWED_HOSTS: z.string().default("*.blob.core.windows.net"),
  /**
   * Where a DatasetAvailable may name blobs of the store, comma-separated prefixes; `{workspace}` stands
   * for the caller's workspace (`uploads/{workspace}/` gives each team its own landing zone). A pipeline's
   * own datasets can always be named; other services' documents never.
   */
  INGESTION_DATASET_PREFIXES: z
    .string()
    .default("uploads/")
    .transform((raw, ctx) => {
      const prefixes = raw.split(",").map((p) => p.trim()).filter((p) => p !== "");
      if (prefixes.length === 0 || prefixes.some((p) => !p.endsWith("/"))) {
        ctx.issues.push({ code: "custom", input: raw, message: 'must be one or more prefixes ending in "/", e.g. "uploads/" or "uploads/{workspace}/"' });
        return z.NEVER;
      }
      return prefixes;
    }),
  /** How often the schedule timer looks at the clock (a cron matches per minute). */
  INGESTION_SCHEDULE_INTERVAL: envDurationMs({ min: 1000 }).default(60_000),
});
export type IngestionEnv = z.output<typeof IngestionEnv>;

/** Reads the ingestion service's configuration from the environment (only when called). */
export function loadIngestionConfig(env: Record<string, string | undefined> = process.env): IngestionEnv {
  return loadConfig(IngestionEnv, env);
}
