// Conformance of the classic surface: publishing, management API (web services, endpoints, PATCH,
// refresh), RRS execute and its errors, keys. Real stores, real models, a real HTTP server.
import { applyScoringSection, ScoringFileSection } from "./config-file.js";
import { json, startScoring, type ScoringHarness } from "./test-support/harness.js";
import { corrupt, trainLogisticModel } from "./test-support/models.js";

let h: ScoringHarness;
const modelA = trainLogisticModel({ seed: 1, weights: [2, -1, 0.5] });
const modelB = trainLogisticModel({ seed: 2, weights: [-2, 1, -0.5] });

beforeAll(async () => {
  h = await startScoring();
});
afterAll(async () => {
  await h.close();
});

interface Published {
  id: string;
  defaultEndpoint: Record<string, unknown>;
}

async function publish(name: string, extra: Record<string, unknown> = {}): Promise<Published> {
  const location = await h.source.put(`models/${name}.ilearner`, modelA);
  const answer = await h.request("POST", `/v1/workspaces/${h.workspace}/webservices`, {
    key: h.workspaceKey,
    body: { name, model: { location }, ...extra },
  });
  expect(answer.status).toBe(201);
  const body = json(answer);
  const webService = body["webService"] as Record<string, unknown>;
  return { id: String(webService["Id"]), defaultEndpoint: body["defaultEndpoint"] as Record<string, unknown> };
}

const row = { ColumnNames: ["f0", "f1", "f2"], Values: [["0.5", "-0.25", "1"], ["-1", "0.75", "0"]] };

async function execute(apiLocation: string, key: string | undefined, body: unknown = { Inputs: { input1: row }, GlobalParameters: {} }, query = "api-version=2.0&details=true") {
  return h.request("POST", `${apiLocation}/execute?${query}`, { key, body });
}

describe("publishing and the classic web service API", () => {
  it("publishes a predictive web service with a default endpoint and lists it", async () => {
    const { id, defaultEndpoint } = await publish("Bike Rental Scoring");
    expect(defaultEndpoint).toMatchObject({
      Name: "default",
      WorkspaceId: h.workspace,
      WebServiceId: id,
      ThrottleLevel: "Low",
      MaxConcurrentCalls: 4,
      DiagnosticsTraceLevel: "None",
      Resources: [{ Name: "Bike Rental Scoring [trained model]", Kind: "TrainedModel" }],
    });
    expect(String(defaultEndpoint["ApiLocation"])).toMatch(new RegExp(`^${h.url}/workspaces/${h.workspace}/services/[0-9a-f]{32}$`));
    expect(String(defaultEndpoint["PrimaryKey"])).not.toBe(String(defaultEndpoint["SecondaryKey"]));

    const list = await h.request("GET", `/workspaces/${h.workspace}/webservices`, { key: h.workspaceKey });
    expect(list.status).toBe(200);
    expect(list.headers.get("x-ms-request-id")).toBeTruthy();
    expect(list.body).toEqual(expect.arrayContaining([expect.objectContaining({ Id: id, Name: "Bike Rental Scoring", DefaultEndpointName: "default", EndpointCount: 1 })]));

    const one = await h.request("GET", `/workspaces/${h.workspace}/webservices/${id}`, { key: h.workspaceKey });
    expect(one.status).toBe(200);
    expect(json(one)).toMatchObject({ Id: id, WorkspaceId: h.workspace, EndpointCount: 1 });
  });

  it("answers 204 for a workspace without web services, 404 for an unknown one", async () => {
    const empty = await h.request("GET", `/workspaces/ws2/webservices`, { key: h.adminKey });
    expect(empty.status).toBe(204);
    const missing = await h.request("GET", `/workspaces/${h.workspace}/webservices/nope`, { key: h.workspaceKey });
    expect(missing.status).toBe(404);
    expect(json(missing)).toEqual({ error: { code: "WebServiceNotFound", message: expect.any(String) } });
  });

  it("publishes from a blob name of the own store for admins only", async () => {
    await h.store.put("incoming/model.ilearner", modelA);
    const body = { name: "From Blob", model: { blob: "incoming/model.ilearner" } };
    const user = await h.request("POST", `/v1/workspaces/${h.workspace}/webservices`, { key: h.workspaceKey, body });
    expect(user.status).toBe(403);
    const admin = await h.request("POST", `/v1/workspaces/${h.workspace}/webservices`, { key: h.adminKey, body });
    expect(admin.status).toBe(201);
  });

  it("refuses a model that is not an .ilearner with 400 ModelUnreadable", async () => {
    const location = await h.source.put("models/garbage.ilearner", corrupt(modelA));
    const answer = await h.request("POST", `/v1/workspaces/${h.workspace}/webservices`, { key: h.workspaceKey, body: { name: "Broken", model: { location } } });
    expect(answer.status).toBe(400);
    expect(json(answer)).toMatchObject({ error: { code: "ModelUnreadable" } });
  });
});

