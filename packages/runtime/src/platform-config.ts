import { z } from "zod";
import { envDurationMs } from "@retrain/service-kit";

/**
 * The environment every service reads for its platform: which bus, which blob store, where the
 * shared configuration file is. Each service extends it with its own variables.
 */
export const PlatformEnv = z.object({
  /** `memory` (embedded default, one process), `nats`. */
  BUS: z.enum(["memory", "nats"]).default("memory"),
  NATS_URL: z.string().default("nats://127.0.0.1:4222"),
  /** Deployment prefix of subjects and streams. */
  NATS_PREFIX: z.string().regex(/^[A-Za-z0-9_-]+$/).default("retrain"),
  NATS_USER: z.string().optional(),
  NATS_PASSWORD: z.string().optional(),
  NATS_TOKEN: z.string().optional(),
  /** `filesystem` (embedded default) or `azure`. */
  BLOB: z.enum(["filesystem", "azure"]).default("filesystem"),
  /** Filesystem store root. */
  BLOB_ROOT: z.string().default(".retrain-data/blobs"),
  /** Secret that signs the filesystem store's read URLs (all processes on one store share it). */
  BLOB_URL_SECRET: z.string().min(16).optional(),
  /** Base URL the filesystem store's read URLs point at (the process serving `/_blobs/`). */
  BLOB_PUBLIC_URL: z.string().url().optional(),
  AZURE_STORAGE_CONNECTION_STRING: z.string().optional(),
  AZURE_STORAGE_CONTAINER: z.string().default("retrain"),
  /** Path of retrain.yaml. */
  RETRAIN_CONFIG: z.string().optional(),
  /** Admin API key (every workspace). */
  RETRAIN_ADMIN_KEY: z.string().min(16).optional(),
  /** Grace period of the two-phase shutdown. */
  SHUTDOWN_GRACE: envDurationMs({ min: 0 }).default(10_000),
  LOG_LEVEL: z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]).default("info"),
});
export type PlatformEnv = z.output<typeof PlatformEnv>;
