import { z } from "zod";
import { envBoolean, envDurationMs } from "@retrain/service-kit";

/**
 * The environment every service reads for its platform: which bus, which blob store, where the
 * shared configuration file is. Each service extends it with its own variables.
 */
export const PlatformEnv = z.object({
  /** `memory` (embedded default, one process), `nats`, `servicebus` (Azure Service Bus). */
  BUS: z.enum(["memory", "nats", "servicebus"]).default("memory"),
  NATS_URL: z.string().default("nats://127.0.0.1:4222"),
  /** Deployment prefix of subjects and streams. */
  NATS_PREFIX: z.string().regex(/^[A-Za-z0-9_-]+$/).default("retrain"),
  NATS_USER: z.string().optional(),
  NATS_PASSWORD: z.string().optional(),
  NATS_TOKEN: z.string().optional(),
  /** NKEY seed (`SU…`) for nkey authentication. */
  NATS_NKEY_SEED: z.string().optional(),
  /** Path of a `.creds` file (user JWT + nkey seed) for decentralised authentication. */
  NATS_CREDS_FILE: z.string().optional(),
  /** PEM file of the CA that signed the server's certificate (turns TLS on). */
  NATS_TLS_CA: z.string().optional(),
  /** PEM client certificate and its key, for servers that verify clients (mutual TLS). */
  NATS_TLS_CERT: z.string().optional(),
  NATS_TLS_KEY: z.string().optional(),
  /** Service Bus by SAS connection string (or the emulator's); else SERVICEBUS_NAMESPACE with DefaultAzureCredential. */
  SERVICEBUS_CONNECTION_STRING: z.string().optional(),
  /** `<name>.servicebus.windows.net`, authenticated with Entra ID (DefaultAzureCredential). */
  SERVICEBUS_NAMESPACE: z.string().optional(),
  /** The deployment's topic (one subscription per consumer group under it). */
  SERVICEBUS_TOPIC: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,259}$/).default("retrain"),
  /** Create the topic and subscriptions through the administration API; false when provisioned ahead (scripts/servicebus-topology.mjs). */
  SERVICEBUS_CREATE_ENTITIES: envBoolean().default(true),
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
  /** Admin API key (every workspace). Without it, the first service to start generates one and prints it once. */
  RETRAIN_ADMIN_KEY: z.string().min(16).optional(),
  /**
   * Key-encryption key (base64 of 32 bytes), the same in every service: API-key digests in the keyring
   * are HMACs under it and secrets in BES job documents are sealed with it. See docs/security.md.
   */
  RETRAIN_KEK: z.string().min(40).optional(),
  /** Lifetime of the read URLs Retrain mints (model copies, promotions). Default 15 min. */
  RETRAIN_READ_URL_LIFETIME: envDurationMs({ min: 1_000 }).default(15 * 60_000),
  /** Lifetime of the SAS in a finished BES job's `Results`, minted anew on every GET. Default 24 h (as on the classic service). */
  RETRAIN_RESULT_SAS_LIFETIME: envDurationMs({ min: 1_000 }).default(24 * 3_600_000),
  /** How long a service trusts its copy of the keyring: a key rotation reaches every service within it. */
  RETRAIN_KEY_CACHE: envDurationMs({ min: 0 }).default(2_000),
  /** Grace period of the two-phase shutdown. */
  SHUTDOWN_GRACE: envDurationMs({ min: 0 }).default(10_000),
  LOG_LEVEL: z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]).default("info"),
});
export type PlatformEnv = z.output<typeof PlatformEnv>;