describe("RRS execute", () => {
  let api: string;
  let primary: string;
  let secondary: string;
  beforeAll(async () => {
    const { defaultEndpoint } = await publish("RRS Service");
    api = String(defaultEndpoint["ApiLocation"]);
    primary = String(defaultEndpoint["PrimaryKey"]);
    secondary = String(defaultEndpoint["SecondaryKey"]);
  });

  it("scores the classic table format with ColumnTypes when details=true", async () => {
    const answer = await execute(api, primary);
    expect(answer.status).toBe(200);
    const body = json(answer);
    const output = (body["Results"] as Record<string, unknown>)["output1"] as Record<string, unknown>;
    expect(output["type"]).toBe("table");
    const value = output["value"] as { ColumnNames: string[]; ColumnTypes: string[]; Values: string[][] };
    expect(value.ColumnNames).toEqual(["Scored Labels", "Scored Probabilities"]);
    expect(value.ColumnTypes).toEqual(["String", "Double"]);
    expect(value.Values).toHaveLength(2);
    for (const [label, probability] of value.Values) {
      expect(["yes", "no"]).toContain(label);
      expect(typeof probability).toBe("string");
      expect(Number(probability)).toBeGreaterThanOrEqual(0);
    }
    expect(answer.headers.get("x-retrain-model")).toMatch(/@r1$/);
  });

  it("omits ColumnTypes without details=true, and answers rows as objects with format=swagger", async () => {
    const plain = json(await execute(api, secondary, undefined, "api-version=2.0"));
    const value = ((plain["Results"] as Record<string, unknown>)["output1"] as Record<string, unknown>)["value"] as Record<string, unknown>;
    expect(value).not.toHaveProperty("ColumnTypes");
    const swagger = await execute(api, primary, { Inputs: { input1: [{ f0: 0.5, f1: "-0.25", f2: 1 }] }, GlobalParameters: {} }, "api-version=2.0&format=swagger");
    expect(swagger.status).toBe(200);
    expect(json(swagger)).toEqual({ Results: { output1: [{ "Scored Labels": expect.any(String), "Scored Probabilities": expect.any(String) }] } });
  });

  it("answers 401 ScoreRequestUnauthorized for a missing or wrong key, 404 for an unknown service", async () => {
    for (const key of [undefined, "wrong-key", h.workspaceKey]) {
      const answer = await execute(api, key);
      expect(answer.status).toBe(401);
      expect(json(answer)).toMatchObject({ error: { code: "Unauthorized", details: [{ code: "ScoreRequestUnauthorized" }] } });
    }
    const unknown = await execute(`${h.url}/workspaces/${h.workspace}/services/${"0".repeat(32)}`, primary);
    expect(unknown.status).toBe(404);
    expect(json(unknown)).toMatchObject({ error: { code: "NotFound", details: [{ code: "WebServiceNotFound" }] } });
  });

  it("answers 400 InputParseError for malformed input and a missing column", async () => {
    const bad = await execute(api, primary, { Inputs: { input1: { ColumnNames: ["f0", "f1", "f2"], Values: [["x", "1", "2"]] } } });
    expect(bad.status).toBe(400);
    expect(json(bad)).toMatchObject({ error: { code: "BadArgument", details: [{ code: "InputParseError" }] } });
    const shape = await execute(api, primary, { Inputs: {} });
    expect(json(shape)).toMatchObject({ error: { code: "BadArgument", details: [{ code: "InputParseError" }] } });
    const missing = await execute(api, primary, { Inputs: { input1: { ColumnNames: ["f0"], Values: [["1"]] } } });
    expect(missing.status).toBe(400);
    expect(json(missing)).toMatchObject({ error: { code: "BadArgument", details: [{ code: "MissingInputColumns" }] } });
    const notJson = await h.request("POST", `${api}/execute?api-version=2.0`, { key: primary, body: "{nope" });
    expect(notJson.status).toBe(400);
  });

  it("serves swagger.json", async () => {
    const answer = await h.request("GET", `${api}/swagger.json`, { key: primary });
    expect(answer.status).toBe(200);
    expect(json(answer)).toMatchObject({ swagger: "2.0", definitions: { input1Item: { properties: { f0: { type: "number" } } } } });
  });
});

