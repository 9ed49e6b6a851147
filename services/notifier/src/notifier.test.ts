import { createHmac, randomBytes } from "node:crypto";
import { FileSystemBlobStore } from "@retrain/blob";
import { MemoryBus } from "@retrain/bus";
import { createEvent, EventTypes, exampleData, ulid, type AnyEvent } from "@retrain/contracts";
import { apiKeyVerifier, createHttpApp, MetricsRegistry, startHttpServer, type Principal } from "@retrain/service-kit";
import { silentLogger } from "@retrain/telemetry";
import { Cleanup, tempDir, waitFor } from "@retrain/testing";
import { createNotifier, type Notifier, type NotifierDeps } from "./app.js";
import { deliveryBlob, pendingBlob, type DeliveryDocument } from "./documents.js";
import { startWebhookReceiver, type ReceivedWebhook } from "./testing.js";

const KEY_A = "key-of-workspace-a-0123456789";
const KEY_B = "key-of-workspace-b-0123456789";
const ADMIN = "admin-key-0123456789abcdef";
const verifyKey = apiKeyVerifier<Principal>([
  [KEY_A, { name: "ws-a/primary", workspace: "ws-a", role: "user" }],
  [KEY_B, { name: "ws-b/primary", workspace: "ws-b", role: "user" }],
  [ADMIN, { name: "admin", workspace: "*", role: "admin" }],
]);

/** Checks a Standard Webhooks signature independently of the notifier's signer. */
function signatureVerifies(secret: string, webhook: ReceivedWebhook): boolean {
  const key = Buffer.from(secret.replace(/^whsec_/, ""), "base64");
  const { "webhook-id": id, "webhook-timestamp": timestamp, "webhook-signature": signature } = webhook.headers;
  const expected = createHmac("sha256", key).update(`${id}.${timestamp}.${webhook.body}`).digest("base64");
  return signature === `v1,${expected}`;
}

function endpointUpdated(workspace: string, pipeline = "bike-rental"): AnyEvent & { data: { runId: string } } {
  const example = exampleData(EventTypes.EndpointUpdated);
  const target = { ...example.target, workspace } as typeof example.target;
  return createEvent(EventTypes.EndpointUpdated, { ...example, runId: ulid(), pipeline, target }, { source: "/retrain/classic-promoter" });
}

