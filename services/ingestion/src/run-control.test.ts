// Run control in ingestion: pause holds triggers and resume starts them in order; cancel publishes
// RunCancelled once the run is known not to have ended; the reconciler's request re-publishes the
// run's own events with the same ids. In-memory bus, filesystem store, real HTTP.
import { FileSystemBlobStore } from "@retrain/blob";
import { MemoryBus, type EventBus } from "@retrain/bus";
import { createEvent, deterministicEventId, EventTypes, exampleData, type AnyEvent } from "@retrain/contracts";
import { keyVerifier } from "@retrain/runtime";
import { createHttpApp, startHttpServer } from "@retrain/service-kit";
import { silentLogger } from "@retrain/telemetry";
import { Cleanup, tempDir, waitFor } from "@retrain/testing";
import { createIngestion, type Ingestion } from "./app.js";

const KEY = "ws-a-primary-key-0123456789";
const OTHER = "ws-b-primary-key-0123456789";
type Json = Record<string, unknown>;

/** A MemoryBus that keeps every publish with its transport id. */
class RecordingBus extends MemoryBus {
  readonly published: Array<{ event: AnyEvent; messageId: string }> = [];
  override async publish(...args: Parameters<EventBus["publish"]>) {
    this.published.push({ event: args[0], messageId: args[1]?.messageId ?? args[0].id });
    return super.publish(...args);
  }
  of(type: string, runId?: string): AnyEvent[] {
    return this.published.map((p) => p.event).filter((e) => e.type === type && (runId === undefined || ("runId" in e.data && e.data.runId === runId)));
  }
}

const csv = (seed: number): string => ["x1,x2,label", ...Array.from({ length: 20 }, (_, i) => `${(i * seed) % 97},${i % 13},${i % 2}`)].join("\n") + "\n";

