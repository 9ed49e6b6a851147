// The registry and run control across processes (NATS JetStream + Azurite): a run's timeline and
// lineage, promotion history and "served at T" around two promotions and a rollback (through the
// promoters), cancel mid-training, pause / resume, the reconciler re-driving a run whose ModelApproved
// was lost on its way to the promoter, and the rebuild command.
import { createHash } from "node:crypto";
import { execFile } from "node:child_process";
import { join } from "node:path";
import { promisify } from "node:util";
import { EventTypes, type AnyEvent } from "@retrain/contracts";
import { Cleanup, waitFor } from "@retrain/testing";
import { startDeployment, trainThroughBes, type Deployment } from "./deployment.js";
import { buildAll, root } from "./processes.js";
import { CHURN_TRAINING_SERVICE, churnCsv } from "./churn.js";

type Json = Record<string, unknown>;
const TERMINAL = new Set<string>([EventTypes.EndpointUpdated, EventTypes.PromotionFailed, EventTypes.ModelRejected, EventTypes.TrainingFailed]);
const TARGET = "classic:e2e/churn/ep1";

/**
 * Churn data with a signal (tenure and charges matter), seeded; `drift` reverses it. Consecutive
 * promotions alternate, so each challenger beats the champion on its own holdout rows.
 */

