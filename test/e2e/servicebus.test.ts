// The retraining loop once more with every service on Azure Service Bus instead of NATS — selected
// by configuration alone (BUS=servicebus + a connection string) — over the AMQP test peer and Azurite:
// upload → trained → approved → endpoint updated, each service its own OS process.
import { EventTypes, type AnyEvent } from "@retrain/contracts";
import { Cleanup, waitFor } from "@retrain/testing";
import { startDeployment, trainThroughBes, type Deployment } from "./deployment.js";
import { buildAll } from "./processes.js";
import { CHURN_TRAINING_SERVICE, churnCsv } from "./churn.js";

/** The consumer groups of the services the run passes through (each a subscription of the topic). */
const GROUPS = ["trainer", "trainer-jobs", "evaluator", "classic-promoter", "new-promoter", "ingestion", "registry", "notifier", "scoring-jobs", "e2e-observer"];
const TERMINAL = new Set<string>([EventTypes.EndpointUpdated, EventTypes.PromotionFailed, EventTypes.ModelRejected, EventTypes.TrainingFailed]);


describe("the retraining loop across processes on Azure Service Bus (AMQP test peer + Azurite)", () => {
  const cleanup = new Cleanup();
  let deployment: Deployment;
  let events: AnyEvent[] = [];
  let webServiceId = "";

  const call = async (base: string, method: string, path: string, body?: unknown, contentType = "application/json"): Promise<{ status: number; body: unknown }> => {
    const response = await fetch(`${base}${path}`, {
      method,
      headers: { authorization: `Bearer ${deployment.key}`, ...(body !== undefined ? { "content-type": contentType } : {}) },
      ...(body !== undefined ? { body: typeof body === "string" ? body : JSON.stringify(body) } : {}),
    });
    const text = await response.text();
    return { status: response.status, body: text === "" ? undefined : (JSON.parse(text) as unknown) };
  };

  beforeAll(async () => {
    buildAll();
    deployment = await startDeployment({
      bus: "servicebus",
      config: [
        ...CHURN_TRAINING_SERVICE,
        "pipelines:",
        "  - name: churn",
        "    trainingWebService: { workspace: e2e, service: churn-training }",
        "    evaluation: { mode: automatic, primaryMetric: AUC, threshold: 0.6 }",
        `    targets: [ { kind: classic, workspace: e2e, webService: churn, endpoint: ep1, resourceName: "Churn [trained model]", createIfMissing: true } ]`,
        "    split: { fraction: 0.25, seed: 11 }",
      ],
    });
    cleanup.add(() => deployment.stop());
    events = deployment.events;
    // A service listens on its port before it subscribes, and a Service Bus subscription receives
    // only what is published after it exists: wait until every group's subscription does.
    const topic = String(deployment.env["SERVICEBUS_TOPIC"]);
    await waitFor(() => GROUPS.every((group) => deployment.servicebus?.subscriptions(topic).includes(group)), {
      timeoutMs: 60_000,
      description: "every service's subscriptions",
    });
    const model0 = await trainThroughBes(deployment, "churn-training", churnCsv(3000, 1));
    const classic = await call(deployment.scoring.url, "POST", "/v1/workspaces/e2e/webservices", {
      name: "churn",
      resourceName: "Churn [trained model]",
      model: { location: model0 },
      modelId: "initial",
    });
    expect(classic.status).toBe(201);
    webServiceId = (classic.body as { webService: { Id: string } }).webService.Id;
  }, 240_000);
  afterAll(() => cleanup.run(), 60_000);

  it("upload → trained → approved → endpoint updated, every event through Service Bus; RRS serves the run's model", async () => {
    expect(deployment.observer.kind).toBe("servicebus");
    const accepted = (await call(deployment.ingestion.url, "PUT", "/v1/pipelines/churn/datasets", churnCsv(4000, 2), "text/csv")).body as { runId: string };
    const end = await waitFor(() => events.find((e) => TERMINAL.has(e.type) && (e.data as { runId: string }).runId === accepted.runId), {
      timeoutMs: 90_000,
      description: `run ${accepted.runId} to end`,
    });
    expect(end.type).toBe(EventTypes.EndpointUpdated);
    if (end.type !== EventTypes.EndpointUpdated) return;
    const seen = events.filter((e) => (e.data as { runId?: string }).runId === accepted.runId).map((e) => e.type);
    expect(seen).toEqual(expect.arrayContaining([EventTypes.DataArrived, EventTypes.ModelTrained, EventTypes.ModelApproved, EventTypes.EndpointUpdated]));

    const endpoint = (await call(deployment.scoring.url, "GET", `/workspaces/e2e/webservices/${webServiceId}/endpoints/ep1`)).body as { ApiLocation: string; PrimaryKey: string };
    const response = await fetch(`${endpoint.ApiLocation}/execute?api-version=2.0`, {
      method: "POST",
      headers: { authorization: `Bearer ${endpoint.PrimaryKey}`, "content-type": "application/json" },
      body: JSON.stringify({ Inputs: { input1: { ColumnNames: ["tenure", "charges", "plan"], Values: [["3", "99.5", "basic"]] } }, GlobalParameters: {} }),
    });
    expect(response.status).toBe(200);
    expect(response.headers.get("x-retrain-model") ?? "").toContain(end.data.model.modelId);

    // Each service's consumer group is a subscription of the deployment's topic, and nothing was dead-lettered.
    const topic = String(deployment.env["SERVICEBUS_TOPIC"]);
    const subscriptions = deployment.servicebus?.subscriptions(topic) ?? [];
    expect(subscriptions).toEqual(expect.arrayContaining(GROUPS));
    for (const group of subscriptions) {
      expect(deployment.servicebus?.counts(`${topic}/Subscriptions/${group}/$DeadLetterQueue`)).toMatchObject({ active: 0 });
    }
  }, 120_000);
});
