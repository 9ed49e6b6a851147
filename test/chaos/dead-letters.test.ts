// Dead-letter tooling end to end: a consumer group that always fails dead-letters an event on a real
// nats-server; the registry (its own process) serves it over HTTP; `retrain dlq list|show|replay|drop`
// reads, replays (the original CloudEvent id under a fresh transport id, to that group only) and drops.
import { randomBytes } from "node:crypto";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { connectNatsBus, type NatsBus } from "@retrain/bus";
import { retrain } from "@retrain/cli/testing";
import { createEvent, EventTypes, exampleData, type AnyEvent } from "@retrain/contracts";
import { silentLogger } from "@retrain/telemetry";
import { Cleanup, startNatsServer, tempDir, uniqueName, waitFor } from "@retrain/testing";
import { buildAll, startService, type ServiceProcess } from "../e2e/processes.js";

const ADMIN = randomBytes(24).toString("base64url");
const KEY = randomBytes(24).toString("base64url");
const OTHER = randomBytes(24).toString("base64url");

interface Listed {
  value: Array<{ id: string; group: string; reason: string; attempts: number; eventId: string | null; eventType: string | null; description: string }>;
}

function dataArrived(runId: string): AnyEvent {
  const data = exampleData(EventTypes.DataArrived);
  const plan = { ...data.plan, trainingWebService: { workspace: "dlq", service: "svc" } };
  return createEvent(EventTypes.DataArrived, { ...data, runId, plan }, { source: "/retrain/test" });
}