describe("ingestion run control: pause / resume, cancel, re-drive", () => {
  const cleanup = new Cleanup();
  let bus: RecordingBus;
  let ingestion: Ingestion;
  let url: string;

  beforeAll(async () => {
    const dir = await tempDir();
    cleanup.add(() => dir.remove());
    const store = new FileSystemBlobStore({ root: dir.path });
    bus = new RecordingBus({ logger: silentLogger() });
    cleanup.add(() => bus.close({ graceMs: 0 }));
    ingestion = createIngestion({
      store,
      bus,
      logger: silentLogger(),
      verifyKey: keyVerifier({ workspaces: [{ id: "ws-a", keys: { primary: KEY } }, { id: "ws-b", keys: { primary: OTHER } }] }),
      container: "retrain",
    });
    const { app } = createHttpApp({ serviceName: "ingestion", logger: silentLogger(), routes: (r) => ingestion.registerRoutes(r) });
    const server = await startHttpServer(app, { port: 0 });
    cleanup.add(() => server.close(0));
    url = server.url;
    await ingestion.start();
    cleanup.add(() => ingestion.stop(0));
    for (const name of ["churn", "sales"]) {
      const put = await call("PUT", `/v1/pipelines/${name}`, {
        trainingWebService: { workspace: "ws-a", service: "churn-training" },
        evaluation: { mode: "automatic", primaryMetric: "AUC" },
        targets: [{ kind: "classic", workspace: "ws-a", webService: "churn", endpoint: "ep1", resourceName: "Churn [trained model]" }],
      });
      expect(put.status).toBe(201);
    }
  });
  afterAll(() => cleanup.run());

  function call(method: string, path: string, body?: unknown, key = KEY): Promise<Response> {
    return fetch(`${url}${path}`, {
      method,
      headers: { authorization: `Bearer ${key}`, ...(body !== undefined ? { "content-type": "application/json" } : {}) },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
  }
  async function upload(pipeline: string, content: string): Promise<{ status: number; body: Json }> {
    const response = await fetch(`${url}/v1/pipelines/${pipeline}/datasets`, { method: "PUT", headers: { authorization: `Bearer ${KEY}`, "content-type": "text/csv" }, body: content });
    return { status: response.status, body: (await response.json()) as Json };
  }

  it("holds triggers while paused (202 held, no run) and starts them in arrival order on resume", async () => {
    const paused = await call("POST", "/v1/pipelines/churn/pause");
    expect(paused.status).toBe(200);
    expect(await paused.json()).toMatchObject({ name: "churn", paused: true, pausedBy: "ws-a/primary", heldTriggers: 0 });
    expect((await call("POST", "/v1/pipelines/churn/pause", undefined, OTHER)).status).toBe(404);

    const first = await upload("churn", csv(1));
    const second = await upload("churn", csv(2));
    const again = await upload("churn", csv(1));
    const rerun = await call("POST", "/v1/pipelines/churn/runs", {});
    expect([first.status, second.status, again.status]).toEqual([202, 202, 202]);
    expect(first.body).toEqual({ held: true, pipeline: "churn", triggerId: expect.any(String) });
    expect(first.body["runId"]).toBeUndefined();
    // Identical content while paused is the same held trigger.
    expect(again.body["triggerId"]).toBe(first.body["triggerId"]);
    // A re-run with no dataset yet is refused as before; nothing was started.
    expect(rerun.status).toBe(409);
    expect(bus.of(EventTypes.DataArrived)).toHaveLength(0);
    const listed = (await (await call("GET", "/v1/pipelines")).json()) as { value: Json[] };
    expect(listed.value.find((p) => p["name"] === "churn")).toMatchObject({ paused: true, heldTriggers: 2 });
    expect(listed.value.find((p) => p["name"] === "sales")).toMatchObject({ paused: false, heldTriggers: 0 });

    const resumed = await call("POST", "/v1/pipelines/churn/resume");
    expect(resumed.status).toBe(200);
    const body = (await resumed.json()) as { pipeline: Json; started: Array<{ runId: string; runSequence: number; triggerId: string }> };
    expect(body.pipeline).toMatchObject({ name: "churn", paused: false, heldTriggers: 0 });
    expect(body.started.map((s) => [s.triggerId, s.runSequence])).toEqual([
      [first.body["triggerId"], 1],
      [second.body["triggerId"], 2],
    ]);
    await waitFor(() => bus.of(EventTypes.DataArrived).length === 2);
    expect(bus.of(EventTypes.DataArrived).map((e) => ("runId" in e.data ? e.data.runId : ""))).toEqual(body.started.map((s) => s.runId));
    // Resuming a running pipeline starts nothing; uploads start runs again.
    expect(((await (await call("POST", "/v1/pipelines/churn/resume")).json()) as { started: unknown[] }).started).toEqual([]);
    const live = await upload("churn", csv(3));
    expect(live.status).toBe(202);
    expect(live.body).toMatchObject({ runSequence: 3, deduplicated: false });
  });

  it("holds schedule ticks while paused as one trigger, started once by the resume", async () => {
    const put = await call("PUT", "/v1/pipelines/nightly", {
      trainingWebService: { workspace: "ws-a", service: "churn-training" },
      evaluation: { mode: "automatic", primaryMetric: "AUC" },
      schedule: "* * * * *",
    });
    expect(put.status).toBe(201);
    const first = await upload("nightly", csv(31));
    expect(first.status).toBe(202);
    expect((await call("POST", "/v1/pipelines/nightly/pause")).status).toBe(200);
    const ticks = [new Date("2026-03-02T10:00:00Z"), new Date("2026-03-02T10:01:00Z"), new Date("2026-03-02T10:02:00Z")];
    for (const at of ticks) expect(await ingestion.tick(at)).toEqual([]);
    expect(await (await call("GET", "/v1/pipelines/nightly")).json()).toMatchObject({ paused: true, heldTriggers: 1 });
    const resumed = (await (await call("POST", "/v1/pipelines/nightly/resume")).json()) as { started: Array<{ runSequence: number; trigger: { kind: string } }> };
    expect(resumed.started.map((s) => [s.runSequence, s.trigger.kind])).toEqual([[2, "schedule"]]);
  });

  it("cancels a run (RunCancelled with the run's plan, once), 404 for an unknown run, 409 once the run ended", async () => {
    const started = await upload("sales", csv(11));
    const runId = String(started.body["runId"]);
    const cancel = await call("POST", `/v1/pipelines/sales/runs/${runId}/cancel`, { reason: "wrong month" });
    expect(cancel.status).toBe(200);
    expect(await cancel.json()).toMatchObject({ runId, pipeline: "sales", cancelled: true });
    const cancelled = bus.of(EventTypes.RunCancelled, runId);
    expect(cancelled).toHaveLength(1);
    expect(cancelled[0]?.data).toMatchObject({ runId, pipeline: "sales", runSequence: 1, cancelledBy: "ws-a/primary", reason: "wrong month", plan: { pipeline: "sales" } });
    expect(cancelled[0]?.id).toBe(deterministicEventId(runId, EventTypes.RunCancelled));
    // Cancelling again is answered the same and publishes the same event (a retry of a lost publish).
    expect((await call("POST", `/v1/pipelines/sales/runs/${runId}/cancel`, {})).status).toBe(200);
    expect(new Set(bus.of(EventTypes.RunCancelled, runId).map((e) => e.id)).size).toBe(1);
    expect((await call("POST", "/v1/pipelines/sales/runs/01JNOSUCHRUN0000000000000/cancel", {})).status).toBe(404);

    const ended = await upload("sales", csv(12));
    const endedId = String(ended.body["runId"]);
    await bus.publish(
      createEvent(EventTypes.TrainingFailed, { ...exampleData(EventTypes.TrainingFailed), runId: endedId, pipeline: "sales", runSequence: 2 }, { source: "/retrain/trainer" }),
    );
    await waitFor(async () => (await ingestion.runs.run("sales", endedId))?.ended !== undefined, { description: "ingestion to record that the run ended" });
    const refused = await call("POST", `/v1/pipelines/sales/runs/${endedId}/cancel`, {});
    expect(refused.status).toBe(409);
    expect(((await refused.json()) as { error: { code: string } }).error.code).toBe("RunTerminal");
  });

  it("re-publishes a run's DataArrived (same id and time, fresh transport id) when the reconciler asks for its training stage", async () => {
    const started = await upload("sales", csv(21));
    const runId = String(started.body["runId"]);
    await waitFor(() => bus.of(EventTypes.DataArrived, runId).length === 1);
    const original = bus.of(EventTypes.DataArrived, runId)[0];
    const command = createEvent(EventTypes.RunRedriveRequested, { runId, pipeline: "sales", stage: "training", attempt: 1 }, { source: "/retrain/registry", id: deterministicEventId(runId, "redrive", "1") });
    await bus.publish(command);
    await waitFor(() => bus.of(EventTypes.DataArrived, runId).length === 2);
    const [first, second] = bus.published.filter((p) => p.event.type === EventTypes.DataArrived && p.event.id === original?.id);
    expect(second?.event).toEqual(first?.event);
    expect(second?.messageId).not.toBe(first?.messageId);
  });
});
