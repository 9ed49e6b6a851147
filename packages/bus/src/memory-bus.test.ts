import { silentLogger } from "@retrain/telemetry";
import { describeBusContract, type TestBus } from "./bus.contract.js";
import { MemoryBus } from "./memory-bus.js";

describeBusContract("in-memory", async () => {
  // One bus is one "deployment"; in-memory has no second process, so connect() hands out the same bus
  // behind a client whose close() only closes its own subscriptions.
  const shared = new MemoryBus({ logger: silentLogger() });
  return {
    ackWaitMs: 1_000,
    connect: async () => clientOf(shared),
    crash: async (bus) => bus.close({ graceMs: 0 }),
    teardown: () => shared.close({ graceMs: 0 }),
  };
});

function clientOf(shared: MemoryBus): TestBus {
  const subs: Array<{ close(o?: { graceMs?: number }): Promise<void> }> = [];
  return {
    kind: "memory",
    publish: (e, o) => shared.publish(e, o),
    publishRaw: (t, b) => shared.publishRaw(t, b),
    subscribe: async (o) => {
      const s = await shared.subscribe(o);
      subs.push(s);
      return s;
    },
    listDeadLetters: (o) => shared.listDeadLetters(o),
    replayDeadLetter: (id) => shared.replayDeadLetter(id),
    dropDeadLetter: (id) => shared.dropDeadLetter(id),
    close: async (o) => {
      await Promise.all(subs.map((s) => s.close(o)));
    },
  };
}

describe("MemoryBus specifics", () => {
  it("gives a group only what is published after it first subscribed (deliver policy new), and keeps its queue without subscribers", async () => {
    const { sampleEvent } = await import("./bus.contract.js");
    const bus = new MemoryBus({ logger: silentLogger() });
    const early = sampleEvent("before the group existed");
    await bus.publish(early);
    const seen: string[] = [];
    const first = await bus.subscribe({ group: "late", types: [early.type], handler: async (e) => void seen.push(e.id) });
    await first.close({ graceMs: 0 });
    const queued = sampleEvent("while nobody listened");
    await bus.publish(queued);
    const got = new Promise<string>((resolve) => {
      void bus.subscribe({ group: "late", types: [early.type], handler: async (e) => resolve(e.id) });
    });
    expect(await got).toBe(queued.id);
    expect(seen).not.toContain(early.id);
    await bus.close({ graceMs: 0 });
  });
});
