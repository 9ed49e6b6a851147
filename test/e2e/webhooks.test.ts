// Webhook subscriptions across processes: the notifier as its own OS process over a real nats-server
// and Azurite, real HTTP receivers, the `retrain` CLI, and a team's own durable NATS consumer
// (docs/examples/nats-subscriber.ts) on the same deployment.
import { createHmac } from "node:crypto";
import { retrain } from "@retrain/cli/testing";
import { EVENT_TYPE_PROPERTY } from "@retrain/bus";
import { createEvent, encodeEvent, EventTypes, exampleData, parseEvent, ulid, type AnyEvent, type EventValidationError } from "@retrain/contracts";
import { startWebhookReceiver, type ReceivedWebhook, type WebhookReceiver } from "@retrain/notifier/testing";
import { ServiceBusClient } from "@azure/service-bus";
import { Cleanup, startServiceBusPeer, waitFor } from "@retrain/testing";
import { subscribeToRetrainEvents, type RetrainSubscriber } from "../../docs/examples/nats-subscriber.js";
import { receiveRetrainEvents, setTypeRules, TYPE_PROPERTY } from "../../docs/examples/servicebus-subscriber.js";
import { startDeployment, trainThroughBes, type Deployment } from "./deployment.js";
import { buildAll } from "./processes.js";
import { CHURN_TRAINING_SERVICE, churnCsv } from "./churn.js";


/** Checks a Standard Webhooks signature with nothing but the secret (as a receiver would). */
function signatureVerifies(secret: string, webhook: ReceivedWebhook): boolean {
  const key = Buffer.from(secret.replace(/^whsec_/, ""), "base64");
  const { "webhook-id": id, "webhook-timestamp": timestamp, "webhook-signature": signature } = webhook.headers;
  return signature === `v1,${createHmac("sha256", key).update(`${id}.${timestamp}.${webhook.body}`).digest("base64")}`;
}

interface DeliveryView {
  readonly id: string;
  readonly eventId: string;
  readonly state: string;
  readonly attempts: ReadonlyArray<{ readonly n: number; readonly outcome: string; readonly statusCode?: number }>;
}

