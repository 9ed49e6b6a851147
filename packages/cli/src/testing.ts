// Test support: run the CLI in-process and capture what it printed.
import type { CliEnvironment } from "./config.js";
import { runCli } from "./program.js";

export interface CliRun {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
  /** stdout parsed as JSON (for `--json` runs). */
  json<T = unknown>(): T;
}

/** Runs `retrain <argv…>` against `url` with `key` (no environment variables are read). */
export async function retrain(argv: readonly string[], options: { url?: string; key?: string; workspace?: string; serviceUrls?: CliEnvironment["serviceUrls"] } = {}): Promise<CliRun> {
  let stdout = "";
  let stderr = "";
  const code = await runCli(argv, { url: options.url, key: options.key, workspace: options.workspace, serviceUrls: options.serviceUrls ?? {} }, {
    stdout: (s) => (stdout += s),
    stderr: (s) => (stderr += s),
    interactive: false,
  });
  return { code, stdout, stderr, json: <T>() => JSON.parse(stdout) as T };
}