describe("the registry and run control across processes (NATS JetStream + Azurite)", () => {
  const cleanup = new Cleanup();
  let deployment: Deployment;
  let events: AnyEvent[] = [];
  let webServiceId = "";

  async function call(base: string, method: string, path: string, body?: unknown, key = deployment.key, contentType = "application/json"): Promise<{ status: number; body: Json }> {
    const response = await fetch(`${base}${path}`, {
      method,
      headers: { authorization: `Bearer ${key}`, ...(body !== undefined ? { "content-type": contentType } : {}) },
      ...(body !== undefined ? { body: typeof body === "string" ? body : JSON.stringify(body) } : {}),
    });
    const text = await response.text();
    return { status: response.status, body: (text === "" ? {} : JSON.parse(text)) as Json };
  }
  const registry = (path: string, key = deployment.key) => call(deployment.registry.url, "GET", path, undefined, key);
  const upload = (csv: string) => call(deployment.ingestion.url, "PUT", "/v1/pipelines/churn/datasets", csv, deployment.key, "text/csv");
  const endOf = (runId: string) =>
    waitFor(() => events.find((e) => TERMINAL.has(e.type) && (e.data as { runId: string }).runId === runId), { timeoutMs: 90_000, description: `run ${runId} to end` });
  /** The registry's view of a run once it has seen it end (its projections lag the bus a little). */
  const settledRun = (runId: string) =>
    waitFor(
      async () => {
        const run = await registry(`/v1/runs/${runId}`);
        return run.status === 200 && run.body["terminal"] === true ? run.body : undefined;
      },
      { timeoutMs: 60_000, description: `the registry to see run ${runId} end` },
    );
  const history = async (): Promise<Json[]> => (await registry(`/v1/targets/history?target=${encodeURIComponent(TARGET)}`)).body["value"] as Json[];

  beforeAll(async () => {
    buildAll();
    deployment = await startDeployment({
      config: [
        ...CHURN_TRAINING_SERVICE,
        "pipelines:",
        "  - name: churn",
        "    trainingWebService: { workspace: e2e, service: churn-training }",
        "    evaluation: { mode: automatic, primaryMetric: AUC, threshold: 0.6 }",
        '    targets: [ { kind: classic, workspace: e2e, webService: churn, endpoint: ep1, resourceName: "Churn [trained model]", createIfMissing: true } ]',
        "    split: { fraction: 0.25, seed: 11 }",
      ],
      // The reconciler looks every second; promotion is late after 3 s, so a lost approval is re-driven quickly.
      env: { REGISTRY_RECONCILE_INTERVAL: "1s", REGISTRY_DEADLINE_PROMOTION: "3s", REGISTRY_DEADLINE_EVALUATION: "20s", REGISTRY_DEADLINE_TRAINING: "60s", REGISTRY_REDRIVE_ATTEMPTS: "5" },
    });
    cleanup.add(() => deployment.stop());
    events = deployment.events;
    const model0 = await trainThroughBes(deployment, "churn-training", churnCsv(3000, 1, { drift: true }));
    const published = await call(deployment.scoring.url, "POST", "/v1/workspaces/e2e/webservices", { name: "churn", resourceName: "Churn [trained model]", model: { location: model0 }, modelId: "initial" });
    expect(published.status).toBe(201);
    webServiceId = String((published.body["webService"] as Json)["Id"]);
  }, 240_000);
  afterAll(() => cleanup.run(), 60_000);

  const promoted: Array<{ runId: string; modelId: string; at: string; revision: number }> = [];
  let firstCsv = "";

  it("a run's timeline lists every stage with its duration, and lineage leads from the endpoint back to the dataset's sha256", async () => {
    firstCsv = churnCsv(4000, 2);
    const accepted = await upload(firstCsv);
    expect(accepted.status).toBe(202);
    const runId = String(accepted.body["runId"]);
    const end = await endOf(runId);
    expect(end.type).toBe(EventTypes.EndpointUpdated);
    const run = await settledRun(runId);
    expect(run).toMatchObject({ runId, pipeline: "churn", outcome: "promoted", workspace: "e2e", trigger: { kind: "upload" } });
    const stages = run["stages"] as Json[];
    expect(stages.map((s) => s["stage"])).toEqual(["received", "trained", "approved", "updated"]);
    expect(stages[0]?.["durationMs"]).toBeNull();
    for (const stage of stages.slice(1)) expect(stage["durationMs"]).toEqual(expect.any(Number));
    expect(run["totalMs"]).toBe(stages.slice(1).reduce((sum, s) => sum + Number(s["durationMs"]), 0));

    // From the endpoint: what it serves now, which run made it, and that run's dataset.
    const targets = (await registry("/v1/targets")).body["value"] as Json[];
    const target = targets.find((t) => t["target"] === TARGET);
    expect(target).toMatchObject({ workspace: "e2e", kind: "classic", current: { runId } });
    const lineage = (await registry(`/v1/runs/${String((target?.["current"] as Json)["runId"])}/lineage`)).body;
    expect(lineage).toMatchObject({ runId, dataset: { sha256: createHash("sha256").update(firstCsv).digest("hex") }, job: { jobId: expect.any(String) }, approval: { decision: "approved" } });
    expect((lineage["endpoints"] as Json[])[0]).toMatchObject({ target: TARGET, outcome: "updated" });
    const entry = (await history()).at(-1);
    promoted.push({ runId, modelId: String(entry?.["modelId"]), at: String(entry?.["at"]), revision: Number(entry?.["revision"]) });
  }, 120_000);

  it("the reconciler re-drives a run whose ModelApproved never reached the promoter: it still ends, with one promotion", async () => {
    // The classic promoter goes away, and its consumer group's copy of the approval is taken while it is gone.
    const promoter = deployment.services.find((s) => s.name === "classic-promoter");
    if (promoter === undefined) throw new Error("no classic-promoter process");
    await promoter.kill("SIGTERM");
    let swallowed: string | undefined;
    const swallower = await deployment.observer.subscribe({
      group: "classic-promoter",
      types: [EventTypes.ModelApproved],
      handler: async (event) => void (swallowed = event.data.runId),
    });
    const accepted = await upload(churnCsv(4000, 3, { drift: true }));
    const runId = String(accepted.body["runId"]);
    expect(await waitFor(() => swallowed, { timeoutMs: 90_000, description: "the run's ModelApproved to reach the classic-promoter group" })).toBe(runId);
    await swallower.close({ graceMs: 1_000 });
    await promoter.restart();

    const end = await endOf(runId);
    expect(end.type).toBe(EventTypes.EndpointUpdated);
    const run = await settledRun(runId);
    expect(run["outcome"]).toBe("promoted");
    expect((run["redrives"] as Json[]).map((r) => r["stage"])).toContain("promotion");
    expect((run["stages"] as Json[]).filter((s) => s["stage"] === "updated")).toHaveLength(1);
    const entries = (await history()).filter((h) => h["runId"] === runId);
    expect(entries).toHaveLength(1);
    expect(entries[0]?.["revision"]).toBe((promoted[0]?.revision ?? 0) + 1);
    promoted.push({ runId, modelId: String(entries[0]?.["modelId"]), at: String(entries[0]?.["at"]), revision: Number(entries[0]?.["revision"]) });
    expect((await registry("/v1/stuck")).body["value"]).toEqual([]);
  }, 150_000);

  it('rolls back through the promoters (EndpointUpdated kind rollback) and answers "served at T" around two promotions and the rollback', async () => {
    const [first, second] = promoted;
    if (first === undefined || second === undefined) throw new Error("the earlier tests promoted nothing");
    expect((await call(deployment.registry.url, "POST", "/v1/targets/rollback", { target: TARGET, to: first.runId })).status).toBe(403);
    const accepted = await call(deployment.registry.url, "POST", "/v1/targets/rollback", { target: TARGET, to: first.runId, reason: "e2e" }, deployment.adminKey);
    expect(accepted.status).toBe(202);
    const rollbackRunId = String(accepted.body["rollbackRunId"]);
    const end = await endOf(rollbackRunId);
    expect(end.type).toBe(EventTypes.EndpointUpdated);
    if (end.type !== EventTypes.EndpointUpdated) return;
    expect(end.data).toMatchObject({ kind: "rollback", revision: second.revision + 1, model: { modelId: first.modelId } });
    await settledRun(rollbackRunId);

    const entries = await waitFor(async () => {
      const h = await history();
      return h.length === 3 ? h : undefined;
    });
    expect(entries.map((h) => [h["revision"], h["modelId"], h["kind"]])).toEqual([
      [first.revision, first.modelId, "promotion"],
      [second.revision, second.modelId, "promotion"],
      [second.revision + 1, first.modelId, "rollback"],
    ]);
    const rolledBackAt = String(entries[2]?.["at"]);
    const servedAt = async (t: number): Promise<Json | null> =>
      (await registry(`/v1/targets/served?target=${encodeURIComponent(TARGET)}&at=${new Date(t).toISOString()}`)).body["served"] as Json | null;
    expect(await servedAt(Date.parse(first.at) - 1)).toBeNull();
    expect(await servedAt(Date.parse(first.at))).toMatchObject({ modelId: first.modelId, kind: "promotion" });
    expect(await servedAt(Date.parse(second.at) - 1)).toMatchObject({ modelId: first.modelId });
    expect(await servedAt(Date.parse(second.at))).toMatchObject({ modelId: second.modelId, runId: second.runId });
    expect(await servedAt(Date.parse(rolledBackAt))).toMatchObject({ modelId: first.modelId, kind: "rollback", runId: rollbackRunId });
    // The scoring host serves the first model again, as a new revision with reason rollback in its audit.
    const model = await call(deployment.scoring.url, "GET", `/v1/workspaces/e2e/webservices/${webServiceId}/endpoints/ep1/model`, undefined, deployment.adminKey);
    expect(model.body).toMatchObject({ modelId: first.modelId, revision: second.revision + 1, reason: "rollback" });
  }, 120_000);

  it("cancels a run mid-training: the job is cancelled, nothing is promoted, the outcome is cancelled", async () => {
    const accepted = await upload(churnCsv(500_000, 4));
    const runId = String(accepted.body["runId"]);
    const jobId = createHash("sha256").update(`job:${runId}`).digest("hex").slice(0, 32);
    const trainer = deployment.trainers[0];
    if (trainer === undefined) throw new Error("no trainer");
    await waitFor(
      async () => {
        const job = await call(trainer.url, "GET", `/workspaces/e2e/services/churn-training/jobs/${jobId}?api-version=2.0`);
        return job.status === 200 && job.body["StatusCode"] === "Running";
      },
      { timeoutMs: 60_000, intervalMs: 25, description: "the run's job to be running" },
    );
    const cancel = await call(deployment.ingestion.url, "POST", `/v1/pipelines/churn/runs/${runId}/cancel`, { reason: "wrong file" });
    expect(cancel.status).toBe(200);
    expect(cancel.body).toMatchObject({ runId, pipeline: "churn", cancelled: true });
    const end = await endOf(runId);
    expect(end.type === EventTypes.TrainingFailed && end.data.code).toBe("Cancelled");
    const run = await waitFor(async () => {
      const r = await registry(`/v1/runs/${runId}`);
      return r.body["outcome"] === "cancelled" && (r.body["stages"] as Json[]).some((s) => s["stage"] === "failed") ? r.body : undefined;
    });
    expect(run).toMatchObject({ terminal: true });
    // The observer sees every run fact; the cancel and the job's end race, so their order is not asserted.
    expect(events.filter((e) => (e.data as { runId?: string }).runId === runId).map((e) => e.type).sort()).toEqual([EventTypes.DataArrived, EventTypes.RunCancelled, EventTypes.TrainingFailed].sort());
    const listed = (await registry("/v1/runs?outcome=cancelled")).body["value"] as Json[];
    expect(listed.map((r) => r["runId"])).toEqual([runId]);
    expect((await call(deployment.ingestion.url, "POST", `/v1/pipelines/churn/runs/${promoted[0]?.runId ?? ""}/cancel`, {})).status).toBe(409);
  }, 150_000);

  it("a paused pipeline holds an upload (no run) and the resume starts it, to its end", async () => {
    const paused = await call(deployment.ingestion.url, "POST", "/v1/pipelines/churn/pause");
    expect(paused.body).toMatchObject({ name: "churn", paused: true });
    const held = await upload(churnCsv(4000, 5));
    expect(held.status).toBe(202);
    expect(held.body).toEqual({ held: true, pipeline: "churn", triggerId: expect.any(String) });
    expect((await call(deployment.ingestion.url, "GET", "/v1/pipelines/churn")).body).toMatchObject({ paused: true, heldTriggers: 1 });
    const resumed = await call(deployment.ingestion.url, "POST", "/v1/pipelines/churn/resume");
    expect(resumed.status).toBe(200);
    const started = resumed.body["started"] as Json[];
    expect(started).toEqual([expect.objectContaining({ triggerId: held.body["triggerId"], runId: expect.any(String) })]);
    const runId = String(started[0]?.["runId"]);
    await endOf(runId);
    expect(await settledRun(runId)).toMatchObject({ runId, trigger: { kind: "upload" } });
    expect((await call(deployment.ingestion.url, "GET", "/v1/pipelines/churn")).body).toMatchObject({ paused: false, heldTriggers: 0 });
  }, 120_000);

  it("the rebuild command deletes the projections and rebuilds them from the log: the same queries, the same answers", async () => {
    const queries = [
      "/v1/runs",
      `/v1/runs/${promoted[0]?.runId ?? ""}`,
      `/v1/runs/${promoted[1]?.runId ?? ""}/lineage`,
      "/v1/targets",
      `/v1/targets/history?target=${encodeURIComponent(TARGET)}`,
      `/v1/targets/served?target=${encodeURIComponent(TARGET)}&at=${promoted[1]?.at ?? ""}`,
    ];
    const before = await Promise.all(queries.map((q) => registry(q, deployment.adminKey)));
    // Not execFileSync: a blocked event loop keeps the HTTP client from seeing idle sockets closed meanwhile.
    const { stdout } = await promisify(execFile)(process.execPath, [join(root, "services/registry/dist/rebuild.js")], { env: deployment.env, encoding: "utf8" });
    expect(JSON.parse(stdout.trim().split("\n").at(-1) ?? "{}")).toMatchObject({ rebuilt: true, events: expect.any(Number) });
    const after = await Promise.all(queries.map((q) => registry(q, deployment.adminKey)));
    expect(after).toEqual(before);
  }, 60_000);
});