describe("webhooks across processes (notifier over NATS JetStream + Azurite)", () => {
  const cleanup = new Cleanup();
  let deployment: Deployment;
  let notifierUrl = "";
  const teamEvents: AnyEvent[] = [];
  const teamInvalid: EventValidationError[] = [];
  let team: RetrainSubscriber;

  const cli = (key: string, ...argv: string[]) => retrain(argv, { key, workspace: "e2e", serviceUrls: { notifier: notifierUrl } });

  async function subscribe(receiver: WebhookReceiver, ...flags: string[]): Promise<{ id: string; secret: string }> {
    const run = await cli(deployment.key, "--json", "subscribe", receiver.url, ...flags);
    expect(run.stderr).toBe("");
    expect(run.code).toBe(0);
    return run.json<{ id: string; secret: string }>();
  }

  async function deliveries(id: string): Promise<DeliveryView[]> {
    const response = await fetch(`${notifierUrl}/v1/subscriptions/${id}/deliveries`, { headers: { authorization: `Bearer ${deployment.key}` } });
    expect(response.status).toBe(200);
    return ((await response.json()) as { value: DeliveryView[] }).value;
  }

  beforeAll(async () => {
    buildAll();
    deployment = await startDeployment({
      config: [
        ...CHURN_TRAINING_SERVICE,
        "pipelines:",
        "  - name: churn",
        "    trainingWebService: { workspace: e2e, service: churn-training }",
        "    evaluation: { mode: automatic, primaryMetric: AUC, threshold: 0.6 }",
        `    targets: [ { kind: classic, workspace: e2e, webService: churn, endpoint: ep1, resourceName: "Churn [trained model]", createIfMissing: true } ]`,
        "    split: { fraction: 0.25, seed: 11 }",
      ],
      // Retries 3 s apart: room to kill the notifier between two attempts.
      env: { NOTIFIER_RETRY_SCHEDULE: "3s,3s", NOTIFIER_SCAN_INTERVAL: "500ms", NOTIFIER_TIMEOUT: "5s" },
    });
    cleanup.add(() => deployment.stop());
    notifierUrl = deployment.notifier.url;
    // A team's own durable consumer, straight on the deployment's NATS (docs/examples/nats-subscriber.ts).
    team = await subscribeToRetrainEvents({
      servers: deployment.nats.url,
      prefix: deployment.env["NATS_PREFIX"] ?? "retrain",
      durable: "team-e2e",
      types: [EventTypes.EndpointUpdated],
      onEvent: async (event) => void teamEvents.push(event),
      onInvalid: (error) => void teamInvalid.push(error),
    });
    cleanup.add(() => team.close());

    const model0 = await trainThroughBes(deployment, "churn-training", churnCsv(3000, 1));
    const created = await fetch(`${deployment.scoring.url}/v1/workspaces/e2e/webservices`, {
      method: "POST",
      headers: { authorization: `Bearer ${deployment.key}`, "content-type": "application/json" },
      body: JSON.stringify({ name: "churn", resourceName: "Churn [trained model]", model: { location: model0 }, modelId: "initial" }),
    });
    expect(created.status).toBe(201);
  }, 240_000);
  afterAll(() => cleanup.run(), 60_000);

  it("after a run, the receiver got exactly one signed EndpointUpdated whose signature verifies; a team's own NATS consumer validated it too", async () => {
    const receiver = await startWebhookReceiver();
    cleanup.add(() => receiver.close());
    const { id, secret } = await subscribe(receiver, "--types", "EndpointUpdated,ModelRejected", "--pipeline", "churn");
    expect(secret).toMatch(/^whsec_/);

    const upload = await fetch(`${deployment.ingestion.url}/v1/pipelines/churn/datasets`, {
      method: "PUT",
      headers: { authorization: `Bearer ${deployment.key}`, "content-type": "text/csv" },
      body: churnCsv(4000, 2),
    });
    expect(upload.status).toBeLessThan(300);
    const { runId } = (await upload.json()) as { runId: string };
    const updated = await waitFor(() => deployment.events.find((e) => e.type === EventTypes.EndpointUpdated && e.data.runId === runId), {
      timeoutMs: 90_000,
      description: `run ${runId} to update its endpoint`,
    });
    // The delivery log says delivered once the receiver's 200 is recorded: the count below is final.
    await waitFor(async () => (await deliveries(id)).find((d) => d.eventId === updated.id && d.state === "delivered"), { timeoutMs: 30_000, description: "the delivery recorded" });
    expect(receiver.received).toHaveLength(1);
    const [webhook] = receiver.received;
    if (webhook === undefined) return;
    expect(webhook.headers["content-type"]).toBe("application/cloudevents+json");
    expect(webhook.headers["webhook-id"]).toBe(updated.id);
    expect(signatureVerifies(secret, webhook)).toBe(true);
    const received = parseEvent(JSON.parse(webhook.body));
    expect(received.type).toBe(EventTypes.EndpointUpdated);
    expect(received.id).toBe(updated.id);
    expect(received.type === EventTypes.EndpointUpdated && received.data).toMatchObject({ runId, pipeline: "churn", target: { kind: "classic", webService: "churn", endpoint: "ep1" } });

    // The team's durable consumer got the same event, validated against the contracts schemas.
    const seen = await waitFor(() => teamEvents.find((e) => e.id === updated.id), { timeoutMs: 10_000, description: "the team's consumer to see the event" });
    expect(seen.type).toBe(EventTypes.EndpointUpdated);
    // A message that is not a Retrain event is refused by the example's validation, not handed on.
    await deployment.observer.publishRaw(EventTypes.EndpointUpdated, Buffer.from(JSON.stringify({ specversion: "1.0", id: "x", type: EventTypes.EndpointUpdated })));
    const invalid = await waitFor(() => teamInvalid[0], { description: "the invalid message to be reported" });
    expect(invalid.code).toBe("SchemaInvalid");
    expect(teamEvents.filter((e) => e.id === updated.id)).toHaveLength(1);
  }, 150_000);

  it("a notifier killed (SIGKILL) between attempts completes the delivery after its restart, exactly once", async () => {
    const receiver = await startWebhookReceiver({ statuses: [500, 200] });
    cleanup.add(() => receiver.close());
    const { id, secret } = await subscribe(receiver, "--types", "EndpointUpdated", "--pipeline", "webhook-kill");
    const example = exampleData(EventTypes.EndpointUpdated);
    const event = createEvent(
      EventTypes.EndpointUpdated,
      { ...example, runId: ulid(), pipeline: "webhook-kill", target: { ...example.target, workspace: "e2e" } as typeof example.target },
      { source: "/retrain/classic-promoter" },
    );
    await deployment.observer.publish(event);
    await waitFor(async () => (await deliveries(id))[0]?.attempts[0]?.statusCode === 500, { timeoutMs: 20_000, description: "the first attempt (500) recorded" });
    const notifier = deployment.services.find((s) => s.name === "notifier");
    if (notifier === undefined) throw new Error("no notifier process");
    await notifier.kill("SIGKILL");
    // Killed before the retry was due (3 s after the first attempt).
    expect(receiver.received).toHaveLength(1);

    await notifier.restart();
    const delivered = await waitFor(async () => (await deliveries(id)).find((d) => d.state === "delivered"), { timeoutMs: 30_000, description: "the delivery after the restart" });
    expect(delivered.attempts.map((a) => [a.n, a.statusCode])).toEqual([
      [1, 500],
      [2, 200],
    ]);
    expect(receiver.received.map((r) => [r.headers["webhook-id"], r.status])).toEqual([
      [event.id, 500],
      [event.id, 200],
    ]);
    expect(receiver.received.every((r) => signatureVerifies(secret, r))).toBe(true);
  }, 90_000);

  it("refuses registrations without the handshake, over plain http, and to a metadata address, with clear errors", async () => {
    const silent = await startWebhookReceiver({ handshake: "none" });
    cleanup.add(() => silent.close());
    const noHandshake = await cli(deployment.key, "subscribe", silent.url, "--types", "EndpointUpdated");
    expect(noHandshake.code).toBe(1);
    expect(noHandshake.stderr).toContain("400 HandshakeFailed");
    expect(noHandshake.stderr).toContain("answered the validation handshake (OPTIONS with WebHook-Request-Origin: retrain-notifier) with 405");
    const plain = await cli(deployment.key, "subscribe", "http://hooks.example.com/retrain", "--types", "EndpointUpdated");
    expect(plain.code).toBe(1);
    expect(plain.stderr).toContain("400 HttpsRequired");
    expect(plain.stderr).toContain("the webhook URL must be https");
    const metadata = await cli(deployment.key, "subscribe", "https://169.254.169.254/latest/meta-data/", "--types", "EndpointUpdated");
    expect(metadata.code).toBe(1);
    expect(metadata.stderr).toContain("400 AddressNotAllowed");
    expect(metadata.stderr).toContain("169.254.169.254, a link-local or cloud metadata address");
    const listed = await cli(deployment.key, "--json", "subscriptions");
    expect(listed.json<{ value: Array<{ url: string }> }>().value.map((s) => s.url)).not.toContain(silent.url);
  });
});

