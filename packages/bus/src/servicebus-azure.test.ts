// The bus contract against real Service Bus brokers, where one is reachable:
// - a real namespace when SERVICEBUS_CONNECTION_STRING is set (entities created by the adapter
//   through the administration API, under a topic unique to the run and deleted afterwards);
// - the official Service Bus emulator in containers, where a container engine answers.
// Otherwise each tier is reported as skipped, with the reason in its name.
import { existsSync } from "node:fs";
import { ServiceBusAdministrationClient } from "@azure/service-bus";
import { silentLogger } from "@retrain/telemetry";
import { containerRuntimeAvailable, startServiceBusEmulator, testEnvironment, uniqueName, waitFor } from "@retrain/testing";
import { describeBusContract, sampleEvent, type TestBus } from "./bus.contract.js";
import { connectServiceBusBus, type ServiceBusBus } from "./servicebus-bus.js";

const connectionString = testEnvironment()["SERVICEBUS_CONNECTION_STRING"];

if (connectionString === undefined || connectionString === "") {
  describe.skip("EventBus contract: Azure Service Bus (real namespace)", () => {
    it("skipped: SERVICEBUS_CONNECTION_STRING is not set (a SAS connection string with Manage rights runs this tier)", () => undefined);
  });
} else {
  describeBusContract("Azure Service Bus (real namespace)", async () => {
    const topic = uniqueName("contract");
    const clients: ServiceBusBus[] = [];
    return {
      // Service Bus's shortest lock duration: a crashed consumer's message comes back after it.
      ackWaitMs: 5_000,
      connect: async (): Promise<TestBus> => {
        const bus = await connectServiceBusBus({ connectionString, topic, createEntities: true, logger: silentLogger(), lockDurationMs: 5_000 });
        clients.push(bus);
        return bus;
      },
      crash: async (bus) => (bus as ServiceBusBus).abandon(),
      teardown: async () => {
        for (const c of clients) await c.close({ graceMs: 0 }).catch(() => undefined);
        await new ServiceBusAdministrationClient(connectionString).deleteTopic(topic).catch(() => undefined);
      },
    };
  });
}

const TOPIC = "retrain-emulator";

/**
 * Whether a container engine is configured at all, decided synchronously because jest decides
 * skipping when it collects tests; the test itself then asks testcontainers, which must agree.
 */
function containerEngineConfigured(): boolean {
  const env = testEnvironment();
  if (env["RETRAIN_TEST_NO_CONTAINERS"] === "1") return false;
  const runtimeDir = env["XDG_RUNTIME_DIR"];
  return (
    Boolean(env["DOCKER_HOST"]) ||
    existsSync("/var/run/docker.sock") ||
    (runtimeDir !== undefined && (existsSync(`${runtimeDir}/docker.sock`) || existsSync(`${runtimeDir}/podman/podman.sock`)))
  );
}

const withContainers = containerEngineConfigured();

describe("Service Bus emulator (testcontainers)", () => {
  (withContainers ? it : it.skip)(
    `publishes, retries, dead-letters and replays through the official emulator${withContainers ? "" : " — skipped: no container engine (no Docker socket, no DOCKER_HOST)"}`,
    async () => {
      expect(await containerRuntimeAvailable()).toBe(true);
      const emulator = await startServiceBusEmulator([{ name: TOPIC, subscriptions: ["emulator-a"] }]);
      const bus = await connectServiceBusBus({ connectionString: emulator.connectionString, topic: TOPIC, createEntities: false, logger: silentLogger() });
      try {
        const event = sampleEvent("emulator");
        let fail = true;
        const attempts: number[] = [];
        const handled = new Promise<string>((resolve) => {
          void bus.subscribe({
            group: "emulator-a",
            types: [event.type],
            maxAttempts: 2,
            backoffMs: [10],
            handler: async (e, ctx) => {
              attempts.push(ctx.attempt);
              if (fail) throw new Error("emulated outage");
              resolve(e.id);
            },
          });
        });
        await bus.publish(event);
        const [dead] = await waitFor(async () => {
          const list = await bus.listDeadLetters({ group: "emulator-a" });
          return list.length > 0 && list;
        }, { timeoutMs: 30_000 });
        expect(attempts).toEqual([1, 2]);
        expect(dead).toMatchObject({ reason: "MaxAttemptsExceeded", eventId: event.id });
        fail = false;
        await bus.replayDeadLetter(dead?.id ?? "");
        expect(await handled).toBe(event.id);
      } finally {
        await bus.close({ graceMs: 0 });
        await emulator.stop();
      }
    },
    300_000,
  );
});
