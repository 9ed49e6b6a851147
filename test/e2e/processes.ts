// Starts Retrain's services as separate OS processes (their built dist/main.js) for end-to-end suites.
import { execFileSync } from "node:child_process";
import { join } from "node:path";
import { startServiceProcess, type ServiceProcess } from "@retrain/testing";

export type { ServiceProcess };

/** The repository root. */
export const root = join(__dirname, "..", "..");

/** Builds every service once (the suites run the built processes). */
export function buildAll(): void {
  execFileSync("npx", ["tsc", "-b"], { cwd: root, stdio: "inherit" });
}

/** Starts `services/<name>/dist/main.js` with `env` plus its port variable, and waits until it listens. */
export function startService(name: string, portVariable: string, env: NodeJS.ProcessEnv, port?: number): Promise<ServiceProcess> {
  return startServiceProcess(root, name, portVariable, env, port);
}