// The Service Bus recipe's logic against the AMQP test peer (no Service Bus emulator runs here): the
// rule from the recipe keeps the wanted types, valid events are handed on, invalid ones dead-lettered.
describe("the Service Bus recipe (docs/examples/servicebus-subscriber.ts) against the AMQP test peer", () => {
  const cleanup = new Cleanup();
  afterAll(() => cleanup.run());

  it("a subscription with the recipe's rules on the adapter's type property receives only those types, validated; an invalid message is dead-lettered with the reason", async () => {
    const peer = await startServiceBusPeer();
    cleanup.add(() => peer.stop());
    peer.createTopic("retrain");
    peer.createSubscription("retrain", "storefront");
    const client = new ServiceBusClient(peer.connectionString);
    cleanup.add(() => client.close());
    await setTypeRules(client, "retrain", "storefront", [EventTypes.EndpointUpdated, EventTypes.ModelRejected]);
    // Safe to run again.
    await setTypeRules(client, "retrain", "storefront", [EventTypes.EndpointUpdated, EventTypes.ModelRejected]);
    // The property the recipe filters on is the one the Service Bus adapter sends.
    expect(TYPE_PROPERTY).toBe(EVENT_TYPE_PROPERTY);

    const example = exampleData(EventTypes.EndpointUpdated);
    const updated = createEvent(EventTypes.EndpointUpdated, { ...example, runId: ulid() }, { source: "/retrain/classic-promoter" });
    const rejected = createEvent(EventTypes.ModelRejected, { ...exampleData(EventTypes.ModelRejected), runId: ulid() }, { source: "/retrain/evaluator" });
    const trained = createEvent(EventTypes.ModelTrained, { ...exampleData(EventTypes.ModelTrained), runId: ulid() }, { source: "/retrain/trainer" });
    const sender = client.createSender("retrain");
    for (const event of [updated, trained, rejected]) {
      // As the Service Bus adapter sends an event: the encoded CloudEvent, the type as property and subject.
      await sender.sendMessages({ body: encodeEvent(event), messageId: event.id, contentType: "application/cloudevents+json; charset=utf-8", subject: event.type, applicationProperties: { [TYPE_PROPERTY]: event.type } });
    }
    await sender.sendMessages({ body: Buffer.from('{"specversion":"1.0","id":"bad"}'), messageId: "bad", applicationProperties: { [TYPE_PROPERTY]: EventTypes.EndpointUpdated } });
    await sender.close();

    const received: AnyEvent[] = [];
    const invalid: EventValidationError[] = [];
    const running = await receiveRetrainEvents({
      connectionString: peer.connectionString,
      topic: "retrain",
      subscription: "storefront",
      onEvent: async (event) => void received.push(event),
      onInvalid: (error) => void invalid.push(error),
    });
    cleanup.add(() => running.close());
    await waitFor(() => received.length === 2 && invalid.length === 1, { description: "two events and one invalid message" });
    expect(received.map((e) => e.id)).toEqual([updated.id, rejected.id]);
    expect(invalid[0]?.code).toBe("SchemaInvalid");
    await waitFor(() => peer.counts("retrain/Subscriptions/storefront/$DeadLetterQueue").active === 1, { description: "the invalid message dead-lettered" });
    await waitFor(() => peer.counts("retrain/Subscriptions/storefront").active === 0, { description: "the valid ones completed" });
  });
});
