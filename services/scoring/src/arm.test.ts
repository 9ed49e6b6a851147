// New (ARM) web services: the async pattern (Azure-AsyncOperation to Succeeded/Failed, read your
// writes), paging with nextLink, listKeys, no secrets on GET, conflicts, ordering, errors.
import { createServer, type Server } from "node:http";
import { deferred, freePort, waitFor } from "@retrain/testing";
import { json, startScoring, type Answer, type ScoringHarness } from "./test-support/harness.js";
import { corrupt, trainLogisticModel } from "./test-support/models.js";

let h: ScoringHarness;
let gate: { server: Server; host: string; release: () => void; requested: Promise<void>; reset: () => void };
const modelA = trainLogisticModel({ seed: 11, weights: [1.5, -1, 0.25] });
const modelB = trainLogisticModel({ seed: 12, weights: [-1.5, 1, -0.25] });
const SUB = "00000000-1111-2222-3333-444444444444";
const RG = "retrain-rg";

/** A model server that answers only once released: holds an ARM update in progress. */
async function startGate(bytes: Buffer): Promise<typeof gate> {
  let open = deferred();
  let asked = deferred();
  const port = await freePort();
  const server = createServer((_req, res) => {
    asked.resolve();
    void open.promise.then(() => {
      res.writeHead(200, { "content-type": "application/octet-stream", "content-length": String(bytes.length) });
      res.end(bytes);
    });
  });
  await new Promise<void>((resolve) => server.listen(port, "127.0.0.1", resolve));
  return {
    server,
    host: `127.0.0.1:${port}`,
    release: () => open.resolve(),
    get requested() {
      return asked.promise;
    },
    reset: () => {
      open = deferred();
      asked = deferred();
    },
  };
}

beforeAll(async () => {
  gate = await startGate(modelB);
  h = await startScoring({ deps: { armPageSize: 2 }, allowedHosts: [gate.host] });
});
afterAll(async () => {
  gate.release();
  await new Promise((resolve) => gate.server.close(resolve));
  await h.close();
});

const resourcePath = (name: string, rg = RG) => `/subscriptions/${SUB}/resourceGroups/${rg}/providers/Microsoft.MachineLearning/webServices/${name}?api-version=2017-01-01`;

function definition(uri: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    location: "South Central US",
    tags: { team: "retrain" },
    properties: {
      title: "Churn",
      description: "churn scoring",
      packageType: "Graph",
      readOnly: false,
      realtimeConfiguration: { maxConcurrentCalls: 10 },
      storageAccount: { name: "acct", key: "storage-secret" },
      assets: {
        asset1: { name: "Execute R Script", type: "Module", locationInfo: { uri: "aml://module/moduleId-1", credentials: "" } },
        asset3: { name: "Churn [trained model]", type: "Resource", locationInfo: { uri }, outputPorts: { "Results dataset": { type: "Dataset" } } },
      },
      package: { nodes: { node1: { assetId: "asset3" } }, edges: [], graphParameters: {} },
      ...extra,
    },
  };
}

async function poll(answer: Answer): Promise<Record<string, unknown>> {
  const url = answer.headers.get("azure-asyncoperation");
  expect(url).toMatch(new RegExp(`^${h.url}/subscriptions/${SUB}/providers/Microsoft\\.MachineLearning/locations/southcentralus/operationsStatus/[0-9a-f-]{36}\\?api-version=2017-01-01$`));
  return waitFor(
    async () => {
      const status = json(await h.request("GET", String(url), { key: h.workspaceKey }));
      return status["status"] === "InProgress" ? undefined : status;
    },
    { description: "the async operation to end" },
  );
}

async function execute(resource: Record<string, unknown>, keys: { primary: string }): Promise<Answer> {
  const id = String(((resource["properties"] as Record<string, unknown>)["swaggerLocation"] as string).split("/services/")[1]).replace("/swagger.json", "");
  return h.request("POST", `/subscriptions/${SUB}/services/${id}/execute?api-version=2.0&format=swagger`, {
    key: keys.primary,
    body: { Inputs: { input1: [{ f0: 0.5, f1: -0.5, f2: 1 }] }, GlobalParameters: {} },
  });
}

