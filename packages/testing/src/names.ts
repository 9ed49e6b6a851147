import { randomBytes } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** A name unique to this test run: `prefix-<time>-<random>`, safe for streams, containers and blobs. */
export function uniqueName(prefix = "t"): string {
  return `${prefix}-${Date.now().toString(36)}-${randomBytes(4).toString("hex")}`.toLowerCase();
}

/** Asks the OS for a free TCP port on 127.0.0.1. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      if (address === null || typeof address === "string") {
        reject(new Error("no port assigned"));
        return;
      }
      server.close(() => resolve(address.port));
    });
  });
}

/** A fresh temporary directory, removed by the returned `remove()`. */
export async function tempDir(prefix = "retrain-"): Promise<{ path: string; remove(): Promise<void> }> {
  const path = await mkdtemp(join(tmpdir(), prefix));
  return { path, remove: () => rm(path, { recursive: true, force: true }) };
}

/** Collects teardown steps and runs them last-in first-out, each even if an earlier one failed. */
export class Cleanup {
  readonly #steps: Array<() => unknown> = [];

  /** Registers a teardown step; returns its argument for chaining. */
  add(step: () => unknown): void {
    this.#steps.push(step);
  }

  /** Runs every registered step in reverse order; rethrows the first failure after all have run. */
  async run(): Promise<void> {
    let first: unknown;
    while (this.#steps.length > 0) {
      const step = this.#steps.pop();
      try {
        await step?.();
      } catch (error) {
        first ??= error;
      }
    }
    if (first !== undefined) throw first;
  }
}
