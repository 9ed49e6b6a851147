import { setupTelemetry, silentLogger, withSpan, type Telemetry } from "@retrain/telemetry";
import { EventTypes } from "@retrain/contracts";
import { deferred, startServiceBusPeer, uniqueName, waitFor, type ServiceBusPeer } from "@retrain/testing";
import { describeBusContract, sampleEvent, type TestBus } from "./bus.contract.js";
import { NonRetryableError } from "./errors.js";
import { connectServiceBusBus, type ServiceBusBus } from "./servicebus-bus.js";

// The AMQP test peer stands in for a namespace: subscriptions appear when first addressed (the
// administration API is HTTPS, which it does not serve), and their rules are set by the adapter
// over AMQP exactly as on Azure.
describeBusContract("Azure Service Bus (AMQP test peer)", async () => {
  const ackWaitMs = 1_000;
  const peer: ServiceBusPeer = await startServiceBusPeer({ autoCreateSubscriptions: true, lockDurationMs: ackWaitMs });
  const topic = uniqueName("contract");
  peer.createTopic(topic, { duplicateDetectionWindowMs: 120_000 });
  const clients: ServiceBusBus[] = [];
  return {
    ackWaitMs,
    connect: async (): Promise<TestBus> => {
      const bus = await connectServiceBusBus({ connectionString: peer.connectionString, topic, createEntities: false, logger: silentLogger() });
      clients.push(bus);
      return bus;
    },
    crash: async (bus) => (bus as ServiceBusBus).abandon(),
    teardown: async () => {
      for (const c of clients) await c.close({ graceMs: 0 }).catch(() => undefined);
      await peer.stop();
    },
  };
});

