// The promotion record's compare-and-set life cycle and relay, on the filesystem store and the in-memory bus.
import { FileSystemBlobStore } from "@retrain/blob";
import { MemoryBus } from "@retrain/bus";
import { createEvent, EventTypes, exampleData, type ClassicEndpointTarget, type CloudEvent } from "@retrain/contracts";
import { silentLogger } from "@retrain/telemetry";
import { Cleanup, tempDir, waitFor } from "@retrain/testing";
import { promoteTarget } from "./promote-target.js";
import { PromotionStore } from "./promotion-store.js";
import { refusal } from "./scoring-http.js";
import { sampleRowFromSwagger } from "./smoke.js";
import { modelReadLocation } from "./model-location.js";

const target: ClassicEndpointTarget = { kind: "classic", workspace: "ws1", webService: "svc", endpoint: "ep1", resourceName: "svc [trained model]" };

describe("PromotionStore", () => {
  const cleanup = new Cleanup();
  let store: FileSystemBlobStore;
  let bus: MemoryBus;
  const seen: Array<CloudEvent<typeof EventTypes.PromotionFailed>> = [];
  beforeAll(async () => {
    const dir = await tempDir();
    cleanup.add(() => dir.remove());
    store = new FileSystemBlobStore({ root: dir.path, urlSecret: "url-secret-for-tests-0123", publicBaseUrl: "http://127.0.0.1:9" });
    bus = new MemoryBus({ logger: silentLogger(), duplicateWindowMs: 0 });
    cleanup.add(() => bus.close({ graceMs: 0 }));
    await bus.subscribe({ group: "observer", types: [EventTypes.PromotionFailed], inbox: { seen: async () => false }, handler: async (e) => void seen.push(e) });
  });
  afterAll(() => cleanup.run());

  it("begins once, decides once, and relays a crash-left outbox at start exactly once", async () => {
    const promotions = new PromotionStore(store, "test-promoter", bus, silentLogger());
    const key = { runId: "run-1", pipeline: "churn", runSequence: 1, modelId: "m1", kind: "promotion" as const, target };
    expect((await promotions.begin(key, "evt-1")).proceed).toBe(true);
    const again = await promotions.begin(key, "evt-1");
    expect(again).toMatchObject({ proceed: true, record: { attempts: 2, inbox: ["evt-1"] } });
    const model = exampleData(EventTypes.ModelApproved).model;
    const event = createEvent(EventTypes.PromotionFailed, { runId: "run-1", pipeline: "churn", runSequence: 1, target, model, code: "Superseded", reason: "newer" }, { source: "/test" });
    await promotions.decide("run-1", target, { state: "failed", failure: { code: "Superseded", reason: "newer" } }, event);
    // A second decision of a decided record changes nothing.
    const other = createEvent(EventTypes.PromotionFailed, { ...event.data, code: "Other" }, { source: "/test", id: "other-id" });
    const kept = await promotions.decide("run-1", target, { state: "failed", failure: { code: "Other", reason: "x" } }, other);
    expect(kept.failure?.code).toBe("Superseded");
    expect(kept.outbox).toHaveLength(1);
    await store.put(promotions.artifactName("run-1", target, "before.json"), "{}");
    expect(await promotions.begin(key, "evt-2")).toMatchObject({ proceed: false, record: { inbox: ["evt-1", "evt-2"] } });

    expect(await promotions.relayPending()).toBe(1);
    expect(await promotions.relayPending()).toBe(0);
    await waitFor(() => seen.length === 1);
    expect(seen[0]?.id).toBe(event.id);
    expect((await promotions.get("run-1", target))?.outbox).toEqual([]);
  });

  it("a cancelled run promotes nothing; a re-drive re-publishes what was sent, unchanged, with a fresh transport id", async () => {
    const published: Array<{ id: string; messageId: string }> = [];
    const recording = new MemoryBus({ logger: silentLogger(), duplicateWindowMs: 0 });
    cleanup.add(() => recording.close({ graceMs: 0 }));
    const original = recording.publish.bind(recording);
    recording.publish = async (event, options) => {
      published.push({ id: event.id, messageId: options?.messageId ?? event.id });
      return original(event, options);
    };
    const promotions = new PromotionStore(store, "rc-promoter", recording, silentLogger());
    const approved = exampleData(EventTypes.ModelApproved);
    const approval = (runId: string) => createEvent(EventTypes.ModelApproved, { ...approved, runId, plan: { ...approved.plan, targets: [target] } }, { source: "/test" });
    let effects = 0;
    const effect = async () => {
      effects++;
      return { kind: "updated" as const, revision: 4 };
    };
    const deps = { promotions, source: "/test", logger: silentLogger() };

    await promotions.markCancelled("run-cancelled", new Date().toISOString());
    expect(await promoteTarget(approval("run-cancelled"), target, effect, deps)).toBeUndefined();
    expect(effects).toBe(0);
    expect(await promotions.get("run-cancelled", target)).toBeUndefined();

    const decided = await promoteTarget(approval("run-live"), target, effect, deps);
    expect(decided).toMatchObject({ state: "done" });
    expect((await promotions.get("run-live", target))?.sent).toHaveLength(1);
    expect(await promotions.republish("run-live", "redrive-1")).toBe(1);
    expect(published.map((p) => p.messageId)).toEqual([published[0]?.id, `${published[0]?.id}/redrive-1`]);
    expect(new Set(published.map((p) => p.id)).size).toBe(1);
    // A cancel after the decision changes nothing of it; the record is only relayed again.
    await promotions.markCancelled("run-live", new Date().toISOString());
    expect(await promoteTarget(approval("run-live"), target, effect, deps)).toMatchObject({ state: "done" });
    expect(effects).toBe(1);
  });

  it("splits the filesystem store's read URL into Base + Relative + token", async () => {
    await store.put("trainer/m.ilearner", "x");
    const location = await modelReadLocation(store, "trainer/m.ilearner", 60_000);
    expect(`${location.BaseLocation}${location.RelativeLocation}${location.SasBlobToken}`).toBe(location.url);
    expect(location.SasBlobToken.startsWith("?")).toBe(true);
  });
});

describe("scoring host helpers", () => {
  it("builds a row from a swagger document", () => {
    const swagger = { definitions: { input1Item: { properties: { f0: { type: "number" }, color: { type: "string" } } } } };
    expect(sampleRowFromSwagger(swagger)).toEqual({ f0: 0, color: "" });
    expect(sampleRowFromSwagger({})).toBeUndefined();
  });

  it("maps 409 StaleModelUpdate to Superseded and keeps other codes", () => {
    const answer = (status: number, code: string) => ({ status, headers: new Headers(), body: undefined, code, message: "m" });
    expect(refusal(answer(409, "StaleModelUpdate"), "x")).toMatchObject({ name: "PromotionRefusedError", code: "Superseded" });
    expect(refusal(answer(400, "ModelUnreadable"), "x")).toMatchObject({ code: "ModelUnreadable" });
    expect(refusal(answer(409, "AnotherOperationInProgress"), "x")).toMatchObject({ name: "ScoringHostError" });
  });
});