describe("endpoints", () => {
  let id: string;
  beforeAll(async () => {
    ({ id } = await publish("Endpoint Service"));
  });
  const base = () => `/workspaces/${h.workspace}/webservices/${id}/endpoints`;

  it("creates an endpoint with PUT, caps Low throttling at 4 concurrent calls, lists and gets it", async () => {
    const put = await h.request("PUT", `${base()}/rentalloc001`, { key: h.workspaceKey, body: { Description: "rentalloc001", ThrottleLevel: "Low", MaxConcurrentCalls: 20 } });
    expect(put.status).toBe(200);
    expect(json(put)).toMatchObject({ Name: "rentalloc001", Description: "rentalloc001", ThrottleLevel: "Low", MaxConcurrentCalls: 4 });
    const high = await h.request("PUT", `${base()}/rentalloc002`, { key: h.workspaceKey, body: { Description: "two", ThrottleLevel: "High", MaxConcurrentCalls: 50 } });
    expect(json(high)).toMatchObject({ ThrottleLevel: "High", MaxConcurrentCalls: 50 });
    const list = await h.request("GET", base(), { key: h.workspaceKey });
    expect((list.body as Array<{ Name: string }>).map((e) => e.Name)).toEqual(["default", "rentalloc001", "rentalloc002"]);
    const get = await h.request("GET", `${base()}/rentalloc001`, { key: h.workspaceKey });
    expect(json(get)).toMatchObject({ Name: "rentalloc001", WebServiceId: id });
  });

  it("enforces the endpoint name rules", async () => {
    for (const name of ["Upper", "-lead", "trail-", "a".repeat(25), "under_score"]) {
      const answer = await h.request("PUT", `${base()}/${name}`, { key: h.workspaceKey, body: {} });
      expect(answer.status).toBe(400);
      expect(json(answer)).toMatchObject({ error: { code: "InvalidEndpointName" } });
    }
    const ok = await h.request("PUT", `${base()}/${"a".repeat(22)}-b`, { key: h.workspaceKey, body: {} });
    expect(ok.status).toBe(200);
  });

  it("accepts the endpoint's own keys for its operations, and no one else's", async () => {
    const created = json(await h.request("PUT", `${base()}/keyed`, { key: h.workspaceKey, body: {} }));
    const own = await h.request("GET", `${base()}/keyed`, { key: String(created["SecondaryKey"]) });
    expect(own.status).toBe(200);
    const other = json(await h.request("GET", `${base()}/rentalloc001`, { key: h.workspaceKey }));
    const wrong = await h.request("GET", `${base()}/keyed`, { key: String(other["PrimaryKey"]) });
    expect(wrong.status).toBe(401);
    const otherWorkspace = await h.request("GET", `${base()}/keyed`, { key: "ws2-key-0123456789abcdef" });
    expect(otherWorkspace.status).toBe(404);
  });

  it("refuses to patch the default endpoint's model and to delete it while others exist", async () => {
    const location = await h.source.put("models/b1.ilearner", modelB);
    const patch = await h.request("PATCH", `${base()}/default`, { key: h.workspaceKey, body: { Resources: [{ Name: "Endpoint Service [trained model]", Location: location }] } });
    expect(patch.status).toBe(400);
    expect(json(patch)).toMatchObject({ error: { code: "DefaultEndpointNotUpdatable" } });
    expect((await h.request("DELETE", `${base()}/default`, { key: h.workspaceKey })).status).toBe(403);
    const del = await h.request("DELETE", `${base()}/default`, { key: h.adminKey });
    expect(del.status).toBe(400);
    expect(json(del)).toMatchObject({ error: { code: "DefaultEndpointInUse" } });
  });

  it("patches an endpoint's trained model: new revision, scored by the new model, audit log", async () => {
    const endpoint = json(await h.request("GET", `${base()}/rentalloc002`, { key: h.workspaceKey }));
    const api = String(endpoint["ApiLocation"]);
    const key = String(endpoint["PrimaryKey"]);
    const before = json(await execute(api, key));
    const location = await h.source.put("models/b2.ilearner", modelB);
    const patch = await h.request("PATCH", `${base()}/rentalloc002`, { key, body: { Resources: [{ Name: "Endpoint Service [trained model]", Location: location }] } });
    expect(patch.status).toBe(200);
    expect(patch.headers.get("x-retrain-revision")).toBe("2");
    const after = await execute(api, key);
    expect(after.headers.get("x-retrain-model")).toMatch(/@r2$/);
    expect(json(after)).not.toEqual(before);

    const history = json(await h.request("GET", `/v1/workspaces/${h.workspace}/webservices/${id}/endpoints/rentalloc002/history`, { key: h.workspaceKey }));
    const entries = history["value"] as Array<Record<string, unknown>>;
    expect(entries.map((e) => [e["revision"], e["reason"]])).toEqual([
      [1, "create"],
      [2, "update"],
    ]);
    expect(entries[1]).toMatchObject({ caller: expect.stringMatching(/rentalloc002\/primary$/), from: { revision: 1 }, to: { revision: 2 } });

    const model = json(await h.request("GET", `/v1/workspaces/${h.workspace}/webservices/${id}/endpoints/rentalloc002/model`, { key: h.workspaceKey }));
    expect(model).toMatchObject({ revision: 2, learner: "Two-Class Logistic Regression", task: "binary" });
    const copy = await fetch(String(model["readUrl"]));
    expect(copy.status).toBe(200);
    expect(Buffer.from(await copy.arrayBuffer()).equals(modelB)).toBe(true);
  });

  it("answers a bad PATCH with a clear 400 and keeps serving the old model", async () => {
    const endpoint = json(await h.request("GET", `${base()}/rentalloc001`, { key: h.workspaceKey }));
    const api = String(endpoint["ApiLocation"]);
    const key = String(endpoint["PrimaryKey"]);
    const served = (await execute(api, key)).headers.get("x-retrain-model");
    const patch = (body: unknown) => h.request("PATCH", `${base()}/rentalloc001`, { key, body });
    const good = await h.source.put("models/b3.ilearner", modelB);
    const cases: Array<[unknown, string]> = [
      [{ Resources: [{ Name: "Wrong [trained model]", Location: good }] }, "ResourceNotFound"],
      [{ Resources: [{ Name: "Endpoint Service [trained model]", Location: await h.source.put("models/bad.ilearner", corrupt(modelB)) }] }, "ModelUnreadable"],
      [{ Resources: [{ Name: "Endpoint Service [trained model]", Location: { ...good, RelativeLocation: "models/missing.ilearner" } }] }, "ModelNotFound"],
      [{ Resources: [{ Name: "Endpoint Service [trained model]", Location: { ...good, BaseLocation: "http://169.254.169.254/" } }] }, "LocationNotAllowed"],
      [{ Resources: [{ Name: "Endpoint Service [trained model]", Location: await h.source.put("models/wide.ilearner", trainLogisticModel({ features: 5 })) }] }, "ModelIncompatible"],
    ];
    for (const [body, code] of cases) {
      const answer = await patch(body);
      expect([answer.status, json(answer)]).toEqual([400, { error: expect.objectContaining({ code }) }]);
    }
    expect((await execute(api, key)).headers.get("x-retrain-model")).toBe(served);
  });

  it("orders updates by run sequence: stale → 409, same run twice → one revision, rollback → new revision", async () => {
    await h.request("PUT", `${base()}/ordered`, { key: h.workspaceKey, body: { ThrottleLevel: "High" } });
    const url = `${base()}/ordered`;
    const locA = await h.source.put("models/oa.ilearner", modelA);
    const locB = await h.source.put("models/ob.ilearner", modelB);
    const patch = (location: unknown, retrain: Record<string, unknown>) =>
      h.request("PATCH", url, { key: h.workspaceKey, body: { Resources: [{ Name: "Endpoint Service [trained model]", Location: location }], Retrain: retrain } });

    const r5 = await patch(locB, { runId: "run-5", runSequence: 5, pipeline: "p", modelId: "model-5" });
    expect([r5.status, r5.headers.get("x-retrain-model")]).toEqual([200, "model-5@r2"]);
    const again = await patch(locB, { runId: "run-5", runSequence: 5, pipeline: "p", modelId: "model-5" });
    expect([again.status, again.headers.get("x-retrain-revision")]).toEqual([200, "2"]);
    const stale = await patch(locA, { runId: "run-3", runSequence: 3, pipeline: "p", modelId: "model-3" });
    expect(stale.status).toBe(409);
    expect(json(stale)).toMatchObject({ error: { code: "StaleModelUpdate" } });
    const viaHeaders = await h.request("PATCH", url, {
      key: h.workspaceKey,
      headers: { "x-retrain-run-id": "run-4", "x-retrain-run-sequence": "4", "x-retrain-pipeline": "p" },
      body: { Resources: [{ Name: "Endpoint Service [trained model]", Location: locA }] },
    });
    expect(viaHeaders.status).toBe(409);
    // A rollback skips the ordering guard: the workspace key is refused, the admin key may.
    expect((await patch(locA, { runId: "run-3", runSequence: 3, pipeline: "p", modelId: "model-3", reason: "rollback" })).status).toBe(403);
    const rollback = await h.request("PATCH", url, {
      key: h.adminKey,
      body: { Resources: [{ Name: "Endpoint Service [trained model]", Location: locA }], Retrain: { runId: "run-3", runSequence: 3, pipeline: "p", modelId: "model-3", reason: "rollback" } },
    });
    expect([rollback.status, rollback.headers.get("x-retrain-model")]).toEqual([200, "model-3@r3"]);
    const model = json(await h.request("GET", `/v1/workspaces/${h.workspace}/webservices/${id}/endpoints/ordered/model`, { key: h.workspaceKey }));
    expect(model).toMatchObject({ modelId: "model-3", revision: 3, runSequence: 3, runId: "run-3", pipeline: "p", reason: "rollback" });
    // After the rollback, only a run newer than the newest ever served may promote.
    expect((await patch(locB, { runId: "run-4", runSequence: 4, pipeline: "p" })).status).toBe(409);
    expect((await patch(locB, { runId: "run-6", runSequence: 6, pipeline: "p", modelId: "model-6" })).headers.get("x-retrain-model")).toBe("model-6@r4");
    const history = json(await h.request("GET", `/v1/workspaces/${h.workspace}/webservices/${id}/endpoints/ordered/history`, { key: h.workspaceKey }));
    expect((history["value"] as Array<Record<string, unknown>>).map((e) => e["reason"])).toEqual(["create", "promotion", "rollback", "promotion"]);
  });

  it("patches settings, refreshes from the default endpoint (304 when unchanged) and deletes", async () => {
    const url = `${base()}/rentalloc002`;
    const settings = await h.request("PATCH", url, { key: h.workspaceKey, body: { Description: "renamed", ThrottleLevel: "Low" } });
    expect(json(settings)).toMatchObject({ Description: "renamed", ThrottleLevel: "Low", MaxConcurrentCalls: 4 });
    const refresh = await h.request("POST", `${url}/refresh`, { key: h.workspaceKey, body: { OverwriteResources: "True" } });
    expect(refresh.status).toBe(200);
    const again = await h.request("POST", `${url}/refresh`, { key: h.workspaceKey, body: { OverwriteResources: true } });
    expect(again.status).toBe(304);
    const defaultRefresh = await h.request("POST", `${base()}/default/refresh`, { key: h.workspaceKey, body: { OverwriteResources: true } });
    expect(defaultRefresh.status).toBe(400);
    expect((await h.request("DELETE", url, { key: h.workspaceKey })).status).toBe(403);
    const del = await h.request("DELETE", url, { key: h.adminKey });
    expect(del.status).toBe(204);
    expect((await h.request("GET", url, { key: h.workspaceKey })).status).toBe(404);
  });
});

