// The seed's per-location scenario, batch scoring, concurrency limits, keys at rest and restarts.
import { randomBytes } from "node:crypto";
import { request } from "node:http";
import { tempDir, waitFor } from "@retrain/testing";
import { createMlRuntime } from "./ml-runtime.js";
import { json, startScoring, type ScoringHarness } from "./test-support/harness.js";
import { trainLogisticModel } from "./test-support/models.js";

describe("one predictive web service, ten endpoints, ten models", () => {
  let h: ScoringHarness;
  const kek = randomBytes(32);
  let root: { path: string; remove(): Promise<void> };
  let serviceId: string;
  const endpoints = Array.from({ length: 10 }, (_, i) => `rentalloc${String(i + 1).padStart(3, "0")}`);
  const input = { Inputs: { input1: { ColumnNames: ["f0", "f1", "f2"], Values: [["0.4", "-0.3", "0.8"]] } }, GlobalParameters: {} };

  beforeAll(async () => {
    root = await tempDir("retrain-scenario-");
    h = await startScoring({ storeRoot: root.path, kek });
    const published = json(
      await h.request("POST", `/v1/workspaces/${h.workspace}/webservices`, {
        key: h.workspaceKey,
        body: { name: "Bike Rental Scoring", model: { location: await h.source.put("bike/base.ilearner", trainLogisticModel({ seed: 100 })) } },
      }),
    );
    serviceId = String((published["webService"] as Record<string, unknown>)["Id"]);
  });
  afterAll(async () => {
    await h.close();
    await root.remove();
  });

  const endpointUrl = (name: string) => `/workspaces/${h.workspace}/webservices/${serviceId}/endpoints/${name}`;

  it("creates 10 endpoints, patches each with its own model, and the same input scores differently on each", async () => {
    for (const name of endpoints) {
      const put = await h.request("PUT", endpointUrl(name), { key: h.workspaceKey, body: { Description: name, ThrottleLevel: "High", MaxConcurrentCalls: 20 } });
      expect(put.status).toBe(200);
    }
    for (const [i, name] of endpoints.entries()) {
      const model = trainLogisticModel({ seed: 200 + i, weights: [i - 4.5, 0.5 * i - 2, 1 - 0.2 * i] });
      const location = await h.source.put(`bike/model${String(i + 1).padStart(3, "0")}.ilearner`, model);
      const patch = await h.request("PATCH", endpointUrl(name), { key: h.workspaceKey, body: { Resources: [{ Name: "Bike Rental Scoring [trained model]", Location: location }] } });
      expect(patch.status).toBe(200);
    }
    const probabilities: string[] = [];
    for (const name of endpoints) {
      const endpoint = json(await h.request("GET", endpointUrl(name), { key: h.workspaceKey }));
      const answer = await h.request("POST", `${String(endpoint["ApiLocation"])}/execute?api-version=2.0&details=true`, { key: String(endpoint["PrimaryKey"]), body: input });
      expect(answer.status).toBe(200);
      expect(answer.headers.get("x-retrain-model")).toMatch(/@r2$/);
      const value = ((json(answer)["Results"] as Record<string, unknown>)["output1"] as Record<string, unknown>)["value"] as { Values: string[][] };
      probabilities.push(String(value.Values[0]?.[1]));
    }
    expect(new Set(probabilities).size).toBe(10);
  });

  it("scores a CSV in batch (BES) on an endpoint, with the endpoint's key", async () => {
    const endpoint = json(await h.request("GET", endpointUrl("rentalloc003"), { key: h.workspaceKey }));
    const api = String(endpoint["ApiLocation"]);
    const key = String(endpoint["PrimaryKey"]);
    const csv = "f0,f1,f2,id\n0.4,-0.3,0.8,a\n-1,0.5,0.1,b\n0,0,0,c\n";
    const input = await h.source.put("bike/batch.csv", Buffer.from(csv));
    const submit = await h.request("POST", `${api}/jobs?api-version=2.0`, { key, body: { Inputs: { input1: input } } });
    expect(submit.status).toBe(200);
    const jobId = String(submit.body);
    expect((await h.request("POST", `${api}/jobs/${jobId}/start?api-version=2.0`, { key })).status).toBe(204);
    const status = await waitFor(async () => {
      const answer = json(await h.request("GET", `${api}/jobs/${jobId}?api-version=2.0`, { key }));
      return answer["StatusCode"] === "Finished" || answer["StatusCode"] === "Failed" ? answer : undefined;
    });
    expect(status["StatusCode"]).toBe("Finished");
    const output = (status["Results"] as Record<string, Record<string, string>>)["output1"] as Record<string, string>;
    const download = await fetch(`${output["BaseLocation"]}${output["RelativeLocation"]}${output["SasBlobToken"]}`);
    const text = await download.text();
    const lines = text.trim().split(/\r?\n/);
    expect(lines[0]).toBe("f0,f1,f2,id,Scored Labels,Scored Probabilities");
    expect(lines).toHaveLength(4);
    // Another endpoint's key does not open this endpoint's jobs.
    const other = json(await h.request("GET", endpointUrl("rentalloc004"), { key: h.workspaceKey }));
    expect((await h.request("GET", `${api}/jobs/${jobId}?api-version=2.0`, { key: String(other["PrimaryKey"]) })).status).toBe(401);
  });

  it("keeps keys encrypted at rest and serves the same endpoints, keys and models after a restart", async () => {
    const endpoint = json(await h.request("GET", endpointUrl("rentalloc005"), { key: h.workspaceKey }));
    const key = String(endpoint["PrimaryKey"]);
    const stored: string[] = [];
    for await (const blob of h.store.list("scoring/")) if (blob.name.endsWith(".json")) stored.push((await h.store.getBuffer(blob.name)).body.toString("utf8"));
    expect(stored.length).toBeGreaterThan(10);
    for (const text of stored) expect(text).not.toContain(key);

    const before = json(await h.request("POST", `${String(endpoint["ApiLocation"])}/execute?api-version=2.0`, { key, body: input }));
    await h.close();
    h = await startScoring({ storeRoot: root.path, kek });
    const after = await h.request("POST", `${String(endpoint["ApiLocation"])}/execute?api-version=2.0`.replace(/^http:\/\/[^/]+/, h.url), { key, body: input });
    expect(after.status).toBe(200);
    expect(json(after)).toEqual(before);
    expect(after.headers.get("x-retrain-model")).toMatch(/@r2$/);
  });
});