describe("dead letters: registry HTTP and `retrain dlq` over nats-server", () => {
  const cleanup = new Cleanup();
  let bus: NatsBus;
  let registry: ServiceProcess;
  let failing = true;
  const handled: Array<{ id: string; attempt: number }> = [];
  const cli = (argv: string[], key = ADMIN) => retrain(argv, { url: registry.url, key });

  beforeAll(async () => {
    buildAll();
    const nats = await startNatsServer();
    cleanup.add(() => nats.stop());
    const dir = await tempDir();
    cleanup.add(() => dir.remove());
    const config = join(dir.path, "retrain.yaml");
    await writeFile(config, ["workspaces:", `  - { id: dlq, keys: { primary: ${KEY} } }`, `  - { id: other, keys: { primary: ${OTHER} } }`].join("\n"));
    const prefix = uniqueName("dlq");
    registry = await startService("registry", "REGISTRY_PORT", {
      ...process.env,
      BUS: "nats",
      NATS_URL: nats.url,
      NATS_PREFIX: prefix,
      BLOB: "filesystem",
      BLOB_ROOT: join(dir.path, "blobs"),
      RETRAIN_CONFIG: config,
      RETRAIN_ADMIN_KEY: ADMIN,
      LOG_LEVEL: "warn",
    });
    cleanup.add(() => registry.process.stop());
    bus = await connectNatsBus({ servers: nats.url, prefix, logger: silentLogger() });
    cleanup.add(() => bus.close({ graceMs: 0 }));
    await bus.subscribe({
      group: "dlq-test",
      types: [EventTypes.DataArrived],
      maxAttempts: 3,
      backoffMs: [20],
      handler: async (event, context) => {
        handled.push({ id: event.id, attempt: context.attempt });
        if (failing) throw new Error("the downstream system is down");
      },
    });
  }, 120_000);
  afterAll(() => cleanup.run(), 30_000);

  it("list and show: what failed, why, after how many attempts, and the original event", async () => {
    const event = dataArrived("run-dlq-1");
    await bus.publish(event);
    const listed = await waitFor(
      async () => {
        const run = await cli(["--json", "dlq", "list", "--group", "dlq-test"]);
        return run.code === 0 && run.json<Listed>().value.find((d) => d.eventId === event.id);
      },
      { timeoutMs: 20_000, intervalMs: 100, description: "the dead letter to be listed" },
    );
    expect(listed).toMatchObject({ group: "dlq-test", reason: "MaxAttemptsExceeded", attempts: 3, eventType: EventTypes.DataArrived });
    expect(listed.description).toContain("the downstream system is down");
    expect(handled.filter((h) => h.id === event.id).map((h) => h.attempt)).toEqual([1, 2, 3]);

    const human = await cli(["dlq", "list"]);
    expect(human.code).toBe(0);
    expect(human.stdout).toMatch(/^ID\s+GROUP\s+REASON\s+ATTEMPTS/);
    expect(human.stdout).toContain("MaxAttemptsExceeded");

    const shown = await cli(["dlq", "show", listed.id]);
    expect(shown.code).toBe(0);
    expect(shown.stdout).toContain("attempts    3");
    expect(shown.stdout).toContain(`"id": "${event.id}"`);
    const json = (await cli(["--json", "dlq", "show", listed.id])).json<{ event: AnyEvent; payloadEncoding: string }>();
    expect(json.event).toMatchObject({ id: event.id, type: EventTypes.DataArrived, data: { runId: "run-dlq-1" } });
  });

  it("keys: none → 401; a workspace key sees its workspace's letters only and may not replay or drop (403); unknown id → 404", async () => {
    const letters = (await cli(["--json", "dlq", "list"])).json<Listed>().value;
    const id = letters[0]?.id ?? "";
    expect(id).not.toBe("");
    const anonymous = await fetch(`${registry.url}/v1/deadletters`);
    expect(anonymous.status).toBe(401);
    expect((await cli(["--json", "dlq", "list"], KEY)).json<Listed>().value.map((d) => d.id)).toContain(id);
    expect((await cli(["--json", "dlq", "list"], OTHER)).json<Listed>().value).toEqual([]);
    const hidden = await cli(["dlq", "show", id], OTHER);
    expect(hidden.code).toBe(1);
    expect(hidden.stderr).toContain("DeadLetterNotFound");
    const replay = await cli(["dlq", "replay", id], KEY);
    expect(replay.code).toBe(1);
    expect(replay.stderr).toContain("403 Forbidden");
    const drop = await fetch(`${registry.url}/v1/deadletters/${id}`, { method: "DELETE", headers: { authorization: `Bearer ${KEY}` } });
    expect(drop.status).toBe(403);
    const missing = await fetch(`${registry.url}/v1/deadletters/999999`, { headers: { authorization: `Bearer ${ADMIN}` } });
    expect(missing.status).toBe(404);
    expect(await missing.json()).toMatchObject({ error: { code: "DeadLetterNotFound" } });
  });

  it("replay delivers the original event id again to its group (a fresh transport id inside the broker's duplicate window) and removes the entry", async () => {
    const letter = (await cli(["--json", "dlq", "list", "--group", "dlq-test"])).json<Listed>().value[0];
    expect(letter).toBeDefined();
    if (letter === undefined || letter.eventId === null) return;
    const before = handled.length;
    failing = false;
    const replayed = await cli(["dlq", "replay", letter.id]);
    expect(replayed.code).toBe(0);
    expect(replayed.stdout).toContain(`replayed dead letter ${letter.id} to group dlq-test (event ${letter.eventId})`);
    // The original was published moments ago with its event id as the transport id: only a fresh
    // transport id gets the replay past the broker's duplicate window.
    const again = await waitFor(() => handled.slice(before).find((h) => h.id === letter.eventId), { timeoutMs: 20_000, description: "the replayed delivery" });
    expect(again.attempt).toBe(1);
    expect((await cli(["--json", "dlq", "list", "--group", "dlq-test"])).json<Listed>().value.map((d) => d.id)).not.toContain(letter.id);
  });

  it("drop removes a dead letter without delivering it; dropping it again is 404", async () => {
    failing = true;
    const event = dataArrived("run-dlq-2");
    await bus.publish(event);
    const letter = await waitFor(
      async () => (await cli(["--json", "dlq", "list", "--group", "dlq-test"])).json<Listed>().value.find((d) => d.eventId === event.id),
      { timeoutMs: 20_000, intervalMs: 100, description: "the second dead letter" },
    );
    const dropped = await cli(["dlq", "drop", letter.id]);
    expect(dropped.code).toBe(0);
    expect(dropped.stdout).toBe(`dropped dead letter ${letter.id}\n`);
    expect((await cli(["--json", "dlq", "list"])).json<Listed>().value.map((d) => d.id)).not.toContain(letter.id);
    const twice = await cli(["dlq", "drop", letter.id]);
    expect(twice.code).toBe(1);
    expect(twice.stderr).toContain("DeadLetterNotFound");
  });
});
