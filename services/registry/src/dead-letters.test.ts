// The dead-letter routes on the embedded default's in-memory bus (the NATS path, with the CLI and the
// registry as a process, is test/chaos/dead-letters.test.ts).
import { MemoryBus } from "@retrain/bus";
import { createEvent, EventTypes, exampleData, type AnyEvent } from "@retrain/contracts";
import { keyVerifier } from "@retrain/runtime";
import { createHttpApp, startHttpServer, type RunningServer } from "@retrain/service-kit";
import { silentLogger } from "@retrain/telemetry";
import { Cleanup, waitFor } from "@retrain/testing";
import { deadLetterWorkspace, registerDeadLetterRoutes } from "./dead-letters.js";

const ADMIN = "admin-key-0123456789";
const KEY_A = "ws-a-key-0123456789";
const KEY_B = "ws-b-key-0123456789";

function dataArrived(runId: string, workspace: string): AnyEvent {
  const data = exampleData(EventTypes.DataArrived);
  return createEvent(EventTypes.DataArrived, { ...data, runId, plan: { ...data.plan, trainingWebService: { workspace, service: "svc" } } }, { source: "/retrain/test" });
}

describe("registry dead-letter routes (memory bus, real HTTP)", () => {
  const cleanup = new Cleanup();
  let bus: MemoryBus;
  let server: RunningServer;
  const delivered: string[] = [];
  let failing = true;

  const call = async (method: string, path: string, key: string | null = ADMIN): Promise<{ status: number; body: Record<string, unknown> }> => {
    const response = await fetch(`${server.url}${path}`, { method, ...(key !== null ? { headers: { authorization: `Bearer ${key}` } } : {}) });
    const text = await response.text();
    return { status: response.status, body: text === "" ? {} : (JSON.parse(text) as Record<string, unknown>) };
  };
  const listed = async (key = ADMIN): Promise<Array<Record<string, unknown>>> => (await call("GET", "/v1/deadletters", key)).body["value"] as Array<Record<string, unknown>>;

  beforeAll(async () => {
    bus = new MemoryBus({ logger: silentLogger() });
    cleanup.add(() => bus.close({ graceMs: 0 }));
    await bus.subscribe({
      group: "g",
      types: [EventTypes.DataArrived],
      maxAttempts: 2,
      backoffMs: [0],
      handler: async (event) => {
        delivered.push(event.id);
        if (failing) throw new Error("downstream down");
      },
    });
    const verifyKey = keyVerifier({ adminKey: ADMIN, workspaces: [{ id: "ws-a", keys: { primary: KEY_A } }, { id: "ws-b", keys: { primary: KEY_B } }] });
    const { app } = createHttpApp({ serviceName: "registry", logger: silentLogger(), routes: (router) => registerDeadLetterRoutes(router, { bus, verifyKey }) });
    server = await startHttpServer(app, { port: 0 });
    cleanup.add(() => server.close(0));
    await bus.publish(dataArrived("run-a", "ws-a"));
    await bus.publish(dataArrived("run-b", "ws-b"));
    await waitFor(async () => (await bus.listDeadLetters()).length === 2, { description: "two dead letters" });
  });
  afterAll(() => cleanup.run());

  it("lists without payloads; shows one with its original event; 401 without a key; 404 unknown", async () => {
    const all = await listed();
    expect(all).toHaveLength(2);
    expect(all[0]).toMatchObject({ group: "g", reason: "MaxAttemptsExceeded", attempts: 2, eventType: EventTypes.DataArrived });
    expect(all[0]).not.toHaveProperty("payload");
    const shown = await call("GET", `/v1/deadletters/${String(all[0]?.["id"])}`);
    expect(shown.status).toBe(200);
    expect(shown.body["event"]).toMatchObject({ type: EventTypes.DataArrived, data: { runId: "run-a" } });
    expect((await call("GET", "/v1/deadletters", null)).status).toBe(401);
    expect((await call("GET", "/v1/deadletters/nope")).body).toEqual({ error: { code: "DeadLetterNotFound", message: "No dead letter 'nope' found." } });
    expect((await call("GET", "/v1/deadletters?limit=0")).status).toBe(400);
  });

  it("a workspace key sees only its own workspace's dead letters, and may neither replay nor drop", async () => {
    const a = await listed(KEY_A);
    expect(a.map((d) => d["eventId"])).toEqual([dataArrived("run-a", "ws-a").id]);
    const bOnly = (await listed()).find((d) => d["eventId"] === dataArrived("run-b", "ws-b").id);
    expect((await call("GET", `/v1/deadletters/${String(bOnly?.["id"])}`, KEY_A)).status).toBe(404);
    expect((await call("POST", `/v1/deadletters/${String(a[0]?.["id"])}/replay`, KEY_A)).body).toMatchObject({ error: { code: "Forbidden" } });
    expect((await call("DELETE", `/v1/deadletters/${String(a[0]?.["id"])}`, KEY_A)).status).toBe(403);
  });

  it("replay (admin) delivers the same event id to the group again and removes the entry; drop removes without delivering", async () => {
    failing = false;
    const [first, second] = await listed();
    const replayed = await call("POST", `/v1/deadletters/${String(first?.["id"])}/replay`);
    expect(replayed).toMatchObject({ status: 202, body: { replayed: first?.["id"], group: "g", eventId: first?.["eventId"] } });
    await waitFor(() => delivered.filter((id) => id === first?.["eventId"]).length === 3, { description: "the replayed delivery" });
    expect((await call("DELETE", `/v1/deadletters/${String(second?.["id"])}`)).status).toBe(204);
    expect(await listed()).toEqual([]);
    expect((await call("DELETE", `/v1/deadletters/${String(second?.["id"])}`)).status).toBe(404);
  });

  it("attributes a dead letter to the workspace its event names; malformed payloads to none (admin only)", () => {
    const base = { id: "1", group: "g", reason: "SchemaInvalid" as const, description: "", attempts: 1, payloadEncoding: "utf8" as const, deadLetteredAt: "" };
    expect(deadLetterWorkspace({ ...base, payload: JSON.stringify(dataArrived("r", "ws-x")) })).toBe("ws-x");
    expect(deadLetterWorkspace({ ...base, payload: JSON.stringify({ data: { workspace: "ws-y" } }) })).toBe("ws-y");
    expect(deadLetterWorkspace({ ...base, payload: "{not json" })).toBeUndefined();
    expect(deadLetterWorkspace({ ...base, payload: "AAAA", payloadEncoding: "base64" })).toBeUndefined();
  });
});
