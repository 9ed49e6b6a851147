import { MemoryBus } from "@retrain/bus";
import { createEvent, deterministicEventId, EventTypes, ulid, type AnyEvent, type BlobRef, type CloudEvent, type EndpointTarget, type EvaluationPolicy, type ModelTrained } from "@retrain/contracts";
import { readCsvBytes } from "@retrain/ml";
import { keyVerifier } from "@retrain/runtime";
import { createHttpApp, startHttpServer, type RunningServer } from "@retrain/service-kit";
import { silentLogger } from "@retrain/telemetry";
import { Cleanup, tempDir, waitFor } from "@retrain/testing";
import { createEvaluator, type Evaluator } from "./app.js";
import type { EvaluationDocument } from "./evaluation.js";
import { onModelTrained } from "./handlers/model-trained.js";
import { scoreOnHoldout } from "./holdout.js";
import { ScoringClient } from "./scoring-client.js";
import { binaryCsv, putBlob, regressionCsv, startScoringFixture, trainModel, type ScoringFixture } from "./test-support.js";

type Decision = CloudEvent<typeof EventTypes.ModelApproved> | CloudEvent<typeof EventTypes.ModelRejected> | CloudEvent<typeof EventTypes.ModelAwaitingApproval>;

const classic = (webService: string): EndpointTarget => ({ kind: "classic", workspace: "ws1", webService, endpoint: "default", resourceName: `${webService} [trained model]` });

