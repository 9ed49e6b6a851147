// The new promoter against a real scoring host's ARM API (in-process, real HTTP, real models,
// the async operation pattern), the in-memory bus and the filesystem store.
import { MemoryBus } from "@retrain/bus";
import { createEvent, EventTypes, exampleData, ulid, type CloudEvent, type ModelRef, type NewWebServiceTarget } from "@retrain/contracts";
import { silentLogger } from "@retrain/telemetry";
import { Cleanup, waitFor } from "@retrain/testing";
import { createNewPromoter, type NewPromoter } from "./app.js";
import { startPlatform, trainModel, type Platform } from "@retrain/promotion/testing";

type Updated = CloudEvent<typeof EventTypes.EndpointUpdated>;
type Failed = CloudEvent<typeof EventTypes.PromotionFailed>;

const SUB = "00000000-1111-2222-3333-444444444444";
const RG = "retrain-rg";
const bytesA = trainModel(11, [1.5, -1, 0.25]);
const bytesB = trainModel(12, [-1.5, 1, -0.25]);

describe("new-promoter", () => {
  const cleanup = new Cleanup();
  let platform: Platform;
  let bus: MemoryBus;
  let promoter: NewPromoter;
  const updated: Updated[] = [];
  const failed: Failed[] = [];

  beforeAll(async () => {
    platform = await startPlatform();
    cleanup.add(() => platform.close());
    bus = new MemoryBus({ logger: silentLogger(), duplicateWindowMs: 0 });
    cleanup.add(() => bus.close({ graceMs: 0 }));
    await platform.putModel("seed/initial.ilearner", bytesA);
    const observe = { seen: async () => false };
    await bus.subscribe({ group: "observer-updated", types: [EventTypes.EndpointUpdated], inbox: observe, handler: async (e) => void updated.push(e) });
    await bus.subscribe({ group: "observer-failed", types: [EventTypes.PromotionFailed], inbox: observe, handler: async (e) => void failed.push(e) });
    promoter = createNewPromoter({ store: platform.store, bus, logger: silentLogger(), scoringUrl: platform.url, scoringKey: platform.adminKey, pollIntervalMs: 20, concurrency: 1, backoffMs: [50] });
    await promoter.start();
  }, 60_000);
  afterAll(async () => {
    await promoter.stop(0);
    await cleanup.run();
  });

  async function publish(name: string): Promise<NewWebServiceTarget> {
    const answer = await platform.request("POST", `/v1/workspaces/${platform.workspace}/webservices`, {
      name,
      kind: "new",
      subscription: SUB,
      resourceGroup: RG,
      model: { blob: "seed/initial.ilearner" },
      modelId: "initial-model",
    });
    expect(answer.status).toBe(201);
    return { kind: "new", subscription: SUB, resourceGroup: RG, webService: name, resourceName: `${name} [trained model]` };
  }

  async function model(bytes: Buffer, modelId = ulid()): Promise<ModelRef> {
    const blob = await platform.putModel(`trainer/jobs/ws1/churn-training/${modelId}/output1.ilearner`, bytes);
    return { modelId, blob, learner: "Two-Class Logistic Regression", task: "binary" };
  }

  function approval(ref: ModelRef, targets: NewWebServiceTarget[], runSequence: number): CloudEvent<typeof EventTypes.ModelApproved> {
    const example = exampleData(EventTypes.ModelApproved);
    const runId = ulid();
    return createEvent(
      EventTypes.ModelApproved,
      { ...example, runId, pipeline: "churn", runSequence, kind: "evaluation", model: { ...ref, runId, runSequence }, plan: { ...example.plan, pipeline: "churn", runSequence, targets } },
      { source: "/test" },
    );
  }

  const outcome = (runId: string) =>
    waitFor(() => updated.find((e) => e.data.runId === runId) ?? failed.find((e) => e.data.runId === runId), { timeoutMs: 20_000, description: `the outcome of run ${runId}` });

  const served = async (name: string) => {
    const body = (await platform.request("GET", `/v1/subscriptions/${SUB}/resourceGroups/${RG}/webServices/${name}/model`)).body as { modelId: string; revision: number };
    return { modelId: body.modelId, revision: body.revision };
  };

  const assetUri = (definition: unknown): string => {
    const assets = ((definition as Record<string, unknown>)["properties"] as Record<string, unknown>)["assets"] as Record<string, { name: string; locationInfo: { uri: string } }>;
    return Object.values(assets).find((a) => a.name.endsWith("[trained model]"))?.locationInfo.uri ?? "";
  };

  it("PATCHes the trained-model asset through the async pattern, keeps before/after, and publishes EndpointUpdated", async () => {
    const target = await publish("churn-new");
    const ref = await model(bytesB);
    const event = approval(ref, [target], 1);
    await bus.publish(event);
    const result = await outcome(event.data.runId);
    expect(result.type).toBe(EventTypes.EndpointUpdated);
    expect((result as Updated).data).toMatchObject({ revision: 2, kind: "promotion", previousModel: { modelId: "initial-model" }, model: { modelId: ref.modelId } });
    expect(await served("churn-new")).toEqual({ modelId: ref.modelId, revision: 2 });

    const record = await waitFor(async () => {
      const current = await promoter.promotions.get(event.data.runId, target);
      return current?.outbox.length === 0 && current;
    });
    expect(record.state).toBe("done");
    const read = async (name: string | undefined) => JSON.parse((await platform.store.getBuffer(name ?? "")).body.toString("utf8")) as unknown;
    const before = await read(record.artifacts["before"]);
    const after = await read(record.artifacts["after"]);
    expect(assetUri(before)).toContain("seed/initial.ilearner");
    expect(assetUri(after)).toContain(ref.blob.name);
    expect(((after as Record<string, unknown>)["properties"] as Record<string, unknown>)["provisioningState"]).toBe("Succeeded");

    // A duplicate approval: no second update, no second event.
    await bus.publish(event, { messageId: `${event.id}-again` });
    const sentinelTarget = await publish("churn-sentinel");
    const sentinel = approval(await model(bytesA), [sentinelTarget], 1);
    await bus.publish(sentinel);
    await outcome(sentinel.data.runId);
    expect(updated.filter((e) => e.data.runId === event.data.runId)).toHaveLength(1);
    expect((await served("churn-new")).revision).toBe(2);
  }, 30_000);

  it("applies with PUT when the target says so", async () => {
    const target: NewWebServiceTarget = { ...(await publish("churn-put")), method: "PUT" };
    const ref = await model(bytesB);
    const event = approval(ref, [target], 1);
    await bus.publish(event);
    const result = await outcome(event.data.runId);
    expect(result.type).toBe(EventTypes.EndpointUpdated);
    expect(await served("churn-put")).toEqual({ modelId: ref.modelId, revision: 2 });
  }, 30_000);

  it("refuses an older run after a newer one with PromotionFailed Superseded", async () => {
    const target = await publish("churn-order");
    const newer = await model(bytesB);
    const first = approval(newer, [target], 5);
    await bus.publish(first);
    expect((await outcome(first.data.runId)).type).toBe(EventTypes.EndpointUpdated);
    const older = approval(await model(bytesA), [target], 3);
    await bus.publish(older);
    const result = await outcome(older.data.runId);
    expect(result.type).toBe(EventTypes.PromotionFailed);
    expect((result as Failed).data.code).toBe("Superseded");
    expect(await served("churn-order")).toEqual({ modelId: newer.modelId, revision: 2 });
  }, 30_000);

  it("fails a web service that does not exist", async () => {
    const event = approval(await model(bytesA), [{ kind: "new", subscription: SUB, resourceGroup: RG, webService: "nope", resourceName: "nope [trained model]" }], 1);
    await bus.publish(event);
    expect(((await outcome(event.data.runId)) as Failed).data.code).toBe("WebServiceNotFound");
  });
});
