// Run control in the evaluator: a cancelled run is neither evaluated nor approvable; the reconciler's
// request re-publishes the run's decision exactly as first published. In-memory bus, filesystem store.
import { MemoryBus, type EventBus } from "@retrain/bus";
import { createEvent, deterministicEventId, EventTypes, ulid, type AnyEvent, type BlobRef, type CloudEvent, type EvaluationPolicy } from "@retrain/contracts";
import { keyVerifier } from "@retrain/runtime";
import { createHttpApp, startHttpServer, type RunningServer } from "@retrain/service-kit";
import { silentLogger } from "@retrain/telemetry";
import { Cleanup, tempDir, waitFor } from "@retrain/testing";
import { createEvaluator, type Evaluator } from "./app.js";
import { onModelTrained } from "./handlers/model-trained.js";
import { ScoringClient } from "./scoring-client.js";
import { binaryCsv, putBlob, startScoringFixture, trainModel, type ScoringFixture } from "./test-support.js";

/** A MemoryBus that keeps every publish with its transport id. */
class RecordingBus extends MemoryBus {
  readonly published: Array<{ event: AnyEvent; messageId: string }> = [];
  override async publish(...args: Parameters<EventBus["publish"]>) {
    this.published.push({ event: args[0], messageId: args[1]?.messageId ?? args[0].id });
    return super.publish(...args);
  }
  of(runId: string, type?: string): Array<{ event: AnyEvent; messageId: string }> {
    return this.published.filter((p) => (type === undefined || p.event.type === type) && "runId" in p.event.data && p.event.data.runId === runId);
  }
}

