import { envDurationMs, envInt, loadConfig } from "@retrain/service-kit";
import { PlatformEnv } from "@retrain/runtime";
import { z } from "zod";

/** The trainer's configuration: the platform's variables plus its own. */
export const TrainerEnv = PlatformEnv.extend({
  TRAINER_PORT: envInt({ min: 0, max: 65535 }).default(8081),
  TRAINER_HOST: z.string().default("127.0.0.1"),
  /** Training jobs one replica runs at once. */
  TRAINER_CONCURRENCY: envInt({ min: 1, max: 64 }).default(1),
  /** How long a training job's queue message may go without a heartbeat before another replica takes it. */
  TRAINER_JOB_ACK_WAIT: envDurationMs({ min: 1000 }).default(30_000),
  /** Hosts a BES job may read from / write to by URL, comma-separated (`*.blob.core.windows.net`). */
  TRAINER_ALLOWED_HOSTS: z.string().default("*.blob.core.windows.net"),
});
export type TrainerEnv = z.output<typeof TrainerEnv>;

/** Reads the trainer's configuration from the environment (only when called). */
export function loadTrainerConfig(env: Record<string, string | undefined> = process.env): TrainerEnv {
  return loadConfig(TrainerEnv, env);
}