describe("MaxConcurrentCalls", () => {
  let h: ScoringHarness;
  beforeAll(async () => {
    h = await startScoring();
  });
  afterAll(async () => {
    await h.close();
  });

  it("answers 503 TooManyConcurrentRequests beyond the endpoint's limit (Low: 4)", async () => {
    const published = json(
      await h.request("POST", `/v1/workspaces/${h.workspace}/webservices`, {
        key: h.workspaceKey,
        body: { name: "Limited", model: { location: await h.source.put("limited.ilearner", trainLogisticModel({ seed: 5 })) } },
      }),
    );
    const endpoint = published["defaultEndpoint"] as Record<string, unknown>;
    expect(endpoint["MaxConcurrentCalls"]).toBe(4);
    const url = new URL(`${String(endpoint["ApiLocation"])}/execute?api-version=2.0`);
    const key = String(endpoint["PrimaryKey"]);
    const body = JSON.stringify({ Inputs: { input1: { ColumnNames: ["f0", "f1", "f2"], Values: [["1", "2", "3"]] } } });
    const target = h.scoring.host.live.get(url.pathname.split("/")[4] as string);
    // Four requests whose bodies have not fully arrived stay in flight.
    const finishers: Array<() => void> = [];
    const statuses = Array.from(
      { length: 4 },
      () =>
        new Promise<number>((resolve, reject) => {
          const req = request(url, { method: "POST", headers: { authorization: `Bearer ${key}`, "content-type": "application/json", "content-length": Buffer.byteLength(body) } }, (res) => {
            res.resume();
            resolve(res.statusCode ?? 0);
          });
          req.on("error", reject);
          req.write(body.slice(0, 10));
          finishers.push(() => req.end(body.slice(10)));
        }),
    );
    await waitFor(() => target?.inFlight === 4, { description: "four requests in flight" });
    const fifth = await h.request("POST", url.toString(), { key, body: JSON.parse(body) as unknown });
    expect(fifth.status).toBe(503);
    expect(json(fifth)).toMatchObject({ error: { code: "ServiceUnavailable", details: [{ code: "TooManyConcurrentRequests" }] } });
    for (const finish of finishers) finish();
    expect(await Promise.all(statuses)).toEqual([200, 200, 200, 200]);
  });
});

