import { join } from "node:path";
import { waitFor } from "./async.js";
import { freePort } from "./names.js";
import { spawnManaged, waitForPort, type ManagedProcess } from "./process.js";

/** A Retrain service running as its own OS process, and where it listens. */
export interface ServiceProcess {
  readonly name: string;
  readonly url: string;
  readonly process: ManagedProcess;
}

/**
 * Starts `<root>/services/<name>/dist/main.js` (built) with `env` plus its port variable set to a free
 * port (or `port`), and waits until it is ready (`GET /readyz` answers 200 — a port that accepts
 * connections is not enough: the embedded default listens before its services are wired); a failure
 * to start carries its output.
 */
export async function startServiceProcess(root: string, name: string, portVariable: string, env: NodeJS.ProcessEnv, port?: number): Promise<ServiceProcess> {
  const chosen = port ?? (await freePort());
  const proc = spawnManaged(process.execPath, [join(root, "services", name, "dist", "main.js")], { env: { ...env, [portVariable]: String(chosen) } });
  try {
    await waitForPort(chosen, "127.0.0.1", 30_000);
    await waitFor(
      async () => {
        if (proc.child.exitCode !== null) throw new Error(`exited with ${proc.child.exitCode}`);
        const response = await fetch(`http://127.0.0.1:${chosen}/readyz`);
        await response.arrayBuffer();
        return response.status === 200;
      },
      { timeoutMs: 30_000, intervalMs: 25 },
    );
  } catch (error) {
    throw new Error(`${name} did not start:\n${proc.output()}`, { cause: error });
  }
  return { name, url: `http://127.0.0.1:${chosen}`, process: proc };
}
