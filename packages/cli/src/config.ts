// Where the CLI finds Retrain: one base URL for the embedded default (every API on one port), and
// optional per-service URLs for a distributed deployment where each service listens on its own port.
export const SERVICES = ["ingestion", "trainer", "evaluator", "scoring", "registry", "notifier", "classic-promoter", "new-promoter"] as const;
export type ServiceName = (typeof SERVICES)[number];

export interface CliEnvironment {
  readonly url: string | undefined;
  readonly key: string | undefined;
  readonly workspace: string | undefined;
  readonly serviceUrls: Partial<Record<ServiceName, string>>;
}

/** RETRAIN_URL, RETRAIN_KEY, RETRAIN_WORKSPACE and RETRAIN_<SERVICE>_URL (e.g. RETRAIN_REGISTRY_URL). */
export function readCliEnvironment(env: NodeJS.ProcessEnv = process.env): CliEnvironment {
  const serviceUrls: Partial<Record<ServiceName, string>> = {};
  for (const service of SERVICES) {
    const value = env[`RETRAIN_${service.toUpperCase().replace(/-/g, "_")}_URL`];
    if (value !== undefined && value !== "") serviceUrls[service] = value;
  }
  return { url: env["RETRAIN_URL"], key: env["RETRAIN_KEY"], workspace: env["RETRAIN_WORKSPACE"], serviceUrls };
}
