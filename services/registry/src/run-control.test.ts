// The registry's run control: rollback (an approval of its own), the target list, paging, a cancelled
// run's outcome, and the reconciler (re-drive requests past a stage deadline, stuck after N). Memory
// bus, filesystem store, real HTTP; the reconciler runs on the test's clock (its timer is off).
import { FileSystemBlobStore } from "@retrain/blob";
import { watchedStore } from "@retrain/blob/testing";
import { MemoryBus, type EventBus } from "@retrain/bus";
import { createEvent, deterministicEventId, EventTypes, exampleData, targetKey, type AnyEvent, type CloudEvent, type EndpointTarget, type ModelRef, type RunPlan } from "@retrain/contracts";
import { keyVerifier } from "@retrain/runtime";
import { createHttpApp, startHttpServer, type RunningServer } from "@retrain/service-kit";
import { silentLogger } from "@retrain/telemetry";
import { Cleanup, tempDir, waitFor } from "@retrain/testing";
import { createRegistry, OPEN_RUN_INDEX_MARKER, REBUILD_MARKER, runSummaries, type Registry } from "./app.js";
import { OPEN_RUNS_PREFIX, openRunBlobName } from "./projections.js";

const SOURCE = "/retrain/test";
const ADMIN = "admin-key-0123456789";
const WS_KEY = "contoso-key-0123456789";
const t0 = Date.parse("2026-11-28T10:00:00.000Z");
const at = (offsetMs: number): Date => new Date(t0 + offsetMs);

const target: EndpointTarget = { kind: "classic", workspace: "ws-contoso", webService: "churn", endpoint: "store-1", resourceName: "Churn [trained model]" };
const key = targetKey(target);
const plan = (runSequence: number): RunPlan => ({ ...exampleData(EventTypes.DataArrived).plan, pipeline: "churn", runSequence, targets: [target] });
const model = (runId: string, runSequence: number): ModelRef => ({ ...exampleData(EventTypes.ModelTrained).model, modelId: `model-${runId}`, runId, runSequence });

/** A MemoryBus that keeps every publish with its transport id. */
class RecordingBus extends MemoryBus {
  readonly published: Array<{ event: AnyEvent; messageId: string }> = [];
  override async publish(...args: Parameters<EventBus["publish"]>) {
    this.published.push({ event: args[0], messageId: args[1]?.messageId ?? args[0].id });
    return super.publish(...args);
  }
  of<T extends AnyEvent["type"]>(type: T): Array<CloudEvent<T>> {
    return this.published.map((p) => p.event).filter((e): e is CloudEvent<T> & AnyEvent => e.type === type) as Array<CloudEvent<T>>;
  }
}

