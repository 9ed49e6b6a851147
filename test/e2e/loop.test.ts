// The whole retraining loop with every service as its own OS process over a real nats-server and
// Azurite: ingestion → trainer (BES) → evaluator → classic-promoter / new-promoter → scoring.
import { EventTypes, type AnyEvent } from "@retrain/contracts";
import { Cleanup, waitFor, type ServiceProcess } from "@retrain/testing";
import { startDeployment, trainThroughBes, type Deployment } from "./deployment.js";
import { buildAll } from "./processes.js";
import { CHURN_TRAINING_SERVICE, churnCsv } from "./churn.js";

let ADMIN = "";
let KEY = "";
const TERMINAL = new Set<string>([EventTypes.EndpointUpdated, EventTypes.PromotionFailed, EventTypes.ModelRejected, EventTypes.TrainingFailed]);


describe("the retraining loop across processes (NATS JetStream + Azurite)", () => {
  const cleanup = new Cleanup();
  let deployment: Deployment;
  let events: AnyEvent[] = [];
  let scoring: ServiceProcess;
  let ingestion: ServiceProcess;
  let evaluator: ServiceProcess;
  let classicWebServiceId = "";

  const call = async (base: string, method: string, path: string, body?: unknown, contentType = "application/json"): Promise<{ status: number; body: unknown; headers: Headers }> => {
    const response = await fetch(`${base}${path}`, {
      method,
      headers: { authorization: `Bearer ${KEY}`, ...(body !== undefined ? { "content-type": contentType } : {}) },
      ...(body !== undefined ? { body: typeof body === "string" ? body : JSON.stringify(body) } : {}),
    });
    const text = await response.text();
    let parsed: unknown = text;
    try {
      parsed = text === "" ? undefined : JSON.parse(text);
    } catch {
      // not JSON
    }
    return { status: response.status, body: parsed, headers: response.headers };
  };

  const endOf = (runId: string) =>
    waitFor(() => events.find((e) => TERMINAL.has(e.type) && (e.data as { runId: string }).runId === runId), { timeoutMs: 90_000, description: `run ${runId} to end` });

  async function servedModel(): Promise<string> {
    const endpoint = (await call(scoring.url, "GET", `/workspaces/e2e/webservices/${classicWebServiceId}/endpoints/ep1`)).body as { ApiLocation: string; PrimaryKey: string };
    const response = await fetch(`${endpoint.ApiLocation}/execute?api-version=2.0`, {
      method: "POST",
      headers: { authorization: `Bearer ${endpoint.PrimaryKey}`, "content-type": "application/json" },
      body: JSON.stringify({ Inputs: { input1: { ColumnNames: ["tenure", "charges", "plan"], Values: [["3", "99.5", "basic"]] } }, GlobalParameters: {} }),
    });
    expect(response.status).toBe(200);
    return response.headers.get("x-retrain-model") ?? "";
  }

  beforeAll(async () => {
    buildAll();
    const target = (webService: string) => `{ kind: classic, workspace: e2e, webService: ${webService}, endpoint: ep1, resourceName: "Churn [trained model]", createIfMissing: true }`;
    deployment = await startDeployment({
      config: [
        ...CHURN_TRAINING_SERVICE,
        "pipelines:",
        "  - name: churn",
        "    trainingWebService: { workspace: e2e, service: churn-training }",
        "    evaluation: { mode: automatic, primaryMetric: AUC, threshold: 0.6 }",
        `    targets: [ ${target("churn")} ]`,
        "    split: { fraction: 0.25, seed: 11 }",
        "  - name: churn-arm",
        "    trainingWebService: { workspace: e2e, service: churn-training }",
        "    evaluation: { mode: automatic, primaryMetric: AUC, threshold: 0.6 }",
        `    targets: [ { kind: new, subscription: sub-e2e, resourceGroup: rg-e2e, webService: churn-arm, resourceName: "Churn [trained model]" } ]`,
        "    split: { fraction: 0.25, seed: 12 }",
      ],
    });
    cleanup.add(() => deployment.stop());
    KEY = deployment.key;
    ADMIN = deployment.adminKey;
    events = deployment.events;
    scoring = deployment.scoring;
    ingestion = deployment.ingestion;
    evaluator = deployment.evaluator;

    // The seed's starting point: a first model from the training web service (BES), published as
    // a classic predictive web service and as a new (ARM) web service.
    const model0 = await trainThroughBes(deployment, "churn-training", churnCsv(3000, 1));

    const classic = await call(scoring.url, "POST", "/v1/workspaces/e2e/webservices", { name: "churn", resourceName: "Churn [trained model]", model: { location: model0 }, modelId: "initial" });
    expect(classic.status).toBe(201);
    classicWebServiceId = (classic.body as { webService: { Id: string } }).webService.Id;
    const arm = await call(scoring.url, "POST", "/v1/workspaces/e2e/webservices", {
      name: "churn-arm",
      kind: "new",
      subscription: "sub-e2e",
      resourceGroup: "rg-e2e",
      resourceName: "Churn [trained model]",
      model: { location: model0 },
      modelId: "initial",
    });
    expect(arm.status).toBe(201);
  }, 240_000);
  afterAll(() => cleanup.run(), 60_000);

  it("classic target: upload → trained → approved → endpoint created and PATCHed; RRS answers with the run's model", async () => {
    const accepted = (await call(ingestion.url, "PUT", "/v1/pipelines/churn/datasets", churnCsv(4000, 2), "text/csv")).body as { runId: string; runSequence: number };
    const end = await endOf(accepted.runId);
    expect(end.type).toBe(EventTypes.EndpointUpdated);
    if (end.type !== EventTypes.EndpointUpdated) return;
    expect(end.data.target).toMatchObject({ kind: "classic", endpoint: "ep1" });
    const trained = events.find((e) => e.type === EventTypes.ModelTrained && e.data.runId === accepted.runId);
    expect(trained).toBeDefined();
    expect(await servedModel()).toContain(end.data.model.modelId);
  }, 120_000);

  it("the same dataset uploaded again is the same run; a rejected run leaves the endpoint unchanged", async () => {
    const csv = churnCsv(4000, 2);
    const again = (await call(ingestion.url, "PUT", "/v1/pipelines/churn/datasets", csv, "text/csv")).body as { runId: string; deduplicated: boolean };
    expect(again.deduplicated).toBe(true);
    expect(events.filter((e) => e.type === EventTypes.DataArrived && e.data.runId === again.runId)).toHaveLength(1);
    const before = await servedModel();
    const noise = (await call(ingestion.url, "PUT", "/v1/pipelines/churn/datasets", churnCsv(3000, 3, { noise: true }), "text/csv")).body as { runId: string };
    const end = await endOf(noise.runId);
    expect(end.type).toBe(EventTypes.ModelRejected);
    expect(await servedModel()).toBe(before);
  }, 120_000);

  it("new (ARM) target: the web service's trained-model asset is swapped through the async pattern", async () => {
    // Drifted data: the initial model (the champion) no longer fits, so the challenger wins on the same holdout.
    const accepted = (await call(ingestion.url, "PUT", "/v1/pipelines/churn-arm/datasets", churnCsv(4000, 4, { drift: true }), "text/csv")).body as { runId: string };
    const end = await endOf(accepted.runId);
    expect(end.type).toBe(EventTypes.EndpointUpdated);
    if (end.type !== EventTypes.EndpointUpdated) return;
    expect(end.data.target).toMatchObject({ kind: "new", webService: "churn-arm" });
    const current = await fetch(`${scoring.url}/v1/subscriptions/sub-e2e/resourceGroups/rg-e2e/webServices/churn-arm/model`, { headers: { authorization: `Bearer ${ADMIN}` } });
    expect(current.status).toBe(200);
    expect(((await current.json()) as { modelId: string }).modelId).toBe(end.data.model.modelId);
  }, 120_000);

  it("manual approval: the run waits, a person approves over HTTP (recorded), then it is promoted", async () => {
    const pipeline = {
      trainingWebService: { workspace: "e2e", service: "churn-training" },
      evaluation: { mode: "manual", primaryMetric: "AUC" },
      targets: [{ kind: "classic", workspace: "e2e", webService: "churn", endpoint: "manual", resourceName: "Churn [trained model]", createIfMissing: true }],
      split: { fraction: 0.25, seed: 13 },
    };
    expect((await call(ingestion.url, "PUT", "/v1/pipelines/churn-manual", pipeline)).status).toBeLessThan(300);
    const accepted = (await call(ingestion.url, "PUT", "/v1/pipelines/churn-manual/datasets", churnCsv(3000, 5), "text/csv")).body as { runId: string };
    await waitFor(() => events.find((e) => e.type === EventTypes.ModelAwaitingApproval && e.data.runId === accepted.runId), { timeoutMs: 60_000 });
    expect(events.some((e) => TERMINAL.has(e.type) && (e.data as { runId: string }).runId === accepted.runId)).toBe(false);
    // Approving is an admin decision (docs/security.md): the workspace key is refused with 403.
    expect((await call(evaluator.url, "POST", `/v1/runs/${accepted.runId}/approve`, { reason: "checked the lift chart" })).status).toBe(403);
    const approved = await fetch(`${evaluator.url}/v1/runs/${accepted.runId}/approve`, {
      method: "POST",
      headers: { authorization: `Bearer ${ADMIN}`, "content-type": "application/json" },
      body: JSON.stringify({ reason: "checked the lift chart" }),
    });
    expect(approved.status).toBe(200);
    const end = await endOf(accepted.runId);
    expect(end.type).toBe(EventTypes.EndpointUpdated);
    const approval = events.find((e) => e.type === EventTypes.ModelApproved && e.data.runId === accepted.runId);
    expect(approval?.type === EventTypes.ModelApproved && approval.data).toMatchObject({ kind: "manual", approvedBy: "admin" });
  }, 120_000);

  it("per customer: one training web service, 10 endpoints, 10 datasets → each endpoint serves its own model", async () => {
    const customers = Array.from({ length: 10 }, (_, i) => `cust-${i}`);
    for (const customer of customers) {
      const pipeline = {
        trainingWebService: { workspace: "e2e", service: "churn-training" },
        evaluation: { mode: "automatic", primaryMetric: "AUC", threshold: 0.5 },
        targets: [{ kind: "classic", workspace: "e2e", webService: "churn", endpoint: customer, resourceName: "Churn [trained model]", createIfMissing: true }],
        split: { fraction: 0.25, seed: 21 },
      };
      expect((await call(ingestion.url, "PUT", `/v1/pipelines/${customer}`, pipeline)).status).toBeLessThan(300);
    }
    const runs = await Promise.all(
      customers.map(async (customer, i) => {
        const csv = churnCsv(2000, 100 + i, { drift: i % 2 === 1, weight: 0.5 + i * 0.3 });
        return ((await call(ingestion.url, "PUT", `/v1/pipelines/${customer}/datasets`, csv, "text/csv")).body as { runId: string }).runId;
      }),
    );
    const ends = await Promise.all(runs.map((runId) => endOf(runId)));
    expect(ends.map((e) => e.type)).toEqual(customers.map(() => EventTypes.EndpointUpdated));
    const probabilities = await Promise.all(
      customers.map(async (customer) => {
        const endpoint = (await call(scoring.url, "GET", `/workspaces/e2e/webservices/${classicWebServiceId}/endpoints/${customer}`)).body as { ApiLocation: string; PrimaryKey: string };
        const response = await fetch(`${endpoint.ApiLocation}/execute?api-version=2.0`, {
          method: "POST",
          headers: { authorization: `Bearer ${endpoint.PrimaryKey}`, "content-type": "application/json" },
          body: JSON.stringify({ Inputs: { input1: { ColumnNames: ["tenure", "charges", "plan"], Values: [["3", "99.5", "basic"]] } }, GlobalParameters: {} }),
        });
        const body = (await response.json()) as { Results: { output1: { value: { Values: string[][] } } } };
        return body.Results.output1.value.Values[0]?.[1];
      }),
    );
    expect(new Set(probabilities).size).toBe(10);
  }, 180_000);
});
