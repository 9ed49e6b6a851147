import { spawn, type ChildProcess } from "node:child_process";
import { connect } from "node:net";
import { accessSync, constants } from "node:fs";
import { delimiter, join } from "node:path";
import { waitFor } from "./async.js";
import { testEnvironment } from "./config.js";

/** Thrown when a server a test needs cannot be started here; the message says what to install. */
export class FixtureUnavailableError extends Error {
  override readonly name = "FixtureUnavailableError";
  constructor(
    readonly fixture: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(`${fixture}: ${message}`, options);
  }
}

/** Finds an executable on PATH (or the extra directories given), or undefined. */
export function findExecutable(name: string, extraDirs: string[] = []): string | undefined {
  const dirs = [...(testEnvironment()["PATH"] ?? "").split(delimiter), ...extraDirs, "/usr/sbin", "/usr/local/sbin"];
  for (const dir of dirs) {
    if (!dir) continue;
    const candidate = join(dir, name);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here; keep looking
    }
  }
  return undefined;
}

/** Resolves once something accepts TCP connections on host:port. */
export async function waitForPort(port: number, host = "127.0.0.1", timeoutMs = 15_000): Promise<void> {
  await waitFor(
    () =>
      new Promise<boolean>((resolve) => {
        const socket = connect({ port, host });
        socket.once("connect", () => {
          socket.destroy();
          resolve(true);
        });
        socket.once("error", () => resolve(false));
      }),
    { timeoutMs, intervalMs: 25, description: `${host}:${port} to accept connections` },
  );
}

/** A child process started by a fixture, with its recent output kept for error messages. */
export interface ManagedProcess {
  readonly child: ChildProcess;
  readonly output: () => string;
  /** Sends a signal and resolves when the process has exited. */
  stop(signal?: NodeJS.Signals): Promise<void>;
  readonly exited: Promise<number | null>;
}

// Children still running when the test process exits are killed with it (one handler for all of them).
const liveChildren = new Set<ChildProcess>();
let exitHandlerInstalled = false;
function installExitHandler(): void {
  if (exitHandlerInstalled) return;
  exitHandlerInstalled = true;
  process.once("exit", () => {
    for (const child of liveChildren) child.kill("SIGKILL");
  });
}

/** Spawns a process whose stdout/stderr are captured (last 64 KiB) and that is killed with the test process. */
export function spawnManaged(command: string, args: string[], options: { env?: NodeJS.ProcessEnv; cwd?: string } = {}): ManagedProcess {
  const child = spawn(command, args, {
    env: options.env ?? testEnvironment(),
    cwd: options.cwd,
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  const keep = (chunk: Buffer) => {
    output = (output + chunk.toString("utf8")).slice(-65_536);
  };
  child.stdout?.on("data", keep);
  child.stderr?.on("data", keep);
  const exited = new Promise<number | null>((resolve) => {
    child.once("exit", (code) => resolve(code));
    child.once("error", () => resolve(null));
  });
  liveChildren.add(child);
  child.once("exit", () => liveChildren.delete(child));
  installExitHandler();
  return {
    child,
    output: () => output,
    exited,
    async stop(signal: NodeJS.Signals = "SIGTERM") {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill(signal);
      const timer = setTimeout(() => child.kill("SIGKILL"), 5_000);
      await exited;
      clearTimeout(timer);
    },
  };
}
