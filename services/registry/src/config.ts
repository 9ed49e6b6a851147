import { envDurationMs, envInt, loadConfig } from "@retrain/service-kit";
import { PlatformEnv } from "@retrain/runtime";
import { z } from "zod";

/** The registry's configuration: the platform's variables plus its own. */
export const RegistryEnv = PlatformEnv.extend({
  REGISTRY_PORT: envInt({ min: 0, max: 65535 }).default(8086),
  REGISTRY_HOST: z.string().default("127.0.0.1"),
  /** Run events handled at once by one replica. */
  REGISTRY_CONCURRENCY: envInt({ min: 1, max: 64 }).default(4),
  /** How often the reconciler looks for runs past their stage deadline (`0` turns it off). */
  REGISTRY_RECONCILE_INTERVAL: envDurationMs({ min: 0 }).default(30_000),
  /** How long a run may wait for its training outcome before it is re-driven. */
  REGISTRY_DEADLINE_TRAINING: envDurationMs({ min: 100 }).default(30 * 60_000),
  /** How long a trained run may wait for its evaluation's decision. */
  REGISTRY_DEADLINE_EVALUATION: envDurationMs({ min: 100 }).default(10 * 60_000),
  /** How long an approved run may wait for every target's promotion outcome. */
  REGISTRY_DEADLINE_PROMOTION: envDurationMs({ min: 100 }).default(10 * 60_000),
  /** Re-drive requests per stage before a run is reported stuck. */
  REGISTRY_REDRIVE_ATTEMPTS: envInt({ min: 1, max: 100 }).default(3),
});
export type RegistryEnv = z.output<typeof RegistryEnv>;

/** Reads the registry's configuration from the environment (only when called). */
export function loadRegistryConfig(env: Record<string, string | undefined> = process.env): RegistryEnv {
  return loadConfig(RegistryEnv, env);
}

/** The reconciler's options from the configuration. */
export function reconcilerOptions(config: RegistryEnv): { intervalMs: number; maxAttempts: number; deadlinesMs: { training: number; evaluation: number; promotion: number } } {
  return {
    intervalMs: config.REGISTRY_RECONCILE_INTERVAL,
    maxAttempts: config.REGISTRY_REDRIVE_ATTEMPTS,
    deadlinesMs: { training: config.REGISTRY_DEADLINE_TRAINING, evaluation: config.REGISTRY_DEADLINE_EVALUATION, promotion: config.REGISTRY_DEADLINE_PROMOTION },
  };
}
