import { envInt, loadConfig } from "@retrain/service-kit";
import { PlatformEnv } from "@retrain/runtime";
import { z } from "zod";

/** The registry's configuration: the platform's variables plus its own. */
export const RegistryEnv = PlatformEnv.extend({
  REGISTRY_PORT: envInt({ min: 0, max: 65535 }).default(8086),
  REGISTRY_HOST: z.string().default("127.0.0.1"),
  /** Run events handled at once by one replica. */
  REGISTRY_CONCURRENCY: envInt({ min: 1, max: 64 }).default(4),
});
export type RegistryEnv = z.output<typeof RegistryEnv>;

/** Reads the registry's configuration from the environment (only when called). */
export function loadRegistryConfig(env: Record<string, string | undefined> = process.env): RegistryEnv {
  return loadConfig(RegistryEnv, env);
}