describe("evaluator: challenger vs champions on the same holdout (in-memory bus, filesystem store, real scoring host over HTTP)", () => {
  const cleanup = new Cleanup();
  let scoring: ScoringFixture;
  let bus: MemoryBus;
  let evaluator: Evaluator;
  let server: RunningServer;
  let champions: ScoringClient;
  const decisions: Decision[] = [];
  const blobs: Record<string, BlobRef> = {};
  const bytes: Record<string, Buffer> = {};

  beforeAll(async () => {
    const dir = await tempDir("retrain-evaluator-");
    cleanup.add(() => dir.remove());
    scoring = await startScoringFixture(dir.path);
    cleanup.add(() => scoring.close());
    bus = new MemoryBus({ logger: silentLogger() });
    cleanup.add(() => bus.close({ graceMs: 0 }));

    // Real models: a strong and a weak binary classifier, a good and a bad regression.
    bytes["strong"] = trainModel(binaryCsv(800, 1), { learner: "Two-Class Logistic Regression", label: "label", task: "binary" });
    bytes["weak"] = trainModel(binaryCsv(800, 2, [0.2, 0.3, -1]), { learner: "Two-Class Logistic Regression", label: "label", task: "binary" });
    bytes["good"] = trainModel(regressionCsv(600, 3), { learner: "Linear Regression", label: "y", task: "regression" });
    bytes["bad"] = trainModel(regressionCsv(600, 4, [1, 0]), { learner: "Linear Regression", label: "y", task: "regression" });
    for (const [name, model] of Object.entries(bytes)) {
      blobs[name] = await putBlob(scoring.store, `trainer/jobs/ws1/churn/${name}/model.ilearner`, model, "application/octet-stream");
    }
    blobs["binaryHoldout"] = await putBlob(scoring.store, "trainer/jobs/ws1/churn/h1/holdout.csv", binaryCsv(400, 99), "text/csv");
    blobs["regressionHoldout"] = await putBlob(scoring.store, "trainer/jobs/ws1/bikes/h2/holdout.csv", regressionCsv(400, 98), "text/csv");
    // Champions: web services serving those models.
    await scoring.publishClassic("champ-weak", "trainer/jobs/ws1/churn/weak/model.ilearner");
    await scoring.publishClassic("champ-strong", "trainer/jobs/ws1/churn/strong/model.ilearner");
    await scoring.publishClassic("champ-good", "trainer/jobs/ws1/churn/good/model.ilearner");
    await scoring.publishClassic("champ-bad", "trainer/jobs/ws1/churn/bad/model.ilearner");

    champions = new ScoringClient({ baseUrl: scoring.url, apiKey: scoring.adminKey, timeoutMs: 10_000 });
    evaluator = createEvaluator({
      store: scoring.store,
      bus,
      logger: silentLogger(),
      verifyKey: keyVerifier({ adminKey: scoring.adminKey, workspaces: [{ id: "ws1", keys: { primary: scoring.workspaceKey } }, { id: "ws2", keys: { primary: scoring.otherWorkspaceKey } }] }),
      champions,
    });
    const { app } = createHttpApp({ serviceName: "evaluator", logger: silentLogger(), routes: (r) => evaluator.registerRoutes(r) });
    server = await startHttpServer(app, { port: 0 });
    cleanup.add(() => server.close(0));
    await bus.subscribe({
      group: "observer",
      types: [EventTypes.ModelApproved, EventTypes.ModelRejected, EventTypes.ModelAwaitingApproval],
      handler: async (event) => void decisions.push(event as Decision),
    });
    await evaluator.start();
    cleanup.add(() => evaluator.stop(0));
  }, 60_000);
  afterAll(() => cleanup.run());

  function trainedEvent(options: { model: string; holdout: "binary" | "regression"; policy: EvaluationPolicy; targets: EndpointTarget[] }): CloudEvent<typeof EventTypes.ModelTrained> {
    const runId = ulid();
    const binary = options.holdout === "binary";
    const data: ModelTrained = {
      runId,
      pipeline: binary ? "churn" : "bikes",
      runSequence: 7,
      plan: {
        pipeline: binary ? "churn" : "bikes",
        runSequence: 7,
        trainingWebService: { workspace: "ws1", service: binary ? "churn-training" : "bikes-training" },
        evaluation: options.policy,
        targets: options.targets,
        split: { fraction: 0.25, seed: 7 },
      },
      jobId: `job-${runId}`,
      model: {
        modelId: `model-${runId}`,
        blob: blobs[options.model] as BlobRef,
        learner: binary ? "Two-Class Logistic Regression" : "Linear Regression",
        task: binary ? "binary" : "regression",
        runId,
        runSequence: 7,
      },
      evaluation: blobs[`${options.holdout}Holdout`] as BlobRef,
      holdout: blobs[`${options.holdout}Holdout`] as BlobRef,
      metrics: {},
      lineage: { datasetSha256: "0".repeat(64), rows: 1600, trainingRows: 1200, holdoutRows: 400, learner: binary ? "Two-Class Logistic Regression" : "Linear Regression", seed: 7, durationMs: 1 },
    };
    return createEvent(EventTypes.ModelTrained, data, { source: "/retrain/trainer" });
  }

  const decisionsOf = (runId: string) => decisions.filter((d) => d.data.runId === runId);
  const decisionOf = (runId: string) => waitFor(() => decisionsOf(runId)[0], { description: `a decision on ${runId}`, timeoutMs: 20_000 });
  const call = (method: string, path: string, key: string | undefined, body?: unknown) =>
    fetch(`${server.url}${path}`, {
      method,
      headers: { ...(key !== undefined ? { authorization: `Bearer ${key}` } : {}), ...(body !== undefined ? { "content-type": "application/json" } : {}) },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
  const holdoutFrame = async (name: string) => readCsvBytes((await scoring.store.getBuffer(name)).body);

  it("approves a challenger better than the champion, with both metric sets scored on the same holdout rows", async () => {
    const event = trainedEvent({ model: "strong", holdout: "binary", policy: { mode: "automatic", primaryMetric: "AUC", threshold: 0.6, minGain: { kind: "absolute", value: 0.01 } }, targets: [classic("champ-weak")] });
    await bus.publish(event);
    const decision = await decisionOf(event.data.runId);
    expect(decision.type).toBe(EventTypes.ModelApproved);
    const frame = await holdoutFrame(blobs["binaryHoldout"]?.name ?? "");
    expect(decision.data.challenger).toEqual(scoreOnHoldout(bytes["strong"] as Buffer, frame, "strong"));
    expect(decision.data.champions).toEqual([{ target: "classic:ws1/champ-weak/default", modelId: expect.any(String), metrics: scoreOnHoldout(bytes["weak"] as Buffer, frame, "weak") }]);
    expect(decision.data.champions[0]?.metrics["AUC"]).toBeLessThan(decision.data.challenger["AUC"] ?? 0);
    expect(decision.data.reason).toMatch(/^AUC 0\.\d+ ≥ threshold 0\.6 and beats the champion's 0\.\d+ by 0\.\d+ \(≥ 0\.01\)$/);
    if (decision.type === EventTypes.ModelApproved) expect(decision.data.kind).toBe("evaluation");
    expect(decision.id).toBe(deterministicEventId(event.data.runId, EventTypes.ModelApproved));

    // The relay empties the outbox right after the publish.
    const view = await waitFor(async () => {
      const answer = (await (await call("GET", `/v1/runs/${event.data.runId}/evaluation`, scoring.workspaceKey)).json()) as Record<string, unknown>;
      return answer["pendingEvents"] === 0 && answer;
    });
    expect(view).toMatchObject({ runId: event.data.runId, state: "approved", reason: decision.data.reason });
  });

  it("rejects a challenger worse than the champion, saying why", async () => {
    const event = trainedEvent({ model: "weak", holdout: "binary", policy: { mode: "automatic", primaryMetric: "AUC", threshold: 0.5 }, targets: [classic("champ-strong")] });
    await bus.publish(event);
    const decision = await decisionOf(event.data.runId);
    expect(decision.type).toBe(EventTypes.ModelRejected);
    expect(decision.data.reason).toMatch(/does not beat the champion's 0\.\d+ by 0 \(gain -0\.\d+\)/);
    expect(decision.data.champions).toHaveLength(1);
    expect(Object.keys(decision.data.challenger)).toEqual(expect.arrayContaining(["AUC", "Accuracy", "F1 Score"]));
  });

  it("without a champion (404 from scoring) the threshold decides: pass → approved, below → rejected", async () => {
    const passes = trainedEvent({ model: "strong", holdout: "binary", policy: { mode: "automatic", primaryMetric: "AUC", threshold: 0.6, minGain: { kind: "absolute", value: 0.5 } }, targets: [classic("no-such-service")] });
    const fails = trainedEvent({ model: "strong", holdout: "binary", policy: { mode: "automatic", primaryMetric: "AUC", threshold: 0.99 }, targets: [classic("no-such-service")] });
    await bus.publish(passes);
    await bus.publish(fails);
    const approved = await decisionOf(passes.data.runId);
    expect(approved.type).toBe(EventTypes.ModelApproved);
    expect(approved.data.champions).toEqual([]);
    expect(approved.data.reason).toMatch(/^AUC 0\.\d+ ≥ threshold 0\.6 and no champion yet$/);
    const rejected = await decisionOf(fails.data.runId);
    expect(rejected.type).toBe(EventTypes.ModelRejected);
    expect(rejected.data.reason).toMatch(/^AUC 0\.\d+ < threshold 0\.99 and no champion yet$/);
  });

  it("judges RMSE the right way round (lower is better)", async () => {
    const policy: EvaluationPolicy = { mode: "automatic", primaryMetric: "Root Mean Squared Error", threshold: 3, minGain: { kind: "relative", value: 0.05 } };
    const better = trainedEvent({ model: "good", holdout: "regression", policy, targets: [classic("champ-bad")] });
    const worse = trainedEvent({ model: "bad", holdout: "regression", policy, targets: [classic("champ-good")] });
    await bus.publish(better);
    await bus.publish(worse);
    const approved = await decisionOf(better.data.runId);
    expect(approved.type).toBe(EventTypes.ModelApproved);
    const rmse = approved.data.challenger["Root Mean Squared Error"] ?? Infinity;
    expect(rmse).toBeLessThan(approved.data.champions[0]?.metrics["Root Mean Squared Error"] ?? 0);
    expect(approved.data.reason).toMatch(/^Root Mean Squared Error [\d.]+ ≤ threshold 3 and beats the champion's [\d.]+ by [\d.]+ \([\d.]+% ≥ 5%\)$/);
    const rejected = await decisionOf(worse.data.runId);
    expect(rejected.type).toBe(EventTypes.ModelRejected);
    expect(rejected.data.reason).toContain("does not beat the champion's");
  });

  it("with several targets approves only when every champion is beaten", async () => {
    const event = trainedEvent({ model: "strong", holdout: "binary", policy: { mode: "automatic", primaryMetric: "AUC", minGain: { kind: "absolute", value: 0.01 } }, targets: [classic("champ-weak"), classic("champ-strong")] });
    await bus.publish(event);
    const decision = await decisionOf(event.data.runId);
    expect(decision.type).toBe(EventTypes.ModelRejected);
    expect(decision.data.champions.map((c) => c.target)).toEqual(["classic:ws1/champ-weak/default", "classic:ws1/champ-strong/default"]);
    expect(decision.data.reason).toContain("on classic:ws1/champ-strong/default");
  });

  it("manual policy: awaiting approval, then approve over HTTP records who; a second approve → 409", async () => {
    const event = trainedEvent({ model: "strong", holdout: "binary", policy: { mode: "manual", primaryMetric: "AUC" }, targets: [classic("champ-weak")] });
    const runId = event.data.runId;
    await bus.publish(event);
    const waiting = await decisionOf(runId);
    expect(waiting.type).toBe(EventTypes.ModelAwaitingApproval);
    expect(waiting.data.champions).toHaveLength(1);
    expect(waiting.data.reason).toMatch(/^Manual approval required: AUC 0\.\d+ vs the champion's 0\.\d+ on classic:ws1\/champ-weak\/default\.$/);

    const pending = (await (await call("GET", "/v1/approvals?state=pending", scoring.workspaceKey)).json()) as { value: Array<{ runId: string }> };
    expect(pending.value.map((p) => p.runId)).toContain(runId);
    const otherWs = (await (await call("GET", "/v1/approvals?state=pending", scoring.otherWorkspaceKey)).json()) as { value: unknown[] };
    expect(otherWs.value).toEqual([]);

    // Approving is an admin decision: the workspace key that uploaded the data cannot approve its own run.
    expect((await call("POST", `/v1/runs/${runId}/approve`, scoring.workspaceKey, { reason: "looks good" })).status).toBe(403);
    const approve = await call("POST", `/v1/runs/${runId}/approve`, scoring.adminKey, { reason: "looks good" });
    expect(approve.status).toBe(200);
    const body = (await approve.json()) as { state: string; approval: { state: string; decidedBy: string; decidedAt: string; comment: string } };
    expect(body.state).toBe("approved");
    expect(body.approval).toMatchObject({ state: "approved", decidedBy: "admin", comment: "looks good" });
    expect(Date.parse(body.approval.decidedAt)).not.toBeNaN();
    const approved = await waitFor(() => decisionsOf(runId).find((d) => d.type === EventTypes.ModelApproved), { description: "ModelApproved" });
    if (approved.type !== EventTypes.ModelApproved) throw new Error("expected ModelApproved");
    expect(approved.data.kind).toBe("manual");
    expect(approved.data.approvedBy).toBe("admin");
    expect(approved.data.challenger).toEqual(waiting.data.challenger);
    expect(approved.data.champions).toEqual(waiting.data.champions);

    const again = await call("POST", `/v1/runs/${runId}/approve`, scoring.adminKey, {});
    expect(again.status).toBe(409);
    expect(((await again.json()) as { error: { code: string } }).error.code).toBe("ApprovalNotPending");
    expect((await call("POST", `/v1/runs/${runId}/reject`, scoring.adminKey, {})).status).toBe(409);
    const settled = (await (await call("GET", "/v1/approvals?state=approved", scoring.workspaceKey)).json()) as { value: Array<{ runId: string }> };
    expect(settled.value.map((p) => p.runId)).toContain(runId);
  });

  it("manual policy: reject over HTTP → ModelRejected recording who", async () => {
    const event = trainedEvent({ model: "weak", holdout: "binary", policy: { mode: "manual", primaryMetric: "Accuracy" }, targets: [classic("champ-strong")] });
    const runId = event.data.runId;
    await bus.publish(event);
    expect((await decisionOf(runId)).type).toBe(EventTypes.ModelAwaitingApproval);
    expect((await call("POST", `/v1/runs/${runId}/reject`, scoring.workspaceKey, {})).status).toBe(403);
    const reject = await call("POST", `/v1/runs/${runId}/reject`, scoring.adminKey, { reason: "worse than what we serve" });
    expect(reject.status).toBe(200);
    const rejected = await waitFor(() => decisionsOf(runId).find((d) => d.type === EventTypes.ModelRejected), { description: "ModelRejected" });
    if (rejected.type !== EventTypes.ModelRejected) throw new Error("expected ModelRejected");
    expect(rejected.data.rejectedBy).toBe("admin");
    expect(rejected.data.reason).toMatch(/^Rejected by admin: worse than what we serve/);
  });

  it("a duplicate ModelTrained makes no second decision and no second event", async () => {
    const event = trainedEvent({ model: "strong", holdout: "binary", policy: { mode: "automatic", primaryMetric: "AUC", threshold: 0.6 }, targets: [classic("champ-weak")] });
    const runId = event.data.runId;
    // Two deliveries at once (distinct transport ids, so the broker window lets both through).
    await Promise.all([bus.publish(event, { messageId: `${event.id}-a` }), bus.publish(event, { messageId: `${event.id}-b` })]);
    await decisionOf(runId);
    const first = (await evaluator.evaluations.get(runId)) as EvaluationDocument;
    // A late duplicate and a re-publish with another event id, straight through the handler.
    const deps = { store: scoring.store, bus, evaluations: evaluator.evaluations, champions, source: "/retrain/evaluator" };
    const context = { event, attempt: 2, group: "evaluator", signal: new AbortController().signal, logger: silentLogger(), heartbeat: () => undefined };
    await onModelTrained(event, context, deps);
    const other = createEvent(EventTypes.ModelTrained, event.data, { source: "/retrain/trainer", id: `other-${runId}` });
    await onModelTrained(other, { ...context, event: other }, deps);
    const after = (await evaluator.evaluations.get(runId)) as EvaluationDocument;
    expect(after.evaluatedAt).toBe(first.evaluatedAt);
    expect(after.state).toBe(first.state);
    expect(after.inbox).toEqual([event.id, other.id]);
    expect(after.outbox).toEqual([]);
    // A later run's decision arrives after anything this one could still have caused.
    const sentinel = trainedEvent({ model: "strong", holdout: "binary", policy: { mode: "automatic", primaryMetric: "AUC" }, targets: [] });
    await bus.publish(sentinel);
    await decisionOf(sentinel.data.runId);
    expect(decisionsOf(runId)).toHaveLength(1);
  });

  it("finds outboxes by their markers: removes settled markers over empty outboxes, keeps fresh ones, and reads every evaluation once on a store from before the markers", async () => {
    const store = scoring.store;
    const evaluations = evaluator.evaluations;
    const markers = async (): Promise<string[]> => {
      const out: string[] = [];
      for await (const blob of store.list("evaluator/outbox/")) out.push(blob.name);
      return out;
    };
    const template = trainedEvent({ model: "strong", holdout: "binary", policy: { mode: "automatic", primaryMetric: "AUC" }, targets: [] });
    await bus.publish(template);
    const runId = template.data.runId;
    await decisionOf(runId);
    // The decision was relayed: its marker stays until it has settled, then the sweep removes it.
    expect(await markers()).toContain(`evaluator/outbox/${runId}`);
    for await (const doc of evaluations.withOutbox()) expect(doc.runId).not.toBe(runId);
    expect(await markers()).toContain(`evaluator/outbox/${runId}`);
    for await (const doc of evaluations.withOutbox(Date.now() + 11 * 60_000)) expect(doc.runId).not.toBe(runId);
    expect(await markers()).not.toContain(`evaluator/outbox/${runId}`);

    // A store from before the markers: an outbox without a marker is found by reading every evaluation, once.
    const current = await evaluations.get(runId);
    if (current === undefined) throw new Error("the evaluation is missing");
    const leftover = (current.published ?? [])[0];
    expect(leftover).toBeDefined();
    await evaluations.update(runId, (doc) => (doc === undefined ? undefined : { ...doc, outbox: [leftover] }));
    await store.delete("evaluator/outbox-indexed.json");
    const found: string[] = [];
    for await (const doc of evaluations.withOutbox()) found.push(doc.runId);
    expect(found).toContain(runId);
    expect(await store.head("evaluator/outbox-indexed.json")).toBeDefined();
    const later: string[] = [];
    for await (const doc of evaluations.withOutbox()) later.push(doc.runId);
    expect(later).not.toContain(runId);
    await evaluations.update(runId, (doc) => (doc === undefined ? undefined : { ...doc, outbox: [] }));
  });

  it("relays an outbox left by a crash once, at start", async () => {
    const template = trainedEvent({ model: "strong", holdout: "binary", policy: { mode: "automatic", primaryMetric: "AUC" }, targets: [] });
    const runId = template.data.runId;
    const leftover: AnyEvent = createEvent(
      EventTypes.ModelApproved,
      { runId, pipeline: "churn", runSequence: 7, plan: template.data.plan, model: template.data.model, challenger: { AUC: 0.9 }, champions: [], reason: "AUC 0.9", kind: "evaluation" },
      { source: "/retrain/evaluator" },
    );
    const crashed: EvaluationDocument = {
      version: 1,
      runId,
      workspace: "ws1",
      trained: template.data,
      state: "approved",
      challenger: { AUC: 0.9 },
      champions: [],
      reason: "AUC 0.9",
      evaluatedAt: new Date().toISOString(),
      decidedAt: new Date().toISOString(),
      inbox: [template.id],
      outbox: [leftover],
    };
    // As the handler does it: the marker first, then the decision with its event; then the crash.
    await evaluator.evaluations.markOutbox(runId);
    await evaluator.evaluations.update(runId, () => crashed);
    const restarted = createEvaluator({ store: scoring.store, bus, logger: silentLogger(), verifyKey: () => undefined, champions });
    await restarted.start();
    await restarted.stop(0);
    expect((await evaluator.evaluations.get(runId))?.outbox).toEqual([]);
    const relayed = await decisionOf(runId);
    expect(relayed.id).toBe(leftover.id);
    const again = createEvaluator({ store: scoring.store, bus, logger: silentLogger(), verifyKey: () => undefined, champions });
    await again.start();
    await again.stop(0);
    const sentinel = trainedEvent({ model: "strong", holdout: "binary", policy: { mode: "automatic", primaryMetric: "AUC" }, targets: [] });
    await bus.publish(sentinel);
    await decisionOf(sentinel.data.runId);
    expect(decisionsOf(runId)).toHaveLength(1);
  });

  it("answers 401 for a wrong key and 404 for another workspace's key (which cannot approve)", async () => {
    const event = trainedEvent({ model: "strong", holdout: "binary", policy: { mode: "manual", primaryMetric: "AUC" }, targets: [] });
    const runId = event.data.runId;
    await bus.publish(event);
    await decisionOf(runId);
    expect((await call("GET", `/v1/runs/${runId}/evaluation`, "not-a-key")).status).toBe(401);
    expect((await call("GET", `/v1/runs/${runId}/evaluation`, undefined)).status).toBe(401);
    expect((await call("POST", `/v1/runs/${runId}/approve`, "not-a-key", {})).status).toBe(401);
    expect((await call("GET", "/v1/approvals", "not-a-key")).status).toBe(401);
    const foreign = await call("GET", `/v1/runs/${runId}/evaluation`, scoring.otherWorkspaceKey);
    expect(foreign.status).toBe(404);
    expect((await call("POST", `/v1/runs/${runId}/approve`, scoring.otherWorkspaceKey, {})).status).toBe(404);
    expect((await call("GET", `/v1/runs/${ulid()}/evaluation`, scoring.workspaceKey)).status).toBe(404);
    expect((await evaluator.evaluations.get(runId))?.approval?.state).toBe("pending");
    expect((await call("POST", `/v1/runs/${runId}/approve`, scoring.workspaceKey, { reason: 42 })).status).toBe(400);
  });
});
