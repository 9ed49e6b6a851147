import { envDurationMs, envInt, loadConfig } from "@retrain/service-kit";
import { PlatformEnv } from "@retrain/runtime";
import { z } from "zod";

/** The scoring host's configuration: the platform's variables plus its own. */
export const ScoringEnv = PlatformEnv.extend({
  SCORING_PORT: envInt({ min: 0, max: 65535 }).default(8082),
  SCORING_HOST: z.string().default("127.0.0.1"),
  /** Base URL clients reach this host at (ApiLocation, Azure-AsyncOperation, nextLink). Default `http://<host>:<port>`. */
  SCORING_PUBLIC_URL: z.string().url().optional(),
  /** Key-encryption key of the API keys at rest: base64 of 32 bytes. Replicas must share it. Default: generated into the data directory. */
  SCORING_KEK: z.string().min(40).optional(),
  /** Where a generated KEK (and the filesystem store's URL secret) are kept. */
  SCORING_DATA_DIR: z.string().default(".retrain-data/scoring"),
  /** Hosts a model (PATCH, ARM asset uri) or BES input may be fetched from, comma-separated (SSRF guard). */
  SCORING_ALLOWED_HOSTS: z.string().default("*.blob.core.windows.net"),
  /** Pause between two polls of the target documents (replica convergence). */
  SCORING_SYNC_INTERVAL: envDurationMs({ min: 20 }).default(500),
  /** Batch scoring jobs one replica runs at once. */
  SCORING_CONCURRENCY: envInt({ min: 1, max: 64 }).default(2),
  /** Largest model accepted, in bytes. */
  SCORING_MODEL_MAX_BYTES: envInt({ min: 1024 }).default(512 * 1024 * 1024),
  /** Time allowed to download a model. */
  SCORING_MODEL_FETCH_TIMEOUT: envDurationMs({ min: 100 }).default(120_000),
  /** Largest RRS request body, in bytes. */
  SCORING_BODY_LIMIT: envInt({ min: 1024 }).default(4 * 1024 * 1024),
  /** Web services per page of an ARM list. */
  SCORING_ARM_PAGE_SIZE: envInt({ min: 1, max: 1000 }).default(100),
});
export type ScoringEnv = z.output<typeof ScoringEnv>;

/** Reads the scoring host's configuration from the environment (only when called). */
export function loadScoringConfig(env: Record<string, string | undefined> = process.env): ScoringEnv {
  return loadConfig(ScoringEnv, env);
}