describe("ServiceBusBus specifics (AMQP test peer)", () => {
  let peer: ServiceBusPeer;
  let telemetry: Telemetry;
  beforeAll(async () => {
    telemetry = setupTelemetry({ serviceName: "servicebus-spec", exporter: "memory", env: {} });
    peer = await startServiceBusPeer({ autoCreateSubscriptions: true });
  });
  afterAll(async () => {
    await peer.stop();
    await telemetry.shutdown();
  });

  it("routes by event type through subscription rules, with trace context and the event id as message id", async () => {
    const topic = uniqueName("spec");
    peer.createTopic(topic);
    const bus = await connectServiceBusBus({ connectionString: peer.connectionString, topic, createEntities: false, logger: silentLogger() });
    try {
      const event = sampleEvent("routed");
      const got = new Promise<string>((resolve) => {
        void bus.subscribe({ group: "wants-it", types: [event.type], handler: async (e) => resolve(e.id) });
      });
      await bus.subscribe({ group: "does-not", types: ["retrain.model.trained.v1"], handler: async () => undefined });
      await bus.publish(event);
      expect(await got).toBe(event.id);
      expect(peer.counts(`${topic}/Subscriptions/does-not`)).toMatchObject({ active: 0, locked: 0 });
      const { ServiceBusClient } = await import("@azure/service-bus");
      const raw = new ServiceBusClient(peer.connectionString);
      try {
        const receiver = raw.createReceiver(topic, "inspect");
        // A fresh subscription holds nothing published before it: publish again, then peek.
        await receiver.peekMessages(1);
        const second = sampleEvent("peeked");
        await withSpan("upstream", {}, async () => {
          await bus.publish(second);
        });
        const [message] = await receiver.peekMessages(1);
        expect(message?.messageId).toBe(second.id);
        expect(message?.subject).toBe(second.type);
        expect(message?.applicationProperties?.["retrain-event-type"]).toBe(second.type);
        expect(message?.applicationProperties?.["traceparent"]).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-0[01]$/);
        expect(message?.applicationProperties?.["Diagnostic-Id"]).toBe(message?.applicationProperties?.["traceparent"]);
        await receiver.close();
      } finally {
        await raw.close();
      }
      await expect(bus.subscribe({ group: "not/valid", types: [], handler: async () => undefined })).rejects.toMatchObject({ name: "BusError", code: "InvalidArgument" });
      await expect(bus.replayDeadLetter("nonsense")).rejects.toMatchObject({ name: "BusError", code: "NotFound" });
      expect(await bus.dropDeadLetter("wants-it:999")).toBe(false);
    } finally {
      await bus.close({ graceMs: 0 });
    }
  });

  it("stats(): this process's locked messages, the rest of the group's backlog, then the dead letters (counted by peeking)", async () => {
    const topic = uniqueName("stats");
    peer.createTopic(topic);
    const bus = await connectServiceBusBus({ connectionString: peer.connectionString, topic, createEntities: false, logger: silentLogger() });
    const hold = deferred();
    try {
      let first = true;
      await bus.subscribe({
        group: "stats",
        types: [EventTypes.TrainingFailed],
        handler: async () => {
          if (first) {
            first = false;
            await hold.promise;
          }
          throw new NonRetryableError("refused for the test", "Unusable");
        },
      });
      for (const note of ["a", "b", "c"]) await bus.publish(sampleEvent(note));
      const held = await waitFor(async () => {
        const found = (await bus.stats()).consumers.find((c) => c.group === "stats");
        return found?.unacknowledged === 1 && found.pending === 2 && found;
      }, { timeoutMs: 5_000 });
      expect(held.destination).toBe(`${topic}/Subscriptions/stats`);
      expect((await bus.stats()).deadLetters).toBe(0);
      hold.resolve();
      await waitFor(async () => (await bus.stats()).deadLetters === 3, { timeoutMs: 10_000 });
      expect((await bus.stats()).consumers).toEqual([{ group: "stats", destination: `${topic}/Subscriptions/stats`, pending: 0, unacknowledged: 0 }]);
    } finally {
      hold.resolve();
      await bus.close({ graceMs: 0 });
    }
  });

  it("keeps renewing the lock of a handler that outlives it: delivered once, completed", async () => {
    const shortLocks = await startServiceBusPeer({ autoCreateSubscriptions: true, lockDurationMs: 1_000 });
    const topic = uniqueName("renew");
    shortLocks.createTopic(topic);
    const bus = await connectServiceBusBus({ connectionString: shortLocks.connectionString, topic, createEntities: false, logger: silentLogger() });
    try {
      const attempts: number[] = [];
      const done = deferred();
      await bus.subscribe({
        group: "slow",
        types: [EventTypes.TrainingFailed],
        ackWaitMs: 1_000,
        // No dedupe: a redelivery after a lost lock would run the handler again and show here.
        inbox: { seen: async () => false },
        handler: async (_e, ctx) => {
          attempts.push(ctx.attempt);
          await new Promise((resolve) => setTimeout(resolve, 2_500)); // time-based by design: the handler must outlive its lock more than twice over.
          done.resolve();
        },
      });
      await bus.publish(sampleEvent("slow"));
      await done.promise;
      await waitFor(() => {
        const counts = shortLocks.counts(`${topic}/Subscriptions/slow`);
        return counts.active === 0 && counts.locked === 0;
      });
      expect(attempts).toEqual([1]);
    } finally {
      await bus.close({ graceMs: 0 });
      await shortLocks.stop();
    }
  });

  it("carries on after the connection drops: the client reconnects, publishing and receiving resume", async () => {
    const topic = uniqueName("drop");
    peer.createTopic(topic);
    const bus = await connectServiceBusBus({ connectionString: peer.connectionString, topic, createEntities: false, logger: silentLogger() });
    try {
      const seen: string[] = [];
      await bus.subscribe({ group: "survivor", types: [EventTypes.TrainingFailed], handler: async (e) => void seen.push(e.id) });
      const before = sampleEvent("before");
      await bus.publish(before);
      await waitFor(() => seen.includes(before.id));
      peer.dropConnections();
      // The receiver reconnects on its own; a send in flight at the drop would wait out the
      // client's operation timeout, so publish once the client is back.
      await waitFor(() => peer.connections() > 0, { timeoutMs: 30_000, description: "the client to reconnect" });
      const after = sampleEvent("after");
      await bus.publish(after);
      await waitFor(() => seen.includes(after.id), { timeoutMs: 30_000 });
      expect(seen.filter((id) => id === after.id)).toHaveLength(1);
    } finally {
      await bus.close({ graceMs: 0 });
    }
  }, 60_000);

  it("translates a missing topic into BusError ConnectionFailed/NotFound at connect", async () => {
    await expect(connectServiceBusBus({ connectionString: peer.connectionString, topic: uniqueName("missing"), createEntities: false, logger: silentLogger() })).rejects.toMatchObject({
      name: "BusError",
      code: "NotFound",
      retryable: false,
    });
  });
});