describe("ARM webServices (2017-01-01)", () => {
  it("creates with PUT 201 + Azure-AsyncOperation, then GET shows the definition without secrets", async () => {
    const uri = await h.source.putUri("arm/a.ilearner", modelA);
    const put = await h.request("PUT", resourcePath("churn"), { key: h.workspaceKey, body: definition(uri) });
    expect(put.status).toBe(201);
    expect(json(put)).toMatchObject({ name: "churn", type: "Microsoft.MachineLearning/webServices", properties: { provisioningState: "Provisioning", packageType: "Graph" } });
    expect(json(put)["properties"]).not.toHaveProperty("keys");
    const status = await poll(put);
    expect(status).toMatchObject({ status: "Succeeded", provisioningState: "Succeeded", percentComplete: 100, startTime: expect.any(String), endTime: expect.any(String) });

    const get = await h.request("GET", resourcePath("churn"), { key: h.workspaceKey });
    expect(get.status).toBe(200);
    const body = json(get);
    expect(body).toMatchObject({
      id: `/subscriptions/${SUB}/resourceGroups/${RG}/providers/Microsoft.MachineLearning/webServices/churn`,
      location: "South Central US",
      tags: { team: "retrain" },
      properties: {
        provisioningState: "Succeeded",
        packageType: "Graph",
        readOnly: false,
        exposeSampleData: false,
        realtimeConfiguration: { maxConcurrentCalls: 10 },
        storageAccount: { name: "acct" },
        assets: { asset3: { locationInfo: { uri } } },
      },
    });
    const properties = body["properties"] as Record<string, unknown>;
    expect(properties).not.toHaveProperty("keys");
    expect(properties["storageAccount"]).not.toHaveProperty("key");
    expect(get.text).not.toContain("storage-secret");

    const keys = json(await h.request("GET", resourcePath("churn").replace("?", "/listKeys?"), { key: h.workspaceKey })) as { primary: string; secondary: string };
    expect(keys.primary).toEqual(expect.any(String));
    expect(keys.secondary).toEqual(expect.any(String));
    const scored = await execute(body, keys);
    expect(scored.status).toBe(200);
    expect(scored.headers.get("x-retrain-model")).toMatch(/@r1$/);
    const wrong = await execute(body, { primary: "nope" });
    expect(wrong.status).toBe(401);
  });

  it("PATCH with a new trained-model uri is async (200 + Provisioning); once Succeeded, GET and RRS show the new model", async () => {
    const before = json(await h.request("GET", resourcePath("churn"), { key: h.workspaceKey }));
    const keys = json(await h.request("GET", resourcePath("churn").replace("?", "/listKeys?"), { key: h.workspaceKey })) as { primary: string };
    const uri = await h.source.putUri("arm/b.ilearner", modelB);
    const patch = await h.request("PATCH", resourcePath("churn"), {
      key: h.workspaceKey,
      body: { Properties: { Assets: { asset3: { Name: "Churn [trained model]", Type: "Resource", LocationInfo: { Uri: uri } } } } },
    });
    expect(patch.status).toBe(200);
    expect(json(patch)).toMatchObject({ properties: { provisioningState: "Provisioning" } });
    expect((await poll(patch))["status"]).toBe("Succeeded");
    const after = json(await h.request("GET", resourcePath("churn"), { key: h.workspaceKey }));
    expect(after).toMatchObject({ properties: { provisioningState: "Succeeded", assets: { asset3: { locationInfo: { uri } }, asset1: { name: "Execute R Script" } } } });
    expect((await execute(before, keys)).headers.get("x-retrain-model")).toMatch(/@r2$/);
    const listed = json(await h.request("GET", resourcePath("churn").replace("?", "/listKeys?"), { key: h.workspaceKey }));
    expect(listed).toEqual(keys);
  });

  it("a failed load ends the operation Failed with error {code,message}; the old model keeps serving", async () => {
    const resource = json(await h.request("GET", resourcePath("churn"), { key: h.workspaceKey }));
    const keys = json(await h.request("GET", resourcePath("churn").replace("?", "/listKeys?"), { key: h.workspaceKey })) as { primary: string };
    const served = (await execute(resource, keys)).headers.get("x-retrain-model");
    const uri = await h.source.putUri("arm/corrupt.ilearner", corrupt(modelA));
    const patch = await h.request("PATCH", resourcePath("churn"), { key: h.workspaceKey, body: { properties: { assets: { asset3: { name: "Churn [trained model]", type: "Resource", locationInfo: { uri } } } } } });
    expect(patch.status).toBe(200);
    const status = await poll(patch);
    expect(status).toMatchObject({ status: "Failed", provisioningState: "Failed", error: { code: "ModelUnreadable", message: expect.any(String) }, errorInfo: { code: "ModelUnreadable" } });
    const get = json(await h.request("GET", resourcePath("churn"), { key: h.workspaceKey }));
    expect((get["properties"] as Record<string, unknown>)["provisioningState"]).toBe("Failed");
    expect(JSON.stringify(get)).not.toContain("corrupt.ilearner");
    expect((await execute(resource, keys)).headers.get("x-retrain-model")).toBe(served);
  });

  it("answers 409 while an update is in progress, and keeps the keys when a PUT carries none", async () => {
    const keys = json(await h.request("GET", resourcePath("churn").replace("?", "/listKeys?"), { key: h.workspaceKey }));
    gate.reset();
    const slow = await h.request("PUT", resourcePath("churn"), { key: h.workspaceKey, body: definition(`http://${gate.host}/slow.ilearner`) });
    expect(slow.status).toBe(200);
    expect(json(slow)).toMatchObject({ properties: { provisioningState: "Provisioning" } });
    await gate.requested;
    const during = await h.request("PATCH", resourcePath("churn"), { key: h.workspaceKey, body: { properties: { title: "x" } } });
    expect(during.status).toBe(409);
    expect(json(during)).toEqual({ error: { code: "AnotherOperationInProgress", message: expect.any(String) } });
    const inProgress = json(await h.request("GET", String(slow.headers.get("azure-asyncoperation")), { key: h.workspaceKey }));
    expect(inProgress).toMatchObject({ status: "InProgress", provisioningState: "Provisioning" });
    gate.release();
    expect((await poll(slow))["status"]).toBe("Succeeded");
    expect(json(await h.request("GET", resourcePath("churn").replace("?", "/listKeys?"), { key: h.workspaceKey }))).toEqual(keys);
  });

  it("refuses a stale run sequence with 409 StaleModelUpdate and records promotions by run", async () => {
    const uriA = await h.source.putUri("arm/seq-a.ilearner", modelA);
    const promote = await h.request("PUT", resourcePath("churn"), {
      key: h.workspaceKey,
      headers: { "x-retrain-run-id": "run-9", "x-retrain-run-sequence": "9", "x-retrain-pipeline": "churn", "x-retrain-model-id": "m9" },
      body: definition(uriA),
    });
    expect((await poll(promote))["status"]).toBe("Succeeded");
    const uriB = await h.source.putUri("arm/seq-b.ilearner", modelB);
    const stale = await h.request("PUT", resourcePath("churn"), {
      key: h.workspaceKey,
      headers: { "x-retrain-run-id": "run-8", "x-retrain-run-sequence": "8", "x-retrain-pipeline": "churn" },
      body: definition(uriB),
    });
    expect(stale.status).toBe(409);
    expect(json(stale)).toMatchObject({ error: { code: "StaleModelUpdate" } });
    const model = json(await h.request("GET", `/v1/subscriptions/${SUB}/resourceGroups/${RG}/webServices/churn/model`, { key: h.workspaceKey }));
    expect(model).toMatchObject({ modelId: "m9", runSequence: 9, runId: "run-9" });
    const history = json(await h.request("GET", `/v1/subscriptions/${SUB}/resourceGroups/${RG}/webServices/churn/history`, { key: h.workspaceKey }));
    expect((history["value"] as Array<Record<string, unknown>>).map((e) => e["reason"])).toEqual(["publish", "update", "update", "promotion"]);
  });

  it("runs batch scoring jobs at {ApiLocation}/jobs with the web service's keys", async () => {
    const resource = json(await h.request("GET", resourcePath("churn"), { key: h.workspaceKey }));
    const keys = json(await h.request("GET", resourcePath("churn").replace("?", "/listKeys?"), { key: h.workspaceKey })) as { primary: string };
    const api = String((resource["properties"] as Record<string, unknown>)["swaggerLocation"]).replace("/swagger.json", "");
    const input = await h.source.put("arm/batch.csv", Buffer.from("f0,f1,f2\n0.1,0.2,0.3\n-1,0,1\n"));
    const submit = await h.request("POST", `${api}/jobs?api-version=2.0`, { key: keys.primary, body: { Inputs: { input1: input } } });
    expect(submit.status).toBe(200);
    const job = String(submit.body);
    expect((await h.request("POST", `${api}/jobs/${job}/start?api-version=2.0`, { key: keys.primary })).status).toBe(204);
    const status = await waitFor(async () => {
      const answer = json(await h.request("GET", `${api}/jobs/${job}?api-version=2.0`, { key: keys.primary }));
      return answer["StatusCode"] === "Finished" || answer["StatusCode"] === "Failed" ? answer : undefined;
    });
    expect(status).toMatchObject({ StatusCode: "Finished", Results: { output1: { RelativeLocation: expect.stringContaining(".csv") } } });
    expect((await h.request("GET", `${api}/jobs/${job}?api-version=2.0`, { key: h.workspaceKey })).status).toBe(401);
  });

  it("lists by resource group and subscription with absolute nextLinks that carry api-version", async () => {
    const uri = await h.source.putUri("arm/list.ilearner", modelA);
    for (const [name, rg] of [
      ["list-1", RG],
      ["list-2", RG],
      ["other-1", "other-rg"],
    ] as const) {
      const put = await h.request("PUT", resourcePath(name, rg), { key: h.workspaceKey, body: definition(uri) });
      expect((await poll(put))["status"]).toBe("Succeeded");
    }
    const collect = async (first: string): Promise<string[]> => {
      const names: string[] = [];
      let next: string | undefined = first;
      while (next !== undefined) {
        const page = json(await h.request("GET", next, { key: h.workspaceKey }));
        const value = page["value"] as Array<Record<string, unknown>>;
        expect(value.length).toBeLessThanOrEqual(2);
        names.push(...value.map((v) => String(v["name"])));
        for (const v of value) expect(v["properties"]).not.toHaveProperty("keys");
        next = page["nextLink"] as string | undefined;
        if (next !== undefined) expect(next).toMatch(new RegExp(`^${h.url}/.*[?&]api-version=2017-01-01(&|$)`));
      }
      return names;
    };
    expect(await collect(`/subscriptions/${SUB}/resourceGroups/${RG}/providers/Microsoft.MachineLearning/webServices?api-version=2017-01-01`)).toEqual(["churn", "list-1", "list-2"]);
    expect((await collect(`/subscriptions/${SUB}/providers/Microsoft.MachineLearning/webServices?api-version=2017-01-01`)).sort()).toEqual(["churn", "list-1", "list-2", "other-1"]);
  });

  it("needs no header but Authorization: a PATCH body without a JSON Content-Type is read as JSON", async () => {
    const patch = await h.request("PATCH", resourcePath("list-1"), { key: h.workspaceKey, headers: { "content-type": "text/plain" }, body: { properties: { title: "Renamed" } } });
    expect(patch.status).toBe(200);
    expect(json(patch)).toMatchObject({ properties: { title: "Renamed", provisioningState: "Succeeded" } });
    expect((await poll(patch))["status"]).toBe("Succeeded");
  });

  it("deletes with 202 (then 204), and answers ARM errors as 4xx with {error:{code,message}}", async () => {
    expect((await h.request("DELETE", resourcePath("list-2"), { key: h.workspaceKey })).status).toBe(403);
    const del = await h.request("DELETE", resourcePath("list-2"), { key: h.adminKey });
    expect(del.status).toBe(202);
    expect(del.headers.get("azure-asyncoperation")).toMatch(/operationsStatus/);
    expect((await h.request("DELETE", resourcePath("list-2"), { key: h.adminKey })).status).toBe(204);
    const cases: Array<[Promise<Answer>, number, string]> = [
      [h.request("GET", resourcePath("list-2"), { key: h.workspaceKey }), 404, "ResourceNotFound"],
      [h.request("GET", resourcePath("churn"), {}), 401, "InvalidAuthenticationToken"],
      [h.request("GET", resourcePath("churn"), { key: "nope" }), 401, "InvalidAuthenticationToken"],
      [h.request("GET", resourcePath("churn").replace("?api-version=2017-01-01", ""), { key: h.workspaceKey }), 400, "MissingApiVersionParameter"],
      [h.request("PUT", resourcePath("bad"), { key: h.workspaceKey, body: { location: "x", properties: { assets: {} } } }), 400, "InvalidRequestContent"],
      [h.request("PUT", resourcePath("bad"), { key: h.workspaceKey, body: definition("http://127.0.0.1:1/x", { realtimeConfiguration: { maxConcurrentCalls: 500 } }) }), 400, "InvalidRequestContent"],
      [h.request("GET", resourcePath("churn"), { key: "ws2-key-0123456789abcdef" }), 404, "ResourceNotFound"],
    ];
    for (const [pending, status, code] of cases) {
      const answer = await pending;
      expect([answer.status, json(answer)]).toEqual([status, { error: { code, message: expect.any(String) } }]);
    }
  });
});
