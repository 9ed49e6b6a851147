// Starts Retrain's services as separate OS processes (their built dist/main.js) for end-to-end suites.
import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { startServiceProcess, type ServiceProcess } from "@retrain/testing";

export type { ServiceProcess };

/** The repository root: the nearest folder above the working directory with pnpm-workspace.yaml. */
export const root = ((): string => {
  for (let dir = process.cwd(); ; dir = dirname(dir)) {
    if (existsSync(join(dir, "pnpm-workspace.yaml"))) return dir;
    if (dirname(dir) === dir) throw new Error("run from inside the Retrain repository");
  }
})();

/** Builds every service once (the suites run the built processes). */
export function buildAll(): void {
  execFileSync("npx", ["tsc", "-b"], { cwd: root, stdio: "inherit" });
}

/** Starts `services/<name>/dist/main.js` with `env` plus its port variable, and waits until it listens. */
export function startService(name: string, portVariable: string, env: NodeJS.ProcessEnv, port?: number): Promise<ServiceProcess> {
  return startServiceProcess(root, name, portVariable, env, port);
}

/** A service process that a fault-injection suite can kill and start again on the same port with the same environment. */
export interface RestartableService {
  readonly name: string;
  readonly url: string;
  /** The process running now (a new one after each {@link restart}). */
  readonly current: ServiceProcess;
  /** Signals the current process (default SIGKILL) and resolves once it has exited. */
  kill(signal?: NodeJS.Signals): Promise<void>;
  /** Starts the service again (after {@link kill}) and waits until it listens. */
  restart(): Promise<void>;
}

/** Starts a service like {@link startService}, keeping what it takes to start it again. */
export async function startRestartableService(name: string, portVariable: string, env: NodeJS.ProcessEnv, port?: number): Promise<RestartableService> {
  let current = await startService(name, portVariable, env, port);
  const chosen = Number(new URL(current.url).port);
  return {
    name,
    url: current.url,
    get current() {
      return current;
    },
    kill: (signal: NodeJS.Signals = "SIGKILL") => current.process.stop(signal),
    async restart() {
      current = await startService(name, portVariable, env, chosen);
    },
  };
}