describe("two hosts on one store (in process)", () => {
  it("follow each other's creates, PATCHes and deletes", async () => {
    const root = await tempDir("retrain-two-hosts-");
    const kek = randomBytes(32);
    const a = await startScoring({ storeRoot: root.path, kek });
    const b = await startScoring({ storeRoot: root.path, kek });
    try {
      const published = json(
        await a.request("POST", `/v1/workspaces/${a.workspace}/webservices`, {
          key: a.workspaceKey,
          body: { name: "Shared", model: { location: await a.source.put("s0.ilearner", trainLogisticModel({ seed: 40 })) } },
        }),
      );
      const serviceId = String((published["webService"] as Record<string, unknown>)["Id"]);
      const path = `/workspaces/${a.workspace}/webservices/${serviceId}/endpoints/shared`;
      const endpoint = json(await a.request("PUT", path, { key: a.workspaceKey, body: { ThrottleLevel: "High" } }));
      const execute = `${new URL(String(endpoint["ApiLocation"])).pathname}/execute?api-version=2.0`;
      const key = String(endpoint["PrimaryKey"]);
      const input = { Inputs: { input1: { ColumnNames: ["f0", "f1", "f2"], Values: [["1", "0", "-1"]] } } };
      expect((await b.request("POST", execute, { key, body: input })).headers.get("x-retrain-model")).toMatch(/@r1$/);

      const location = await a.source.put("s1.ilearner", trainLogisticModel({ seed: 41 }));
      // B never fetches from A's source: it loads the copy A put into the shared own store.
      const patch = await a.request("PATCH", path, { key: a.workspaceKey, body: { Resources: [{ Name: "Shared [trained model]", Location: location }] } });
      const label = patch.headers.get("x-retrain-model");
      await waitFor(async () => (await b.request("POST", execute, { key, body: input })).headers.get("x-retrain-model") === label, { timeoutMs: 2_000 });

      expect((await b.request("DELETE", path, { key: b.adminKey })).status).toBe(204);
      await waitFor(async () => (await a.request("POST", execute, { key, body: input })).status === 404, { timeoutMs: 2_000 });
    } finally {
      await b.close();
      await a.close();
      await root.remove();
    }
  });

  it("a call that finds a target whose model is still loading (a sync on the way) waits for it instead of answering 503", async () => {
    const root = await tempDir("retrain-two-hosts-");
    const kek = randomBytes(32);
    const a = await startScoring({ storeRoot: root.path, kek });
    // B loads models slowly and syncs only when asked, so the moment between finding a target and
    // serving its model is wide and under the test's control.
    const slow = createMlRuntime({ warmupRuns: 5 });
    const b = await startScoring({
      storeRoot: root.path,
      kek,
      deps: {
        syncIntervalMs: 600_000,
        runtime: { load: async (bytes) => (await new Promise((r) => setTimeout(r, 800)), slow.load(bytes)) }, // time-based by design: a slow model load
      },
    });
    try {
      const published = json(
        await a.request("POST", `/v1/workspaces/${a.workspace}/webservices`, {
          key: a.workspaceKey,
          body: { name: "Loading", model: { location: await a.source.put("l0.ilearner", trainLogisticModel({ seed: 42 })) } },
        }),
      );
      const serviceId = String((published["webService"] as Record<string, unknown>)["Id"]);
      const endpoint = json(await a.request("PUT", `/workspaces/${a.workspace}/webservices/${serviceId}/endpoints/loading`, { key: a.workspaceKey, body: { ThrottleLevel: "High" } }));
      const api = new URL(String(endpoint["ApiLocation"]));
      const id = api.pathname.split("/")[4] as string;
      const syncing = b.scoring.host.sync.syncNow();
      await waitFor(() => b.scoring.host.live.get(id) !== undefined, { timeoutMs: 5_000, intervalMs: 5, description: "B to know the target" });
      expect(b.scoring.host.live.get(id)?.serving).toBeUndefined();
      const answer = await b.request("POST", `${api.pathname}/execute?api-version=2.0`, {
        key: String(endpoint["PrimaryKey"]),
        body: { Inputs: { input1: { ColumnNames: ["f0", "f1", "f2"], Values: [["1", "0", "-1"]] } } },
      });
      expect(answer.status).toBe(200);
      expect(answer.headers.get("x-retrain-model")).toMatch(/@r1$/);
      await syncing;
    } finally {
      await b.close();
      await a.close();
      await root.remove();
    }
  });
});