describe("evaluator run control: cancel and re-drive", () => {
  const cleanup = new Cleanup();
  let scoring: ScoringFixture;
  let bus: RecordingBus;
  let evaluator: Evaluator;
  let server: RunningServer;
  let model: BlobRef;
  let holdout: BlobRef;

  beforeAll(async () => {
    const dir = await tempDir("retrain-evaluator-");
    cleanup.add(() => dir.remove());
    scoring = await startScoringFixture(dir.path);
    cleanup.add(() => scoring.close());
    bus = new RecordingBus({ logger: silentLogger() });
    cleanup.add(() => bus.close({ graceMs: 0 }));
    model = await putBlob(scoring.store, "trainer/jobs/ws1/churn/strong/model.ilearner", trainModel(binaryCsv(800, 1), { learner: "Two-Class Logistic Regression", label: "label", task: "binary" }), "application/octet-stream");
    holdout = await putBlob(scoring.store, "trainer/jobs/ws1/churn/h1/holdout.csv", binaryCsv(400, 99), "text/csv");
    evaluator = createEvaluator({
      store: scoring.store,
      bus,
      logger: silentLogger(),
      verifyKey: keyVerifier({ adminKey: scoring.adminKey, workspaces: [{ id: "ws1", keys: { primary: scoring.workspaceKey } }] }),
      champions: new ScoringClient({ baseUrl: scoring.url, apiKey: scoring.adminKey, timeoutMs: 10_000 }),
    });
    const { app } = createHttpApp({ serviceName: "evaluator", logger: silentLogger(), routes: (r) => evaluator.registerRoutes(r) });
    server = await startHttpServer(app, { port: 0 });
    cleanup.add(() => server.close(0));
    await evaluator.start();
    cleanup.add(() => evaluator.stop(0));
  }, 60_000);
  afterAll(() => cleanup.run());

  function trained(policy: EvaluationPolicy): CloudEvent<typeof EventTypes.ModelTrained> {
    const runId = ulid();
    const plan = { pipeline: "churn", runSequence: 3, trainingWebService: { workspace: "ws1", service: "churn-training" }, evaluation: policy, targets: [], split: { fraction: 0.25, seed: 7 } };
    return createEvent(
      EventTypes.ModelTrained,
      {
        runId,
        pipeline: "churn",
        runSequence: 3,
        plan,
        jobId: `job-${runId}`,
        model: { modelId: `model-${runId}`, blob: model, learner: "Two-Class Logistic Regression", task: "binary", runId, runSequence: 3 },
        evaluation: holdout,
        holdout,
        metrics: {},
        lineage: { datasetSha256: "0".repeat(64), rows: 1600, trainingRows: 1200, holdoutRows: 400, learner: "Two-Class Logistic Regression", seed: 7, durationMs: 1 },
      },
      { source: "/retrain/trainer" },
    );
  }
  const cancel = (event: CloudEvent<typeof EventTypes.ModelTrained>) =>
    createEvent(EventTypes.RunCancelled, { runId: event.data.runId, pipeline: "churn", runSequence: 3, plan: event.data.plan, cancelledBy: "ws1/primary" }, { source: "/retrain/ingestion" });
  const call = (method: string, path: string, body?: unknown) =>
    fetch(`${server.url}${path}`, { method, headers: { authorization: `Bearer ${scoring.adminKey}`, "content-type": "application/json" }, ...(body !== undefined ? { body: JSON.stringify(body) } : {}) });

  it("a run cancelled while it waits for approval can no longer be approved (409 RunCancelled) and leaves the pending list", async () => {
    const event = trained({ mode: "manual", primaryMetric: "AUC" });
    await bus.publish(event);
    await waitFor(() => bus.of(event.data.runId, EventTypes.ModelAwaitingApproval).length === 1);
    await bus.publish(cancel(event));
    await waitFor(async () => (await evaluator.evaluations.get(event.data.runId))?.cancelled !== undefined);
    const approve = await call("POST", `/v1/runs/${event.data.runId}/approve`, {});
    expect(approve.status).toBe(409);
    expect(((await approve.json()) as { error: { code: string } }).error.code).toBe("RunCancelled");
    const pending = (await (await call("GET", "/v1/approvals?state=pending")).json()) as { value: Array<{ runId: string }> };
    expect(pending.value.map((p) => p.runId)).not.toContain(event.data.runId);
    expect(bus.of(event.data.runId, EventTypes.ModelApproved)).toEqual([]);
  });

  it("a run cancelled before its model arrived is not evaluated: no decision, no document", async () => {
    const event = trained({ mode: "automatic", primaryMetric: "AUC", threshold: 0.5 });
    await bus.publish(cancel(event));
    await waitFor(async () => (await scoring.store.head(`evaluator/cancelled/${event.data.runId}.json`)) !== undefined);
    // The handler is a plain function: called directly, its (absent) effect is complete when it returns.
    const context = { event, attempt: 1, group: "evaluator", signal: new AbortController().signal, logger: silentLogger(), heartbeat: () => undefined };
    await onModelTrained(event, context, { store: scoring.store, bus, evaluations: evaluator.evaluations, champions: new ScoringClient({ baseUrl: scoring.url, apiKey: scoring.adminKey }), source: "/test" });
    expect(await evaluator.evaluations.get(event.data.runId)).toBeUndefined();
    expect(bus.of(event.data.runId).map((p) => p.event.type)).toEqual([EventTypes.RunCancelled]);
  });

  it("re-publishes the run's ModelApproved, same id and time, with a fresh transport id, when asked to re-drive its promotion", async () => {
    const event = trained({ mode: "automatic", primaryMetric: "AUC", threshold: 0.5 });
    await bus.publish(event);
    const first = await waitFor(() => bus.of(event.data.runId, EventTypes.ModelApproved)[0]);
    await waitFor(async () => (await evaluator.evaluations.get(event.data.runId))?.published?.length === 1);
    const runId = event.data.runId;
    await bus.publish(createEvent(EventTypes.RunRedriveRequested, { runId, pipeline: "churn", stage: "promotion", attempt: 1 }, { source: "/retrain/registry", id: deterministicEventId(runId, "redrive", "p1") }));
    const again = await waitFor(() => bus.of(runId, EventTypes.ModelApproved)[1]);
    expect(again.event).toEqual(first.event);
    expect(again.messageId).not.toBe(first.messageId);
  });
});
