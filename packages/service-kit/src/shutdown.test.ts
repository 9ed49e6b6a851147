import { deferred, waitFor } from "@retrain/testing";
import { createLogger, silentLogger } from "@retrain/telemetry";
import { createShutdown } from "./index.js";

describe("createShutdown", () => {
  it("aborts the signal, then runs drain steps before close steps", async () => {
    const order: string[] = [];
    const shutdown = createShutdown({ logger: silentLogger() });
    const drainGate = deferred();
    shutdown.onShutdown(async () => {
      order.push("close connections");
    }, "close");
    shutdown.onShutdown(async () => {
      order.push("stop server start");
      await drainGate.promise;
      order.push("stop server end");
    }, "drain");
    shutdown.onShutdown(() => {
      order.push(`unsubscribe (signal aborted: ${shutdown.signal.aborted})`);
    }, "drain");

    expect(shutdown.started).toBe(false);
    const running = shutdown.run("test");
    expect(shutdown.signal.aborted).toBe(true);
    expect(shutdown.started).toBe(true);
    expect(shutdown.run("again")).toBe(running);
    drainGate.resolve();
    await running;
    expect(order).toEqual([
      "stop server start",
      "unsubscribe (signal aborted: true)",
      "stop server end",
      "close connections",
    ]);
  });

  it("abandons a step that overruns the grace period and carries on", async () => {
    const lines: string[] = [];
    const logger = createLogger({ name: "t", destination: { write: (line) => void lines.push(line) } });
    const shutdown = createShutdown({ logger, graceMs: 30 });
    const abandoned = deferred<unknown>();
    let closed = false;
    shutdown.onShutdown(function hangs(signal) {
      signal.addEventListener("abort", () => abandoned.resolve(signal.reason));
      return new Promise<void>(() => undefined);
    }, "drain");
    shutdown.onShutdown(async function failsLater() {
      await abandoned.promise;
      throw new Error("closing after abandonment failed");
    }, "drain");
    shutdown.onShutdown(() => {
      closed = true;
    }, "close");

    await shutdown.run("test");
    expect(closed).toBe(true);
    expect(await abandoned.promise).toBeInstanceOf(Error);
    const log = lines.join("");
    expect(log).toContain('"step":"hangs"');
    expect(log).toContain("overran its grace period");
    expect(log).toContain("closing after abandonment failed");
  });

  it("runs on SIGTERM, exits afterwards, and exits at once on a second signal", async () => {
    const exits: number[] = [];
    const release = deferred();
    const listenersBefore = process.listenerCount("SIGTERM");
    const shutdown = createShutdown({ logger: silentLogger(), exit: (code) => void exits.push(code) });
    shutdown.onShutdown(() => release.promise, "drain");
    const uninstall = shutdown.installSignalHandlers();
    try {
      process.emit("SIGTERM", "SIGTERM");
      expect(shutdown.started).toBe(true);
      process.emit("SIGINT", "SIGINT");
      expect(exits).toEqual([130]);

      release.resolve();
      await shutdown.run("ignored: already running");
      // The graceful exit follows run()'s completion by a microtask; await it rather than sleeping.
      await waitFor(() => exits.length >= 2, { description: "the graceful exit" });
      expect(exits).toEqual([130, 0]);
    } finally {
      uninstall();
    }
    expect(process.listenerCount("SIGTERM")).toBe(listenersBefore);
  });
});
