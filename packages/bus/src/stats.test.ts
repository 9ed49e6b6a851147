// stats(): what the broker says about a group's backlog and the dead letters (the metrics' source).
import { createEvent, EventTypes, exampleData } from "@retrain/contracts";
import { silentLogger } from "@retrain/telemetry";
import { deferred, startNatsServer, uniqueName, waitFor } from "@retrain/testing";
import { MemoryBus } from "./memory-bus.js";
import { connectNatsBus } from "./nats-bus.js";
import { NonRetryableError } from "./errors.js";
import type { EventBus } from "./port.js";

const event = (runId: string) =>
  createEvent(EventTypes.DataArrived, { ...exampleData(EventTypes.DataArrived), runId }, { source: "/retrain/test" });

/** Publishes 3 events to a group whose handler holds the first and dead-letters the rest once released. */
async function backlogAndDeadLetters(bus: EventBus): Promise<{ release(): void }> {
  const hold = deferred<void>();
  let first = true;
  await bus.subscribe({
    group: "stats",
    types: [EventTypes.DataArrived],
    handler: async () => {
      if (first) {
        first = false;
        await hold.promise;
      }
      throw new NonRetryableError("refused for the test", "Unusable");
    },
  });
  for (const runId of ["01A", "01B", "01C"]) await bus.publish(event(runId));
  return { release: () => hold.resolve() };
}

describe("EventBus stats", () => {
  it("memory: pending per group and type, then the dead letters", async () => {
    const bus = new MemoryBus({ logger: silentLogger() });
    try {
      const { release } = await backlogAndDeadLetters(bus);
      const before = await bus.stats();
      expect(before.consumers).toEqual([{ group: "stats", destination: EventTypes.DataArrived, pending: 2, unacknowledged: 0 }]);
      release();
      await waitFor(async () => (await bus.stats()).deadLetters === 3, { timeoutMs: 5_000 });
      expect((await bus.stats()).consumers[0]?.pending).toBe(0);
    } finally {
      await bus.close({ graceMs: 0 });
    }
  });

  it("NATS: consumer info of this process's durables and the dead-letter stream's depth", async () => {
    const server = await startNatsServer();
    const bus = await connectNatsBus({ servers: server.url, prefix: uniqueName("stats"), logger: silentLogger() });
    let released = (): void => undefined;
    try {
      const { release } = await backlogAndDeadLetters(bus);
      released = release;
      // One held by the handler; the client may have pulled another ahead: all three are either
      // pending with the broker or delivered and unacknowledged.
      const main = await waitFor(async () => {
        const found = (await bus.stats()).consumers.find((c) => c.destination.endsWith(`.${EventTypes.DataArrived}`) && !c.destination.includes("._replay."));
        return found !== undefined && found.unacknowledged >= 1 && found.pending + found.unacknowledged === 3 && found;
      }, { timeoutMs: 5_000 });
      expect(main.group).toBe("stats");
      expect((await bus.stats()).deadLetters).toBe(0);
      release();
      await waitFor(async () => (await bus.stats()).deadLetters === 3, { timeoutMs: 10_000 });
      // Each dead letter is stored, then the original is settled: the backlog empties right after.
      await waitFor(async () => {
        const after = (await bus.stats()).consumers.find((c) => c.destination === main.destination);
        return after?.pending === 0 && after.unacknowledged === 0;
      }, { timeoutMs: 5_000 });
    } finally {
      released();
      await bus.destroy();
      await bus.close({ graceMs: 0 });
      await server.stop();
    }
  });
});
