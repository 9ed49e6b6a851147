// Starts Retrain's services as separate OS processes (their built dist/main.js) for end-to-end suites.
import { execFileSync } from "node:child_process";
import { join } from "node:path";
import { freePort, spawnManaged, waitForPort, type ManagedProcess } from "@retrain/testing";

/** The repository root. */
export const root = join(__dirname, "..", "..");

/** Builds every service once (the suites run the built processes). */
export function buildAll(): void {
  execFileSync("npx", ["tsc", "-b"], { cwd: root, stdio: "inherit" });
}

/** A service process and where it listens. */
export interface ServiceProcess {
  readonly name: string;
  readonly url: string;
  readonly process: ManagedProcess;
}

/** Starts `services/<name>/dist/main.js` with `env` plus its port variable, and waits until it listens. */
export async function startService(name: string, portVariable: string, env: NodeJS.ProcessEnv, port?: number): Promise<ServiceProcess> {
  const chosen = port ?? (await freePort());
  const proc = spawnManaged(process.execPath, [join(root, "services", name, "dist", "main.js")], { env: { ...env, [portVariable]: String(chosen) } });
  try {
    await waitForPort(chosen, "127.0.0.1", 30_000);
  } catch (error) {
    throw new Error(`${name} did not start:\n${proc.output()}`, { cause: error });
  }
  return { name, url: `http://127.0.0.1:${chosen}`, process: proc };
}
