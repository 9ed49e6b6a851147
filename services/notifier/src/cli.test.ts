// The `retrain` subscription commands, run in-process against a real notifier over HTTP.
import { FileSystemBlobStore } from "@retrain/blob";
import { MemoryBus } from "@retrain/bus";
import { retrain } from "@retrain/cli/testing";
import { createEvent, EventTypes, exampleData, ulid } from "@retrain/contracts";
import { apiKeyVerifier, createHttpApp, startHttpServer, type Principal } from "@retrain/service-kit";
import { silentLogger } from "@retrain/telemetry";
import { Cleanup, tempDir, waitFor } from "@retrain/testing";
import { createNotifier, type Notifier } from "./app.js";
import { startWebhookReceiver } from "./testing.js";

const KEY = "key-of-workspace-a-0123456789";

describe("retrain subscribe / subscriptions / deliveries / redeliver / unsubscribe", () => {
  const cleanup = new Cleanup();
  let bus: MemoryBus;
  let notifier: Notifier;
  let url = "";
  const cli = (...argv: string[]) => retrain(argv, { url, key: KEY, workspace: "ws-a" });

  beforeAll(async () => {
    const dir = await tempDir();
    cleanup.add(() => dir.remove());
    bus = new MemoryBus({ logger: silentLogger() });
    cleanup.add(() => bus.close({ graceMs: 0 }));
    notifier = createNotifier({
      store: new FileSystemBlobStore({ root: dir.path }),
      bus,
      logger: silentLogger(),
      verifyKey: apiKeyVerifier<Principal>([[KEY, { name: "ws-a/primary", workspace: "ws-a", role: "user" }]]),
      allowHttpHosts: ["127.0.0.1"],
      retryScheduleMs: [20],
      scanIntervalMs: 100,
    });
    await notifier.start();
    cleanup.add(() => notifier.stop(0));
    const { app } = createHttpApp({ serviceName: "notifier", logger: silentLogger(), routes: (router) => notifier.registerRoutes(router) });
    const server = await startHttpServer(app, { port: 0, host: "127.0.0.1", logger: silentLogger() });
    cleanup.add(() => server.close(0));
    url = server.url;
  });
  afterAll(() => cleanup.run());

  it("subscribes (secret printed once), lists, shows the dead-letter list, redelivers and unsubscribes", async () => {
    const receiver = await startWebhookReceiver({ statuses: [503] });
    cleanup.add(() => receiver.close());
    const subscribed = await cli("subscribe", receiver.url, "--types", "EndpointUpdated,ModelRejected", "--pipeline", "bike-rental", "--target", "bike-rental/store-042");
    expect(subscribed.stderr).toBe("");
    expect(subscribed.code).toBe(0);
    const id = /subscription (\S+):/.exec(subscribed.stdout)?.[1] ?? "";
    expect(subscribed.stdout).toContain("EndpointUpdated, ModelRejected");
    expect(subscribed.stdout).toContain("pipeline=bike-rental target=classic:ws-a/bike-rental/store-042");
    expect(subscribed.stdout).toMatch(/secret \(shown once.*\): whsec_[A-Za-z0-9+/]+=*/);

    const listed = await cli("subscriptions");
    expect(listed.code).toBe(0);
    expect(listed.stdout).toMatch(new RegExp(`${id}\\s+EndpointUpdated,ModelRejected`));
    expect((await cli("--json", "subscriptions")).json<{ value: Array<{ id: string; secret?: string }> }>().value).toEqual([expect.objectContaining({ id })]);

    const example = exampleData(EventTypes.EndpointUpdated);
    const event = createEvent(EventTypes.EndpointUpdated, { ...example, runId: ulid(), target: { ...example.target, workspace: "ws-a" } as typeof example.target }, { source: "/retrain/classic-promoter" });
    await bus.publish(event);
    const dead = await waitFor(async () => {
      const run = await cli("deliveries", id, "--dead");
      return run.stdout.includes(event.id) && run;
    }, { description: "the dead-letter list to show the delivery" });
    expect(dead.stdout).toContain(event.id);
    expect(dead.stdout).toMatch(/#1 .*HTTP 503/);
    expect(dead.stdout).toMatch(/#2 .*HTTP 503/);

    receiver.respondWith([200]);
    const redelivered = await cli("redeliver", id, event.id);
    expect(redelivered.code).toBe(0);
    expect(redelivered.stdout).toContain("queued again");
    await waitFor(async () => (await cli("--json", "deliveries", id)).json<{ value: Array<{ state: string }> }>().value[0]?.state === "delivered", { description: "the replay" });
    expect((await cli("deliveries", id)).stdout).toMatch(/#3 \(replay 1\) .*HTTP 200/);
    expect((await cli("deliveries", id, "--dead")).stdout).toContain("no dead deliveries");

    expect((await cli("unsubscribe", id)).code).toBe(0);
    expect((await cli("subscriptions")).stdout).toContain("no subscriptions");
  });

  it("fails with the server's code and reason, or a usage error", async () => {
    const plain = await cli("subscribe", "http://hooks.example.com/x", "--types", "EndpointUpdated");
    expect(plain.code).toBe(1);
    expect(plain.stderr).toContain("HttpsRequired");
    const badTarget = await cli("subscribe", "https://hooks.example.com/x", "--types", "EndpointUpdated", "--target", "a/b/c/d");
    expect(badTarget.code).toBe(2);
    const missing = await cli("deliveries", "no-such-subscription");
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain("404 NotFound");
  });
});