describe("the notifier (in-memory bus, filesystem store, real HTTP receivers)", () => {
  const cleanup = new Cleanup();
  let store: FileSystemBlobStore;
  let bus: MemoryBus;
  let notifier: Notifier;
  let url = "";
  const options: { -readonly [K in keyof NotifierDeps]?: NotifierDeps[K] } = { retryScheduleMs: [40, 40], timeoutMs: 2_000, scanIntervalMs: 100, kek: randomBytes(32), metrics: new MetricsRegistry({ defaultMetrics: false }) };

  async function startNotifier(): Promise<Notifier> {
    const created = createNotifier({ store, bus, logger: silentLogger(), verifyKey, allowHttpHosts: ["127.0.0.1"], ...options });
    await created.start();
    return created;
  }

  beforeAll(async () => {
    const dir = await tempDir();
    cleanup.add(() => dir.remove());
    store = new FileSystemBlobStore({ root: dir.path });
    bus = new MemoryBus({ logger: silentLogger() });
    cleanup.add(() => bus.close({ graceMs: 0 }));
    notifier = await startNotifier();
    const current = () => notifier;
    const { app } = createHttpApp({ serviceName: "notifier", logger: silentLogger(), routes: (router) => current().registerRoutes(router) });
    const server = await startHttpServer(app, { port: 0, host: "127.0.0.1", logger: silentLogger() });
    cleanup.add(() => server.close(0));
    url = server.url;
  });
  afterAll(async () => {
    await notifier.stop(0);
    await cleanup.run();
  });

  const call = async (method: string, path: string, key: string, body?: unknown): Promise<{ status: number; body: Record<string, unknown> }> => {
    const response = await fetch(`${url}${path}`, {
      method,
      headers: { authorization: `Bearer ${key}`, ...(body !== undefined ? { "content-type": "application/json" } : {}) },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
    const text = await response.text();
    return { status: response.status, body: text === "" ? {} : (JSON.parse(text) as Record<string, unknown>) };
  };

  async function subscribe(receiverUrl: string, body: Record<string, unknown> = {}, key = KEY_A): Promise<{ id: string; secret: string }> {
    const created = await call("POST", "/v1/subscriptions", key, { url: receiverUrl, types: ["EndpointUpdated"], ...body });
    expect(created.status).toBe(201);
    return { id: created.body["id"] as string, secret: created.body["secret"] as string };
  }

  async function deliveries(id: string, state?: string): Promise<DeliveryDocument[]> {
    const answer = await call("GET", `/v1/subscriptions/${id}/deliveries${state ? `?state=${state}` : ""}`, KEY_A);
    expect(answer.status).toBe(200);
    return answer.body["value"] as DeliveryDocument[];
  }

  const settled = (id: string, state: "delivered" | "dead") =>
    waitFor(async () => (await deliveries(id)).find((d) => d.state === state), { timeoutMs: 10_000, description: `a ${state} delivery` });

  it("POSTs a matching event once as a structured CloudEvent signed per Standard Webhooks (webhook-id = event id)", async () => {
    const receiver = await startWebhookReceiver();
    cleanup.add(() => receiver.close());
    const { id, secret } = await subscribe(receiver.url);
    expect(secret).toMatch(/^whsec_[A-Za-z0-9+/]+=*$/);
    expect(receiver.handshakes).toEqual(["retrain-notifier"]);
    // At rest the secret is sealed under the key-encryption key.
    const stored = (await store.getBuffer(`notifier/subscriptions/${id}.json`)).body.toString("utf8");
    expect(stored).toContain('"secret":"enc:v1:');
    expect(stored).not.toContain(secret.slice("whsec_".length));
    const event = endpointUpdated("ws-a");
    await bus.publish(event);
    await waitFor(() => receiver.received.length === 1, { description: "the webhook" });
    const [webhook] = receiver.received;
    expect(webhook?.headers["content-type"]).toBe("application/cloudevents+json");
    expect(webhook?.headers["webhook-id"]).toBe(event.id);
    expect(Math.abs(Number(webhook?.headers["webhook-timestamp"]) - Date.now() / 1000)).toBeLessThan(60);
    expect(webhook && signatureVerifies(secret, webhook)).toBe(true);
    expect(JSON.parse(webhook?.body ?? "{}")).toMatchObject({ specversion: "1.0", id: event.id, type: EventTypes.EndpointUpdated, data: { runId: event.data.runId } });
    const [delivery] = await settled(id, "delivered").then(() => deliveries(id));
    expect(delivery).toMatchObject({ eventId: event.id, state: "delivered", attempts: [{ n: 1, outcome: "delivered", statusCode: 200 }] });
    // The same event again (a bus redelivery) makes no second delivery.
    expect(await notifier.notify(event)).toBe(0);
    expect(receiver.received).toHaveLength(1);
  });

  it("filters by type, pipeline and target, and by the subscription's workspace", async () => {
    const receiver = await startWebhookReceiver();
    cleanup.add(() => receiver.close());
    const example = exampleData(EventTypes.EndpointUpdated);
    const { id } = await subscribe(receiver.url, { types: ["retrain.endpoint.updated.v1", "ModelRejected"], filter: { pipeline: "churn", target: "classic:ws-a/bike-rental/store-042" } });
    expect(example.target).toMatchObject({ webService: "bike-rental", endpoint: "store-042" });
    await notifier.notify(endpointUpdated("ws-a", "other-pipeline"));
    await notifier.notify(endpointUpdated("ws-b", "churn"));
    const trained = createEvent(EventTypes.ModelTrained, { ...exampleData(EventTypes.ModelTrained), runId: ulid(), pipeline: "churn" }, { source: "/retrain/trainer" });
    await notifier.notify(trained);
    const matching = endpointUpdated("ws-a", "churn");
    await notifier.notify(matching);
    // A run-level event matches a target filter when its run plans that target.
    const rejectedData = exampleData(EventTypes.ModelRejected);
    const plan = { ...rejectedData.plan, pipeline: "churn", trainingWebService: { workspace: "ws-a", service: "t" }, targets: [{ ...example.target, workspace: "ws-a" } as typeof example.target] };
    const rejected = createEvent(EventTypes.ModelRejected, { ...rejectedData, runId: ulid(), pipeline: "churn", plan }, { source: "/retrain/evaluator" });
    await notifier.notify(rejected);
    // notify() has created every delivery it makes before it returns: the log is complete now.
    expect((await deliveries(id)).map((d) => d.eventId).sort()).toEqual([matching.id, rejected.id].sort());
    await waitFor(() => receiver.received.length === 2, { description: "two webhooks" });
    expect(receiver.received.map((r) => r.headers["webhook-id"]).sort()).toEqual([matching.id, rejected.id].sort());
  });

  it("learns a run's workspace from an event with its plan, for later events that do not carry it (a new web service's update)", async () => {
    const receiver = await startWebhookReceiver();
    cleanup.add(() => receiver.close());
    const { id } = await subscribe(receiver.url, { filter: { pipeline: "arm-pipeline" } });
    const arrived = exampleData(EventTypes.DataArrived);
    const runId = ulid();
    const plan = { ...arrived.plan, pipeline: "arm-pipeline", trainingWebService: { workspace: "ws-a", service: "t" } };
    await notifier.notify(createEvent(EventTypes.DataArrived, { ...arrived, runId, pipeline: "arm-pipeline", plan }, { source: "/retrain/ingestion" }));
    const example = exampleData(EventTypes.EndpointUpdated);
    const armTarget = { kind: "new" as const, subscription: "sub", resourceGroup: "rg", webService: "arm", resourceName: "M [trained model]" };
    const known = createEvent(EventTypes.EndpointUpdated, { ...example, runId, pipeline: "arm-pipeline", target: armTarget }, { source: "/retrain/new-promoter" });
    const unknown = createEvent(EventTypes.EndpointUpdated, { ...example, runId: ulid(), pipeline: "arm-pipeline", target: armTarget }, { source: "/retrain/new-promoter" });
    await notifier.notify(known);
    await notifier.notify(unknown);
    expect((await deliveries(id)).map((d) => d.eventId)).toEqual([known.id]);
    await waitFor(() => receiver.received.length === 1, { description: "the webhook" });
    expect(receiver.received[0]?.headers["webhook-id"]).toBe(known.id);
  });

  it("retries 5xx with backoff: 500 twice then 200 is delivered on the third attempt, each attempt signed afresh", async () => {
    const receiver = await startWebhookReceiver({ statuses: [500, 500, 200] });
    cleanup.add(() => receiver.close());
    const { id, secret } = await subscribe(receiver.url);
    const event = endpointUpdated("ws-a");
    await bus.publish(event);
    const delivery = await settled(id, "delivered");
    expect(delivery.attempts.map((a) => [a.n, a.outcome, a.statusCode])).toEqual([
      [1, "failed", 500],
      [2, "failed", 500],
      [3, "delivered", 200],
    ]);
    for (const a of delivery.attempts) expect(a.latencyMs).toBeGreaterThanOrEqual(0);
    expect(receiver.received.map((r) => r.headers["webhook-id"])).toEqual([event.id, event.id, event.id]);
    for (const r of receiver.received) expect(signatureVerifies(secret, r)).toBe(true);
    const text = (await options.metrics?.metrics()) ?? "";
    expect(Number(/retrain_webhook_attempts_total\{outcome="retry"\} (\d+)/.exec(text)?.[1])).toBeGreaterThanOrEqual(2);
    expect(Number(/retrain_webhook_attempts_total\{outcome="delivered"\} (\d+)/.exec(text)?.[1])).toBeGreaterThanOrEqual(1);
    expect(text).toContain('retrain_webhook_attempt_duration_seconds_count{outcome="retry"}');
    // The pending marker goes right after the record is written.
    await waitFor(async () => (await store.head(pendingBlob(id, delivery.id))) === undefined, { description: "the pending marker to go" });
  });

  it("an always-failing receiver ends in the dead-letter list with every attempt logged; replay delivers it", async () => {
    const receiver = await startWebhookReceiver({ statuses: [503, 429, 502] });
    cleanup.add(() => receiver.close());
    const { id } = await subscribe(receiver.url);
    const event = endpointUpdated("ws-a");
    await bus.publish(event);
    await settled(id, "dead");
    const dead = await deliveries(id, "dead");
    expect(dead).toHaveLength(1);
    expect(dead[0]?.attempts.map((a) => a.statusCode)).toEqual([503, 429, 502]);
    expect(dead[0]?.attempts.every((a) => a.outcome === "failed" && typeof a.error === "string" && a.latencyMs !== undefined)).toBe(true);
    expect(await deliveries(id, "delivered")).toEqual([]);
    expect((await call("GET", `/v1/subscriptions/${id}/deliveries?limit=0`, KEY_A)).status).toBe(400);
    const one = await call("GET", `/v1/subscriptions/${id}/deliveries/${dead[0]?.id}`, KEY_A);
    expect(one.body).toMatchObject({ id: event.id, state: "dead", event: { id: event.id, type: EventTypes.EndpointUpdated } });
    expect((await call("GET", `/v1/subscriptions/${id}/deliveries/no-such-delivery`, KEY_A)).status).toBe(404);

    receiver.respondWith([200]);
    const replay = await call("POST", `/v1/subscriptions/${id}/deliveries/${dead[0]?.id}/replay`, KEY_A);
    expect(replay.status).toBe(202);
    const delivered = await settled(id, "delivered");
    expect(delivered.attempts.map((a) => [a.round, a.statusCode])).toEqual([
      [1, 503],
      [1, 429],
      [1, 502],
      [2, 200],
    ]);
    expect(receiver.received.map((r) => r.headers["webhook-id"])).toEqual([event.id, event.id, event.id, event.id]);
    expect(await deliveries(id, "dead")).toEqual([]);
    const again = await call("POST", `/v1/subscriptions/${id}/deliveries/${dead[0]?.id}/replay`, KEY_A);
    expect(again).toMatchObject({ status: 409, body: { error: { code: "DeliveryNotFailed" } } });
  });

  it("a 4xx other than 408/429 is final (dead after one attempt); a receiver that went away is retried as a network error", async () => {
    const gone = await startWebhookReceiver({ statuses: [410] });
    cleanup.add(() => gone.close());
    const first = await subscribe(gone.url);
    await bus.publish(endpointUpdated("ws-a"));
    const dead = await settled(first.id, "dead");
    expect(dead.attempts).toHaveLength(1);
    expect(dead.attempts[0]?.error).toContain("410");

    const closing = await startWebhookReceiver();
    const second = await subscribe(closing.url);
    await closing.close();
    await bus.publish(endpointUpdated("ws-a"));
    const unreachable = await settled(second.id, "dead");
    expect(unreachable.attempts).toHaveLength(3);
    expect(unreachable.attempts.every((a) => a.statusCode === undefined && /^Network: /.test(a.error ?? ""))).toBe(true);
  });

  it("a receiver that does not answer in time is retried (Timeout), then delivered", async () => {
    const receiver = await startWebhookReceiver({ statuses: [0, 200] });
    cleanup.add(() => receiver.close());
    const { id } = await subscribe(receiver.url);
    const event = endpointUpdated("ws-a");
    await bus.publish(event);
    const delivered = await settled(id, "delivered");
    expect(delivered.attempts.map((a) => [a.outcome, a.statusCode ?? null])).toEqual([
      ["failed", null],
      ["delivered", 200],
    ]);
    expect(delivered.attempts[0]?.error).toMatch(/^Timeout: no answer within 2000 ms/);
    expect(receiver.received.map((r) => r.headers["webhook-id"])).toEqual([event.id, event.id]);
  });

  it("refuses registrations with clear 400 codes: no handshake, wrong origin, plain http, metadata and link-local addresses, bad types and secrets", async () => {
    const silent = await startWebhookReceiver({ handshake: "none" });
    cleanup.add(() => silent.close());
    const other = await startWebhookReceiver({ handshake: "wrong-origin" });
    cleanup.add(() => other.close());
    const wildcard = await startWebhookReceiver({ handshake: "wildcard" });
    cleanup.add(() => wildcard.close());
    const refused = async (body: Record<string, unknown>) => {
      const answer = await call("POST", "/v1/subscriptions", KEY_A, { types: ["EndpointUpdated"], ...body });
      expect(answer.status).toBe(400);
      return (answer.body["error"] as { code: string; message: string });
    };
    expect(await refused({ url: silent.url })).toMatchObject({ code: "HandshakeFailed", message: expect.stringContaining("405") });
    expect(await refused({ url: other.url })).toMatchObject({ code: "HandshakeFailed", message: expect.stringContaining("WebHook-Allowed-Origin") });
    expect(await refused({ url: "http://hooks.example.com/retrain" })).toMatchObject({ code: "HttpsRequired" });
    expect(await refused({ url: "https://169.254.169.254/latest/meta-data" })).toMatchObject({ code: "AddressNotAllowed" });
    expect(await refused({ url: "https://metadata.google.internal/computeMetadata/v1" })).toMatchObject({ code: "AddressNotAllowed" });
    expect(await refused({ url: "https://100.100.100.200/" })).toMatchObject({ code: "AddressNotAllowed" });
    expect(await refused({ url: "https://[fd00:ec2::254]/" })).toMatchObject({ code: "AddressNotAllowed" });
    expect(await refused({ url: "https://[fe80::1]/" })).toMatchObject({ code: "AddressNotAllowed" });
    expect(await refused({ url: "https://[::ffff:169.254.169.254]/" })).toMatchObject({ code: "AddressNotAllowed" });
    expect(await refused({ url: "https://localhost/" })).toMatchObject({ code: "AddressNotAllowed", message: expect.stringContaining("loopback") });
    expect(await refused({ url: "not a url" })).toMatchObject({ code: "InvalidUrl" });
    expect(await refused({ url: wildcard.url, types: ["EndpointUpdate"] })).toMatchObject({ code: "UnknownEventType" });
    expect(await refused({ url: wildcard.url, types: ["BatchJobQueued"] })).toMatchObject({ code: "EventTypeNotSubscribable" });
    expect(await refused({ url: wildcard.url, secret: "hunter2" })).toMatchObject({ code: "InvalidSecret" });
    expect(silent.handshakes).toHaveLength(1);
    // A wildcard answer passes, and a given secret is kept.
    const secret = `whsec_${Buffer.alloc(32, 7).toString("base64")}`;
    expect((await subscribe(wildcard.url, { secret })).secret).toBe(secret);
  });

  it("a subscription belongs to its workspace: another workspace's key gets 404 and never sees it", async () => {
    const receiver = await startWebhookReceiver();
    cleanup.add(() => receiver.close());
    const { id } = await subscribe(receiver.url);
    expect((await call("GET", `/v1/subscriptions/${id}`, KEY_A)).body).toMatchObject({ id, workspace: "ws-a", types: [EventTypes.EndpointUpdated], shortTypes: ["EndpointUpdated"] });
    expect((await call("GET", `/v1/subscriptions/${id}`, KEY_A)).body["secret"]).toBeUndefined();
    expect((await call("GET", `/v1/subscriptions/${id}`, KEY_B)).status).toBe(404);
    expect((await call("GET", `/v1/subscriptions/${id}/deliveries`, KEY_B)).status).toBe(404);
    expect((await call("DELETE", `/v1/subscriptions/${id}`, KEY_B)).status).toBe(404);
    const listed = (await call("GET", "/v1/subscriptions", KEY_B)).body["value"] as Array<{ id: string }>;
    expect(listed.map((s) => s.id)).not.toContain(id);
    expect(((await call("GET", "/v1/subscriptions", ADMIN)).body["value"] as Array<{ id: string }>).map((s) => s.id)).toContain(id);
    expect((await call("POST", "/v1/subscriptions", KEY_B, { url: receiver.url, types: ["EndpointUpdated"], workspace: "ws-a" })).status).toBe(404);
    expect((await call("GET", "/v1/subscriptions", "not-a-key-at-all-0123")).status).toBe(401);
    expect((await call("DELETE", `/v1/subscriptions/${id}`, KEY_A)).status).toBe(204);
    expect((await call("GET", `/v1/subscriptions/${id}`, KEY_A)).status).toBe(404);
  });

  it("a notifier stopped between attempts resumes after a restart and completes the delivery once", async () => {
    const receiver = await startWebhookReceiver({ statuses: [500, 200] });
    cleanup.add(() => receiver.close());
    const { id } = await subscribe(receiver.url);
    options.retryScheduleMs = [1_500];
    try {
      await notifier.stop(0);
      notifier = await startNotifier();
      const event = endpointUpdated("ws-a");
      await bus.publish(event);
      await waitFor(async () => (await deliveries(id))[0]?.attempts[0]?.outcome === "failed", { description: "the first attempt recorded" });
      await notifier.stop(0);
      expect(receiver.received).toHaveLength(1);
      notifier = await startNotifier();
      const delivered = await settled(id, "delivered");
      expect(delivered.attempts.map((a) => a.statusCode)).toEqual([500, 200]);
      expect(receiver.received.map((r) => [r.headers["webhook-id"], r.status])).toEqual([
        [event.id, 500],
        [event.id, 200],
      ]);
    } finally {
      options.retryScheduleMs = [40, 40];
    }
  });

  it("an attempt a crashed process left in flight shows as interrupted and is sent again once its claim runs out", async () => {
    const receiver = await startWebhookReceiver();
    cleanup.add(() => receiver.close());
    const { id } = await subscribe(receiver.url);
    const event = endpointUpdated("ws-a");
    const past = new Date(Date.now() - 60_000).toISOString();
    // What a process killed after claiming (and perhaps sending) leaves behind.
    const doc: DeliveryDocument = {
      id: event.id,
      subscriptionId: id,
      eventId: event.id,
      eventType: event.type,
      event: JSON.parse(JSON.stringify(event)) as Record<string, unknown>,
      state: "pending",
      round: 1,
      attempts: [{ n: 1, round: 1, startedAt: past, outcome: "in-flight" }],
      nextAttemptAt: past,
      lease: { owner: "a-dead-process", until: past },
      createdAt: past,
    };
    await store.put(pendingBlob(id, event.id), "");
    await store.put(deliveryBlob(id, event.id), JSON.stringify(doc));
    const delivered = await settled(id, "delivered");
    expect(delivered.attempts.map((a) => a.outcome)).toEqual(["interrupted", "delivered"]);
    expect(delivered.attempts[0]?.error).toContain("webhook-id");
    expect(receiver.received).toHaveLength(1);
  });
});
