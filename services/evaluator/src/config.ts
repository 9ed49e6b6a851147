import { envDurationMs, envInt, loadConfig } from "@retrain/service-kit";
import { PlatformEnv } from "@retrain/runtime";
import { z } from "zod";

/** The evaluator's configuration: the platform's variables plus its own. */
export const EvaluatorEnv = PlatformEnv.extend({
  EVALUATOR_PORT: envInt({ min: 0, max: 65535 }).default(8083),
  EVALUATOR_HOST: z.string().default("127.0.0.1"),
  /** Base URL of the scoring host, asked for the model each target serves (the champion). */
  EVALUATOR_SCORING_URL: z.string().url().default("http://127.0.0.1:8082"),
  /** API key for the scoring host's `/v1/…/model` routes (an admin key reaches every workspace). Default `RETRAIN_ADMIN_KEY`. */
  EVALUATOR_SCORING_KEY: z.string().min(1).optional(),
  /** Time allowed for one call to the scoring host (model lookup or model download). */
  EVALUATOR_SCORING_TIMEOUT: envDurationMs({ min: 100 }).default(60_000),
  /** ModelTrained events evaluated at once by one replica. */
  EVALUATOR_CONCURRENCY: envInt({ min: 1, max: 64 }).default(2),
});
export type EvaluatorEnv = z.output<typeof EvaluatorEnv>;

/** Reads the evaluator's configuration from the environment (only when called). */
export function loadEvaluatorConfig(env: Record<string, string | undefined> = process.env): EvaluatorEnv {
  return loadConfig(EvaluatorEnv, env);
}
