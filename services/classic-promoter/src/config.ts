import { PlatformEnv } from "@retrain/runtime";
import { envDurationMs, envInt, loadConfig } from "@retrain/service-kit";
import { z } from "zod";

/** The classic promoter's configuration: the platform's variables plus its own. */
export const ClassicPromoterEnv = PlatformEnv.extend({
  CLASSIC_PROMOTER_PORT: envInt({ min: 0, max: 65535 }).default(8084),
  CLASSIC_PROMOTER_HOST: z.string().default("127.0.0.1"),
  /** Base URL of the scoring host (its classic management API, `/v1` and RRS). */
  PROMOTER_SCORING_URL: z.string().url(),
  /** An admin or workspace key of the scoring host (never logged). */
  PROMOTER_SCORING_KEY: z.string().min(16),
  /** Lifetime of the model read URL handed to the scoring host (it copies the model at once). */
  PROMOTER_MODEL_URL_LIFETIME: envDurationMs({ min: 1000 }).default(15 * 60_000),
  /** How long the smoke call may wait for the endpoint to answer with the new model (replicas converge). */
  PROMOTER_SMOKE_TIMEOUT: envDurationMs({ min: 0 }).default(10_000),
  /** Approvals handled at once. */
  PROMOTER_CONCURRENCY: envInt({ min: 1, max: 64 }).default(4),
});
export type ClassicPromoterEnv = z.output<typeof ClassicPromoterEnv>;

/** Reads the classic promoter's configuration from the environment (only when called). */
export function loadClassicPromoterConfig(env: Record<string, string | undefined> = process.env): ClassicPromoterEnv {
  return loadConfig(ClassicPromoterEnv, env);
}
