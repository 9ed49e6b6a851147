import { PlatformEnv } from "@retrain/runtime";
import { envDurationMs, envInt, loadConfig } from "@retrain/service-kit";
import { z } from "zod";

/** The new promoter's configuration: the platform's variables plus its own. */
export const NewPromoterEnv = PlatformEnv.extend({
  NEW_PROMOTER_PORT: envInt({ min: 0, max: 65535 }).default(8085),
  NEW_PROMOTER_HOST: z.string().default("127.0.0.1"),
  /** Base URL of the scoring host (its ARM API, `/v1` and RRS). */
  PROMOTER_SCORING_URL: z.string().url(),
  /** An admin or workspace key of the scoring host, sent as the ARM bearer token (never logged). */
  PROMOTER_SCORING_KEY: z.string().min(16),
  /** Lifetime of the model read URL put into the asset (the scoring host copies the model at once). */
  PROMOTER_MODEL_URL_LIFETIME: envDurationMs({ min: 1000 }).default(15 * 60_000),
  /** How long the smoke call may wait for the web service to answer with the new model. */
  PROMOTER_SMOKE_TIMEOUT: envDurationMs({ min: 0 }).default(10_000),
  /** Pause between two polls of an ARM async operation. */
  PROMOTER_POLL_INTERVAL: envDurationMs({ min: 10 }).default(1000),
  /** Longest wait for an ARM async operation before the approval is retried. */
  PROMOTER_OPERATION_TIMEOUT: envDurationMs({ min: 1000 }).default(600_000),
  /** Approvals handled at once. */
  PROMOTER_CONCURRENCY: envInt({ min: 1, max: 64 }).default(4),
});
export type NewPromoterEnv = z.output<typeof NewPromoterEnv>;

/** Reads the new promoter's configuration from the environment (only when called). */
export function loadNewPromoterConfig(env: Record<string, string | undefined> = process.env): NewPromoterEnv {
  return loadConfig(NewPromoterEnv, env);
}
