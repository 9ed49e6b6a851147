import { silentLogger } from "@retrain/telemetry";
import { startNatsServer, uniqueName, type NatsServerFixture } from "@retrain/testing";
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