describe("registry run control: rollback, targets, paging, cancel, the reconciler", () => {
  const cleanup = new Cleanup();
  let bus: RecordingBus;
  let store: FileSystemBlobStore;
  let registry: Registry;
  let server: RunningServer;

  beforeAll(async () => {
    const dir = await tempDir("retrain-registry-rc-");
    cleanup.add(() => dir.remove());
    store = new FileSystemBlobStore({ root: dir.path });
    bus = new RecordingBus({ logger: silentLogger() });
    cleanup.add(() => bus.close({ graceMs: 0 }));
    registry = createRegistry({
      store,
      bus,
      logger: silentLogger(),
      verifyKey: keyVerifier({ adminKey: ADMIN, workspaces: [{ id: "ws-contoso", keys: { primary: WS_KEY } }] }),
      reconciler: { intervalMs: 0, maxAttempts: 2, deadlinesMs: { training: 60_000, evaluation: 30_000, promotion: 10_000 } },
    });
    await registry.start();
    cleanup.add(() => registry.stop(0));
    const { app } = createHttpApp({ serviceName: "registry", logger: silentLogger(), routes: (router) => registry.registerRoutes(router) });
    server = await startHttpServer(app, { port: 0 });
    cleanup.add(() => server.close(0));
  });
  afterAll(() => cleanup.run());

  async function call(method: string, path: string, body?: unknown, apiKey = ADMIN): Promise<{ status: number; body: Record<string, unknown> }> {
    const response = await fetch(`${server.url}${path}`, {
      method,
      headers: { authorization: `Bearer ${apiKey}`, ...(body !== undefined ? { "content-type": "application/json" } : {}) },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
    return { status: response.status, body: (await response.json()) as Record<string, unknown> };
  }

  /** A run's events up to `until`, at `start` + a few seconds per stage. */
  function events(runId: string, runSequence: number, start: number, until: "received" | "trained" | "approved" | "updated", revision = runSequence): AnyEvent[] {
    const run = { runId, pipeline: "churn", runSequence };
    const m = model(runId, runSequence);
    const p = plan(runSequence);
    const out: AnyEvent[] = [createEvent(EventTypes.DataArrived, { ...exampleData(EventTypes.DataArrived), ...run, plan: p }, { source: SOURCE, time: at(start) })];
    if (until === "received") return out;
    out.push(createEvent(EventTypes.ModelTrained, { ...exampleData(EventTypes.ModelTrained), ...run, plan: p, model: m }, { source: SOURCE, time: at(start + 5_000) }));
    if (until === "trained") return out;
    out.push(createEvent(EventTypes.ModelApproved, { ...exampleData(EventTypes.ModelApproved), ...run, plan: p, model: m }, { source: SOURCE, time: at(start + 8_000) }));
    if (until === "approved") return out;
    out.push(createEvent(EventTypes.EndpointUpdated, { ...run, target, model: m, revision, kind: "promotion", updatedAt: at(start + 10_000).toISOString() }, { source: SOURCE, time: at(start + 10_000) }));
    return out;
  }
  const record = async (list: AnyEvent[]) => {
    for (const event of list) await registry.record(event);
  };

  it("rolls a target back: admin only, 404 for a run that never served it, a ModelApproved of kind rollback with its own run and id", async () => {
    await record(events("RUNA", 1, 0, "updated"));
    await record(events("RUNB", 2, 100_000, "updated"));
    expect((await call("POST", "/v1/targets/rollback", { target: key, to: "RUNA" }, WS_KEY)).status).toBe(403);
    expect((await call("POST", "/v1/targets/rollback", { target: key, to: "NOSUCHRUN" })).status).toBe(404);
    expect((await call("POST", "/v1/targets/rollback", { target: "classic:ws-contoso/nope/x", to: "RUNA" })).status).toBe(404);
    expect((await call("POST", "/v1/targets/rollback", { target: key })).status).toBe(400);

    const accepted = await call("POST", "/v1/targets/rollback", { target: key, to: "RUNA", reason: "B misbehaves" });
    expect(accepted.status).toBe(202);
    const { rollbackRunId, eventId } = accepted.body as { rollbackRunId: string; eventId: string };
    expect(accepted.body).toMatchObject({ target: key, to: "RUNA" });
    const approval = bus.of(EventTypes.ModelApproved).find((e) => e.data.runId === rollbackRunId);
    expect(approval?.id).toBe(eventId);
    expect(eventId).toBe(deterministicEventId(rollbackRunId, EventTypes.ModelApproved));
    expect(eventId).not.toBe(deterministicEventId("RUNA", EventTypes.ModelApproved));
    expect(approval?.data).toMatchObject({ kind: "rollback", approvedBy: "admin", pipeline: "churn", runSequence: 1, model: { modelId: "model-RUNA", runId: "RUNA" }, plan: { targets: [target] } });
    expect(approval?.data.reason).toContain("B misbehaves");

    // The registry consumes its own approval: the rollback is a run that starts with it.
    const run = await waitFor(async () => {
      const r = await call("GET", `/v1/runs/${rollbackRunId}`);
      return r.status === 200 ? r : undefined;
    });
    expect(run.body).toMatchObject({ outcome: "approved", trigger: { kind: "rollback", by: "admin" }, pipeline: "churn" });
    // The promoter's answer completes it, and the history and the target list show it.
    await registry.record(
      createEvent(
        EventTypes.EndpointUpdated,
        { runId: rollbackRunId, pipeline: "churn", runSequence: 1, target, model: model("RUNA", 1), revision: 3, kind: "rollback", updatedAt: at(300_000).toISOString() },
        { source: SOURCE, time: at(300_000) },
      ),
    );
    const history = await call("GET", `/v1/targets/history?target=${encodeURIComponent(key)}`);
    expect((history.body["value"] as Array<Record<string, unknown>>).map((h) => [h["revision"], h["modelId"], h["kind"]])).toEqual([
      [1, "model-RUNA", "promotion"],
      [2, "model-RUNB", "promotion"],
      [3, "model-RUNA", "rollback"],
    ]);
    const targets = await call("GET", "/v1/targets", undefined, WS_KEY);
    expect(targets.body["value"]).toEqual([
      expect.objectContaining({ target: key, workspace: "ws-contoso", kind: "classic", revision: 3, modelId: "model-RUNA", changes: 3, current: expect.objectContaining({ kind: "rollback", runId: rollbackRunId }) }),
    ]);
    expect((await call("GET", `/v1/runs/${rollbackRunId}`)).body).toMatchObject({ outcome: "promoted", terminal: true });
  });

  it("pages the run list (top/skip, count, nextLink) and shows a cancelled run as cancelled and terminal", async () => {
    await record(events("RUNC", 3, 400_000, "trained"));
    await registry.record(createEvent(EventTypes.RunCancelled, { runId: "RUNC", pipeline: "churn", runSequence: 3, plan: plan(3), cancelledBy: "ws-contoso/primary", reason: "oops" }, { source: SOURCE, time: at(406_000) }));
    const cancelled = await call("GET", "/v1/runs/RUNC");
    expect(cancelled.body).toMatchObject({ outcome: "cancelled", terminal: true });
    expect((cancelled.body["stages"] as Array<Record<string, unknown>>).at(-1)).toMatchObject({ stage: "cancelled", durationMs: 1_000 });
    expect(((await call("GET", "/v1/runs?outcome=cancelled")).body["value"] as Array<Record<string, unknown>>).map((r) => r["runId"])).toEqual(["RUNC"]);
    // A cancel that raced the run's last promotion cannot undo it: the run shows as promoted.
    await record(events("RUNX", 9, 450_000, "updated"));
    await registry.record(createEvent(EventTypes.RunCancelled, { runId: "RUNX", pipeline: "churn", runSequence: 9, plan: plan(9), cancelledBy: "ws-contoso/primary" }, { source: SOURCE, time: at(460_001) }));
    expect((await call("GET", "/v1/runs/RUNX")).body).toMatchObject({ outcome: "promoted", terminal: true });

    const first = await call("GET", "/v1/runs?pipeline=churn&top=2");
    expect(first.body["count"]).toBe(5);
    expect((first.body["value"] as unknown[]).length).toBe(2);
    const next = String(first.body["nextLink"]);
    expect(next).toContain("skip=2");
    const second = (await (await fetch(next, { headers: { authorization: `Bearer ${ADMIN}` } })).json()) as Record<string, unknown>;
    expect((second["value"] as unknown[]).length).toBe(2);
    const third = (await (await fetch(String(second["nextLink"]), { headers: { authorization: `Bearer ${ADMIN}` } })).json()) as Record<string, unknown>;
    expect(third["nextLink"]).toBeUndefined();
    const all = [first.body, second, third].flatMap((page) => (page["value"] as Array<Record<string, unknown>>).map((r) => r["runId"]));
    expect(new Set(all).size).toBe(5);
    expect((await call("GET", "/v1/runs?top=0")).status).toBe(400);
  });

  it("re-drives a run past its stage deadline (one request per attempt), reports it stuck after the last, and forgets it once it moves on", async () => {
    await record(events("RUND", 4, 500_000, "approved"));
    const approvedAt = 508_000;
    // Within the promotion deadline: nothing.
    expect((await registry.reconcile(at(approvedAt + 9_000))).get("RUND")).toBeUndefined();
    expect((await registry.reconcile(at(approvedAt + 10_000))).get("RUND")).toBe("redriven");
    // Again within the deadline of the last request: nothing; then the second (last) attempt.
    expect((await registry.reconcile(at(approvedAt + 15_000))).get("RUND")).toBeUndefined();
    expect((await registry.reconcile(at(approvedAt + 20_000))).get("RUND")).toBe("redriven");
    const requests = bus.of(EventTypes.RunRedriveRequested).filter((e) => e.data.runId === "RUND");
    expect(requests.map((e) => [e.data.stage, e.data.attempt, e.data.pipeline])).toEqual([
      ["promotion", 1, "churn"],
      ["promotion", 2, "churn"],
    ]);
    expect(new Set(requests.map((e) => e.id)).size).toBe(2);
    expect((await registry.reconcile(at(approvedAt + 30_000))).get("RUND")).toBe("stuck");
    expect((await registry.reconcile(at(approvedAt + 90_000))).get("RUND")).toBeUndefined();

    const stuck = await call("GET", "/v1/stuck", undefined, WS_KEY);
    expect(stuck.body["value"]).toEqual([expect.objectContaining({ runId: "RUND", pipeline: "churn", stage: "promotion", attempts: 2, outcome: "approved" })]);
    const timeline = await call("GET", "/v1/runs/RUND");
    expect((timeline.body["stages"] as Array<Record<string, unknown>>).map((s) => s["stage"])).toEqual(["received", "trained", "approved", "redrive-requested", "redrive-requested", "stuck"]);
    expect(timeline.body["stuck"]).toMatchObject({ stage: "promotion", attempts: 2 });

    // The promotion comes in after all: the run ends and is not stuck any more.
    await registry.record(
      createEvent(EventTypes.EndpointUpdated, { runId: "RUND", pipeline: "churn", runSequence: 4, target, model: model("RUND", 4), revision: 4, kind: "promotion", updatedAt: at(approvedAt + 95_000).toISOString() }, { source: SOURCE, time: at(approvedAt + 95_000) }),
    );
    expect((await call("GET", "/v1/stuck")).body["value"]).toEqual([]);
    expect((await registry.reconcile(at(approvedAt + 200_000))).get("RUND")).toBeUndefined();
  });

  it("pauses while a rebuild runs (half-rebuilt runs would look late), then goes on", async () => {
    await record(events("RUNH", 8, 700_000, "approved"));
    await store.put(REBUILD_MARKER, "{}");
    expect((await registry.reconcile(at(700_000 + 60_000))).get("RUNH")).toBeUndefined();
    await store.delete(REBUILD_MARKER);
    expect((await registry.reconcile(at(700_000 + 60_000))).get("RUNH")).toBe("redriven");
  });

  it("waits for nobody while a person has to approve, and re-drives training and evaluation by their own deadlines", async () => {
    await record(events("RUNE", 5, 600_000, "received"));
    await record(events("RUNF", 6, 600_000, "trained"));
    const run = { runId: "RUNG", pipeline: "churn", runSequence: 7 };
    await registry.record(createEvent(EventTypes.ModelAwaitingApproval, { ...exampleData(EventTypes.ModelAwaitingApproval), ...run, plan: plan(7), model: model("RUNG", 7) }, { source: SOURCE, time: at(600_000) }));
    const actions = await registry.reconcile(at(600_000 + 40_000));
    expect(actions.get("RUNE")).toBeUndefined(); // training: 60 s
    expect(actions.get("RUNF")).toBe("redriven"); // evaluation: 30 s after ModelTrained at +5 s
    expect(actions.get("RUNG")).toBeUndefined();
    const later = await registry.reconcile(at(600_000 + 61_000));
    expect(later.get("RUNE")).toBe("redriven");
    expect(later.get("RUNG")).toBeUndefined();
    const stages = bus.of(EventTypes.RunRedriveRequested).filter((e) => ["RUNE", "RUNF"].includes(e.data.runId)).map((e) => [e.data.runId, e.data.stage]);
    expect(stages).toEqual([
      ["RUNF", "evaluation"],
      ["RUNE", "training"],
    ]);
  });

  it("keeps a marker per run not yet ended and walks only those; builds the markers once for runs recorded before the index", async () => {
    const openMarkers = async (): Promise<string[]> => {
      const out: string[] = [];
      for await (const blob of store.list(OPEN_RUNS_PREFIX)) out.push(blob.name);
      return out;
    };
    await record(events("RUNI", 9, 800_000, "updated"));
    await record(events("RUNJ", 10, 800_000, "approved"));
    expect(await openMarkers()).toContain(openRunBlobName("RUNJ"));
    expect(await openMarkers()).not.toContain(openRunBlobName("RUNI"));
    expect(await openMarkers()).not.toContain(openRunBlobName("RUNA"));

    // A store as a registry before the index left it: no markers, no index marker.
    for (const name of await openMarkers()) await store.delete(name);
    await store.delete(OPEN_RUN_INDEX_MARKER);
    const upgraded = createRegistry({
      store,
      bus,
      logger: silentLogger(),
      verifyKey: keyVerifier({ adminKey: ADMIN, workspaces: [] }),
      reconciler: { intervalMs: 0, maxAttempts: 2, deadlinesMs: { training: 60_000, evaluation: 30_000, promotion: 10_000 } },
    });
    expect((await upgraded.reconcile(at(800_000 + 60_000))).get("RUNJ")).toBe("redriven");
    expect(await openMarkers()).toContain(openRunBlobName("RUNJ"));
    expect(await openMarkers()).not.toContain(openRunBlobName("RUNI"));
    expect(await store.head(OPEN_RUN_INDEX_MARKER)).toBeDefined();

    // The run ends: its marker goes with its last event.
    await record(events("RUNJ", 10, 800_000, "updated"));
    expect(await openMarkers()).not.toContain(openRunBlobName("RUNJ"));
  });

  it("lists runs reading only those that changed since the last listing", async () => {
    const { store: counting, reads } = watchedStore(store);
    const summaries = runSummaries(counting);
    const first = await summaries.values();
    expect(first.length).toBeGreaterThan(5);
    expect(reads).toHaveLength(first.length);
    reads.length = 0;
    expect(await summaries.values()).toEqual(first);
    expect(reads).toEqual([]);

    await record(events("RUNK", 11, 900_000, "received"));
    await record(events("RUNK", 11, 900_000, "trained"));
    const after = await summaries.values();
    expect(after.find((r) => r.runId === "RUNK")).toMatchObject({ outcome: "running", runSequence: 11 });
    expect(reads).toHaveLength(1);
    expect(after).toHaveLength(first.length + 1);
  });
});
