// The classic promoter against a real scoring host (in-process, real HTTP, real models), the
// in-memory bus and the filesystem store.
import { MemoryBus } from "@retrain/bus";
import { createEvent, EventTypes, exampleData, ulid, type ClassicEndpointTarget, type CloudEvent, type ModelRef } from "@retrain/contracts";
import { PromotionStore } from "@retrain/promotion";
import { silentLogger } from "@retrain/telemetry";
import { Cleanup, waitFor } from "@retrain/testing";
import { createClassicPromoter, type ClassicPromoter } from "./app.js";
import { corrupt, startPlatform, trainModel, type Platform } from "@retrain/promotion/testing";

type Updated = CloudEvent<typeof EventTypes.EndpointUpdated>;
type Failed = CloudEvent<typeof EventTypes.PromotionFailed>;

const SERVICE = "Churn Scoring";
const RESOURCE = `${SERVICE} [trained model]`;
const bytesA = trainModel(1, [2, -1, 0.5]);
const bytesB = trainModel(2, [-2, 1, -0.5]);

describe("classic-promoter", () => {
  const cleanup = new Cleanup();
  let platform: Platform;
  let bus: MemoryBus;
  let promoter: ClassicPromoter;
  let serviceId: string;
  const updated: Updated[] = [];
  const failed: Failed[] = [];

  const newPromoter = () =>
    createClassicPromoter({ store: platform.store, bus, logger: silentLogger(), scoringUrl: platform.url, scoringKey: platform.adminKey, concurrency: 1, backoffMs: [50] });

  beforeAll(async () => {
    platform = await startPlatform();
    cleanup.add(() => platform.close());
    // No broker dedupe: only the promotion records may stop a duplicate.
    bus = new MemoryBus({ logger: silentLogger(), duplicateWindowMs: 0 });
    cleanup.add(() => bus.close({ graceMs: 0 }));
    await platform.putModel("seed/initial.ilearner", bytesA);
    const published = await platform.request("POST", `/v1/workspaces/${platform.workspace}/webservices`, { name: SERVICE, model: { blob: "seed/initial.ilearner" }, modelId: "initial-model" });
    expect(published.status).toBe(201);
    serviceId = String(((published.body as Record<string, unknown>)["webService"] as Record<string, unknown>)["Id"]);
    const observe = { seen: async () => false };
    await bus.subscribe({ group: "observer-updated", types: [EventTypes.EndpointUpdated], inbox: observe, handler: async (e) => void updated.push(e) });
    await bus.subscribe({ group: "observer-failed", types: [EventTypes.PromotionFailed], inbox: observe, handler: async (e) => void failed.push(e) });
    promoter = newPromoter();
    await promoter.start();
  }, 60_000);
  afterAll(async () => {
    await promoter.stop(0);
    await cleanup.run();
  });

  async function model(bytes: Buffer, modelId = ulid()): Promise<ModelRef> {
    const blob = await platform.putModel(`trainer/jobs/ws1/churn-training/${modelId}/output1.ilearner`, bytes);
    return { modelId, blob, learner: "Two-Class Logistic Regression", task: "binary" };
  }

  function target(endpoint: string, extra: Partial<ClassicEndpointTarget> = {}): ClassicEndpointTarget {
    return { kind: "classic", workspace: platform.workspace, webService: SERVICE, endpoint, resourceName: RESOURCE, createIfMissing: true, ...extra };
  }

  function approval(ref: ModelRef, targets: ClassicEndpointTarget[], runSequence: number, kind: "evaluation" | "rollback" = "evaluation"): CloudEvent<typeof EventTypes.ModelApproved> {
    const example = exampleData(EventTypes.ModelApproved);
    const runId = ulid();
    return createEvent(
      EventTypes.ModelApproved,
      {
        ...example,
        runId,
        pipeline: "churn",
        runSequence,
        kind,
        model: { ...ref, runId, runSequence },
        plan: { ...example.plan, pipeline: "churn", runSequence, targets },
      },
      { source: "/test" },
    );
  }

  const outcome = (runId: string) =>
    waitFor(() => updated.find((e) => e.data.runId === runId) ?? failed.find((e) => e.data.runId === runId), { timeoutMs: 20_000, description: `the outcome of run ${runId}` });

  const served = async (endpoint: string) => {
    const body = (await platform.request("GET", `/v1/workspaces/${platform.workspace}/webservices/${serviceId}/endpoints/${endpoint}/model`)).body as { modelId: string; revision: number };
    return { modelId: body.modelId, revision: body.revision };
  };
  const history = async (endpoint: string) => ((await platform.request("GET", `/v1/workspaces/${platform.workspace}/webservices/${serviceId}/endpoints/${endpoint}/history`)).body as { value: Array<{ revision: number; reason: string }> }).value;

  async function score(endpoint: string): Promise<string | null> {
    const ep = (await platform.request("GET", `/workspaces/${platform.workspace}/webservices/${serviceId}/endpoints/${endpoint}`)).body as { ApiLocation: string; PrimaryKey: string };
    const response = await fetch(`${ep.ApiLocation}/execute?api-version=2.0&format=swagger`, {
      method: "POST",
      headers: { authorization: `Bearer ${ep.PrimaryKey}`, "content-type": "application/json" },
      body: JSON.stringify({ Inputs: { input1: [{ f0: 0.5, f1: -0.5, f2: 1 }] }, GlobalParameters: {} }),
    });
    expect(response.status).toBe(200);
    return response.headers.get("x-retrain-model");
  }

  it("creates the endpoint, PATCHes its trained model, verifies it and publishes one EndpointUpdated", async () => {
    const ref = await model(bytesB);
    const event = approval(ref, [target("churn-eu")], 1);
    await bus.publish(event);
    const result = await outcome(event.data.runId);
    expect(result.type).toBe(EventTypes.EndpointUpdated);
    const data = (result as Updated).data;
    // Revision 1 is the endpoint as created (the default endpoint's model); the PATCH made 2.
    expect(data).toMatchObject({ revision: 2, kind: "promotion", previousModel: { modelId: "initial-model" }, model: { modelId: ref.modelId } });
    expect(result.id).toBe(updated.find((e) => e.data.runId === event.data.runId)?.id);
    expect(await score("churn-eu")).toBe(`${ref.modelId}@r2`);
    // The event may be delivered before the relay has cleared the outbox: wait for the record to settle.
    const record = await waitFor(async () => {
      const current = await promoter.promotions.get(event.data.runId, data.target);
      return current?.outbox.length === 0 && current;
    });
    expect(record).toMatchObject({ state: "done", result: { revision: 2, previousModel: { modelId: "initial-model" } }, outbox: [], inbox: [event.id] });

    // The same approval again (past any broker dedupe): no second PATCH, no second event.
    await bus.publish(event, { messageId: `${event.id}-again` });
    const sentinel = approval(await model(bytesA), [target("churn-sentinel")], 1);
    await bus.publish(sentinel);
    await outcome(sentinel.data.runId);
    expect((await history("churn-eu")).map((e) => e.revision)).toEqual([1, 2]);
    expect(updated.filter((e) => e.data.runId === event.data.runId)).toHaveLength(1);
    expect((await promoter.promotions.get(event.data.runId, data.target))?.attempts).toBe(1);
  }, 30_000);

  it("refuses an older run after a newer one with PromotionFailed Superseded, leaving the endpoint as it is", async () => {
    const newer = await model(bytesB);
    const first = approval(newer, [target("churn-us")], 5);
    await bus.publish(first);
    expect((await outcome(first.data.runId)).type).toBe(EventTypes.EndpointUpdated);
    const before = await served("churn-us");
    const older = approval(await model(bytesA), [target("churn-us")], 3);
    await bus.publish(older);
    const result = await outcome(older.data.runId);
    expect(result.type).toBe(EventTypes.PromotionFailed);
    expect((result as Failed).data.code).toBe("Superseded");
    expect(await served("churn-us")).toEqual(before);
    expect(before.modelId).toBe(newer.modelId);
  }, 30_000);

  it("refuses the default endpoint", async () => {
    const event = approval(await model(bytesB), [target("default")], 6);
    await bus.publish(event);
    const result = await outcome(event.data.runId);
    expect(result.type).toBe(EventTypes.PromotionFailed);
    expect((result as Failed).data.code).toBe("DefaultEndpointRefused");
    expect((await served("default")).modelId).toBe("initial-model");
  });

  it("fails a corrupt model with the scoring host's code and leaves the endpoint unchanged", async () => {
    const good = approval(await model(bytesA), [target("churn-ap")], 1);
    await bus.publish(good);
    await outcome(good.data.runId);
    const before = await served("churn-ap");
    const bad = approval(await model(corrupt(bytesB)), [target("churn-ap")], 2);
    await bus.publish(bad);
    const result = await outcome(bad.data.runId);
    expect(result.type).toBe(EventTypes.PromotionFailed);
    expect((result as Failed).data.code).toBe("ModelUnreadable");
    expect(await served("churn-ap")).toEqual(before);
  }, 30_000);

  it("rolls back explicitly: kind rollback, a new revision pointing at the older model", async () => {
    const refA = await model(bytesA);
    const one = approval(refA, [target("churn-rb")], 1);
    await bus.publish(one);
    await outcome(one.data.runId);
    const refB = await model(bytesB);
    const two = approval(refB, [target("churn-rb")], 2);
    await bus.publish(two);
    const promoted = (await outcome(two.data.runId)) as Updated;
    const back = approval(refA, [target("churn-rb")], 3, "rollback");
    await bus.publish(back);
    const result = await outcome(back.data.runId);
    expect(result.type).toBe(EventTypes.EndpointUpdated);
    expect((result as Updated).data).toMatchObject({ kind: "rollback", revision: promoted.data.revision + 1, previousModel: { modelId: refB.modelId } });
    expect(await score("churn-rb")).toBe(`${refA.modelId}@r${promoted.data.revision + 1}`);
    expect((await history("churn-rb")).at(-1)?.reason).toBe("rollback");
  }, 30_000);

  it("fails a target whose endpoint is missing and not to be created", async () => {
    const event = approval(await model(bytesA), [target("churn-none", { createIfMissing: false })], 1);
    await bus.publish(event);
    expect(((await outcome(event.data.runId)) as Failed).data.code).toBe("EndpointNotFound");
  });

  it("relays an outbox a crash left behind exactly once at start", async () => {
    await promoter.stop(0);
    const ref = await model(bytesA);
    const event = approval(ref, [target("churn-crash")], 1);
    const t = event.data.plan.targets[0] as ClassicEndpointTarget;
    // What a process that died right after recording its decision leaves: a decided record with its outbox.
    const records = new PromotionStore(platform.store, "classic-promoter", bus, silentLogger());
    await records.begin({ runId: event.data.runId, pipeline: "churn", runSequence: 1, modelId: ref.modelId, kind: "promotion", target: t }, event.id);
    const pending = createEvent(
      EventTypes.EndpointUpdated,
      { runId: event.data.runId, pipeline: "churn", runSequence: 1, target: t, model: event.data.model, revision: 7, kind: "promotion", updatedAt: new Date().toISOString() },
      { source: "/retrain/classic-promoter" },
    );
    await records.decide(event.data.runId, t, { state: "done", result: { revision: 7, updatedAt: pending.data.updatedAt } }, pending);

    promoter = newPromoter();
    await promoter.start();
    expect((await promoter.promotions.get(event.data.runId, t))?.outbox).toEqual([]);
    await waitFor(() => updated.some((e) => e.id === pending.id));
    // A second start relays nothing more; neither does the approval arriving late.
    await promoter.stop(0);
    promoter = newPromoter();
    await promoter.start();
    await bus.publish(event);
    const sentinel = approval(await model(bytesB), [target("churn-sentinel2")], 1);
    await bus.publish(sentinel);
    await outcome(sentinel.data.runId);
    expect(updated.filter((e) => e.id === pending.id)).toHaveLength(1);
  }, 30_000);
});