describe("training web services", () => {
  it("answer PATCH with 'This Web Service has no updatable resources'", async () => {
    const created = await h.request("POST", `/v1/workspaces/${h.workspace}/webservices`, {
      key: h.workspaceKey,
      body: { name: "Bike Rental Training", training: true, inputSchema: [{ name: "f0", type: "numeric" }] },
    });
    expect(created.status).toBe(201);
    const id = String((json(created)["webService"] as Record<string, unknown>)["Id"]);
    const put = await h.request("PUT", `/workspaces/${h.workspace}/webservices/${id}/endpoints/ep1`, { key: h.workspaceKey, body: {} });
    expect(put.status).toBe(200);
    const location = await h.source.put("models/t.ilearner", modelA);
    const patch = await h.request("PATCH", `/workspaces/${h.workspace}/webservices/${id}/endpoints/ep1`, {
      key: h.workspaceKey,
      body: { Resources: [{ Name: "Bike Rental Training [trained model]", Location: location }] },
    });
    expect(patch.status).toBe(400);
    expect(json(patch)).toEqual({ error: { code: "NoUpdatableResources", message: expect.stringContaining("This Web Service has no updatable resources") } });
  });
});

describe("retrain.yaml", () => {
  it("creates the configured predictive web services and endpoints once", async () => {
    const location = await h.source.put("models/configured.ilearner", modelA);
    const section = ScoringFileSection.parse({
      predictiveWebServices: [{ workspace: h.workspace, name: "Configured", model: { location }, endpoints: [{ name: "loc1", ThrottleLevel: "High" }, { name: "loc2" }] }],
    });
    await applyScoringSection(h.scoring, section);
    await applyScoringSection(h.scoring, section);
    const services = (await h.request("GET", `/workspaces/${h.workspace}/webservices`, { key: h.workspaceKey })).body as Array<Record<string, unknown>>;
    const configured = services.filter((s) => s["Name"] === "Configured");
    expect(configured).toEqual([expect.objectContaining({ EndpointCount: 3 })]);
    // Its name works where the management API expects the id.
    const endpoint = json(await h.request("GET", `/workspaces/${h.workspace}/webservices/Configured/endpoints/loc1`, { key: h.workspaceKey }));
    expect(endpoint).toMatchObject({ Name: "loc1", ThrottleLevel: "High", MaxConcurrentCalls: 20 });
  });
});
