// Hot swap under load: RRS requests keep flowing while PATCHes alternate models. No request fails,
// every answer names a model that was live while it was in flight, revisions never go backwards.
import { Agent, request } from "node:http";
import { json, startScoring, type ScoringHarness } from "./test-support/harness.js";
import { corrupt, trainLogisticModel } from "./test-support/models.js";

let h: ScoringHarness;
beforeAll(async () => {
  h = await startScoring();
});
afterAll(async () => {
  await h.close();
});

interface Sent {
  readonly loop: number;
  readonly sentAt: number;
  readonly receivedAt: number;
  readonly status: number;
  readonly model: string;
}

interface Patched {
  readonly startedAt: number;
  readonly endedAt: number;
  readonly label: string;
  readonly revision: number;
  readonly clientInFlight: number;
}

const CONNECTIONS = 20;
const PATCHES = 20;
const MIN_LOAD_MS = 3_000;

describe("hot swap under load", () => {
  it("serves every request while 20 PATCHes alternate models", async () => {
    const models = [trainLogisticModel({ seed: 21, weights: [1, 2, -1] }), trainLogisticModel({ seed: 22, weights: [-1, -2, 1] })];
    const published = json(
      await h.request("POST", `/v1/workspaces/${h.workspace}/webservices`, {
        key: h.workspaceKey,
        body: { name: "Swap", model: { location: await h.source.put("swap/0.ilearner", models[0] as Buffer) } },
      }),
    );
    const serviceId = String((published["webService"] as Record<string, unknown>)["Id"]);
    const endpointPath = `/workspaces/${h.workspace}/webservices/${serviceId}/endpoints/hot`;
    const endpoint = json(await h.request("PUT", endpointPath, { key: h.workspaceKey, body: { ThrottleLevel: "High", MaxConcurrentCalls: 100 } }));
    const api = new URL(`${String(endpoint["ApiLocation"])}/execute?api-version=2.0&details=true`);
    const key = String(endpoint["PrimaryKey"]);
    const target = h.scoring.host.live.get(api.pathname.split("/")[4] as string);
    expect(target).toBeDefined();
    const locations = [await h.source.put("swap/a.ilearner", models[0] as Buffer), await h.source.put("swap/b.ilearner", models[1] as Buffer)];
    const corruptLocation = await h.source.put("swap/corrupt.ilearner", corrupt(models[1] as Buffer));

    const payload = JSON.stringify({ Inputs: { input1: { ColumnNames: ["f0", "f1", "f2"], Values: [["0.3", "0.1", "-0.2"]] } }, GlobalParameters: {} });
    const agent = new Agent({ keepAlive: true, maxSockets: CONNECTIONS });
    const sent: Sent[] = [];
    let inFlight = 0;
    let stop = false;
    const post = (loop: number): Promise<Sent> =>
      new Promise((resolve, reject) => {
        const sentAt = performance.now();
        inFlight++;
        const req = request(api, { method: "POST", agent, headers: { authorization: `Bearer ${key}`, "content-type": "application/json", "content-length": Buffer.byteLength(payload) } }, (res) => {
          res.resume();
          res.on("end", () => {
            inFlight--;
            resolve({ loop, sentAt, receivedAt: performance.now(), status: res.statusCode ?? 0, model: String(res.headers["x-retrain-model"] ?? "") });
          });
        });
        req.on("error", (error) => {
          inFlight--;
          reject(error);
        });
        req.end(payload);
      });
    const loops = Array.from({ length: CONNECTIONS }, async (_, loop) => {
      while (!stop) sent.push(await post(loop));
    });

    const initialLabel = String(target?.serving?.label);
    // Requests in flight (sent, not yet answered) at the very moment of each swap: the client runs in
    // this process, so the swap listener reads its counter at the instant the reference changes.
    const atSwap: number[] = [];
    const unsubscribe = h.scoring.host.live.onSwap((swapped) => {
      if (swapped === target) atSwap.push(inFlight);
    });
    const patches: Patched[] = [];
    const loadStarted = performance.now();
    const patch = (body: unknown) => h.request("PATCH", endpointPath, { key: h.workspaceKey, body });
    const resource = (location: unknown) => [{ Name: "Swap [trained model]", Location: location }];
    // Load is flowing before the first swap.
    while (sent.length < 200) await new Promise((resolve) => setImmediate(resolve));
    for (let i = 0; i < PATCHES; i++) {
      const startedAt = performance.now();
      const answer = await patch({ Resources: resource(locations[(i + 1) % 2]), Retrain: { runId: `run-${i}`, runSequence: 10 + i, pipeline: "swap", modelId: `model-${i}` } });
      const endedAt = performance.now();
      expect(answer.status).toBe(200);
      patches.push({
        startedAt,
        endedAt,
        label: String(answer.headers.get("x-retrain-model")),
        revision: Number(answer.headers.get("x-retrain-revision")),
        clientInFlight: inFlight,
      });
      if (i === 7) {
        const bad = await patch({ Resources: resource(corruptLocation), Retrain: { runId: "run-bad", runSequence: 100 } });
        expect([bad.status, json(bad)]).toEqual([400, { error: expect.objectContaining({ code: "ModelUnreadable" }) }]);
      }
      if (i === 13) {
        const stale = await patch({ Resources: resource(locations[0]), Retrain: { runId: "run-old", runSequence: 3, pipeline: "swap" } });
        expect([stale.status, json(stale)]).toEqual([409, { error: expect.objectContaining({ code: "StaleModelUpdate" }) }]);
        expect(target?.serving?.label).toBe(patches[patches.length - 1]?.label);
      }
      // Spread the swaps over the load window.
      const due = loadStarted + ((i + 1) * MIN_LOAD_MS) / PATCHES;
      while (performance.now() < due) await new Promise((resolve) => setTimeout(resolve, 5)); // time-based by design: paces the swaps across the load window
    }
    stop = true;
    await Promise.all(loops);
    unsubscribe();
    const seconds = (performance.now() - loadStarted) / 1000;
    agent.destroy();

    // Throughput and errors.
    const rate = sent.length / seconds;
    expect(rate).toBeGreaterThanOrEqual(500);
    expect(sent.filter((s) => s.status < 200 || s.status > 299)).toEqual([]);

    // Requests were in flight at every swap, and when each PATCH answered.
    expect(atSwap).toHaveLength(PATCHES);
    for (const count of atSwap) expect(count).toBeGreaterThan(0);
    for (const p of patches) expect(p.clientInFlight).toBeGreaterThan(0);

    // Revisions: one per PATCH, in order; the corrupt and stale PATCHes made none.
    expect(patches.map((p) => p.revision)).toEqual(Array.from({ length: PATCHES }, (_, i) => i + 2));
    expect(patches.map((p) => p.label)).toEqual(Array.from({ length: PATCHES }, (_, i) => `model-${i}@r${i + 2}`));

    // Every answer names a model that was live at some moment while the request was in flight.
    const live = new Map<string, { from: number; until: number }>();
    live.set(initialLabel, { from: 0, until: patches[0]?.endedAt ?? Infinity });
    patches.forEach((p, i) => live.set(p.label, { from: p.startedAt, until: patches[i + 1]?.endedAt ?? Infinity }));
    const misplaced = sent.filter((s) => {
      const window = live.get(s.model);
      return window === undefined || window.from > s.receivedAt || window.until < s.sentAt;
    });
    expect(misplaced).toEqual([]);

    // Per connection, revisions never go backwards.
    const revisionOf = (label: string) => Number(label.slice(label.lastIndexOf("@r") + 2));
    for (let loop = 0; loop < CONNECTIONS; loop++) {
      const seen = sent.filter((s) => s.loop === loop).map((s) => revisionOf(s.model));
      for (let i = 1; i < seen.length; i++) expect(seen[i]).toBeGreaterThanOrEqual(seen[i - 1] as number);
    }
    // Both models answered during the run (the swaps took effect).
    expect(new Set(sent.map((s) => s.model)).size).toBeGreaterThan(PATCHES / 2);
  }, 60_000);
});
