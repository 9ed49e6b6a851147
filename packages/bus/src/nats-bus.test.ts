import { silentLogger } from "@retrain/telemetry";
import { startNatsServer, uniqueName, waitFor, type NatsServerFixture } from "@retrain/testing";
import { describeBusContract, type TestBus } from "./bus.contract.js";
import { connectNatsBus, type NatsBus } from "./nats-bus.js";

describeBusContract("NATS JetStream (real nats-server)", async () => {
  const server: NatsServerFixture = await startNatsServer();
  const prefix = uniqueName("contract");
  const clients: NatsBus[] = [];
  return {
    ackWaitMs: 1_000,
    connect: async (): Promise<TestBus> => {
      const bus = await connectNatsBus({ servers: server.url, prefix, logger: silentLogger() });
      clients.push(bus);
      return bus;
    },
    crash: async (bus) => (bus as NatsBus).abandon(),
    teardown: async () => {
      await clients[0]?.destroy().catch(() => undefined);
      for (const c of clients) await c.close({ graceMs: 0 }).catch(() => undefined);
      await server.stop();
    },
  };
});

describe("NatsBus specifics", () => {
  it("creates file-backed event and dead-letter streams with the duplicate window, and refuses group names that are not subject tokens", async () => {
    const { connect } = await import("@nats-io/transport-node");
    const { jetstreamManager } = await import("@nats-io/jetstream");
    const server = await startNatsServer();
    const prefix = uniqueName("spec");
    const bus = await connectNatsBus({ servers: server.url, prefix, logger: silentLogger(), duplicateWindowMs: 60_000 });
    const nc = await connect({ servers: server.url });
    try {
      const jsm = await jetstreamManager(nc);
      const name = `RETRAIN_${prefix.toUpperCase().replace(/-/g, "_")}`;
      const events = await jsm.streams.info(name);
      expect(events.config.subjects).toEqual([`${prefix}.>`]);
      expect(events.config.storage).toBe("file");
      expect(events.config.duplicate_window).toBe(60_000 * 1_000_000);
      const dlq = await jsm.streams.info(`${name}_DLQ`);
      expect(dlq.config.subjects).toEqual([`${prefix}_dlq.>`]);
      await expect(bus.subscribe({ group: "a.b", types: [], handler: async () => undefined })).rejects.toMatchObject({ name: "BusError", code: "InvalidArgument" });
    } finally {
      await nc.close();
      await bus.destroy();
      await bus.close({ graceMs: 0 });
      await server.stop();
    }
  });

  it("subscribing while the server is away keeps trying, and the consumer exists once the server is back", async () => {
    const { createEvent, EventTypes, exampleData } = await import("@retrain/contracts");
    const server = await startNatsServer();
    const prefix = uniqueName("away");
    const bus = await connectNatsBus({ servers: server.url, prefix, logger: silentLogger() });
    try {
      await server.kill();
      const received: string[] = [];
      const subscribing = bus.subscribe({ group: "patient", types: [EventTypes.TrainingFailed], handler: async (event) => void received.push(event.id) });
      await server.restart();
      const subscription = await subscribing;
      const event = createEvent(EventTypes.TrainingFailed, exampleData(EventTypes.TrainingFailed), { source: "/test" });
      await bus.publish(event);
      await waitFor(() => received.length === 1, { timeoutMs: 20_000 });
      expect(received).toEqual([event.id]);
      await subscription.close({ graceMs: 0 });
    } finally {
      await bus.destroy();
      await bus.close({ graceMs: 0 });
      await server.stop();
    }
  }, 90_000);
});

