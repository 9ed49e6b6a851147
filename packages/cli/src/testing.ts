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

/** Options of {@link retrain}. */
export interface RetrainOptions {
  readonly url?: string;
  readonly key?: string;
  readonly workspace?: string;
  readonly serviceUrls?: CliEnvironment["serviceUrls"];
  /** Run as if a person watched a terminal (progress bars on stderr). Default false. */
  readonly interactive?: boolean;
}

/** Runs `retrain <argv…>` against `url` with `key` (no environment variables are read). */
export async function retrain(argv: readonly string[], options: RetrainOptions = {}): Promise<CliRun> {
  let stdout = "";
  let stderr = "";
  const code = await runCli(argv, { url: options.url, key: options.key, workspace: options.workspace, serviceUrls: options.serviceUrls ?? {} }, {
    stdout: (s) => (stdout += s),
    stderr: (s) => (stderr += s),
    interactive: options.interactive ?? false,
  });
  return { code, stdout, stderr, json: <T>() => JSON.parse(stdout) as T };
}
