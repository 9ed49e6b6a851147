// pnpm demo — the retraining loop on the embedded default, end to end, ending by itself.
// A training web service is published and its first model becomes a predictive web service (the
// seed's starting point); then a pipeline retrains it as data arrives: v1 → endpoint created and
// updated; v2 (the relationship drifted) → retrained, beats the champion on the same holdout rows,
// promoted; a bad dataset (labels are noise) → rejected, endpoint unchanged. Each run's timeline and the
// endpoint's promotion history come from the registry; it ends with a rollback to the first model and
// back (the registry's rollback API, admin key). `--json` prints a summary.
import { randomBytes } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { formatDuration, table, type PromotionView, type StageView } from "@retrain/cli";
import { EventTypes, type AnyEvent } from "@retrain/contracts";
import { SeededRandom } from "@retrain/ml";
import { silentLogger } from "@retrain/telemetry";
import { startEmbedded } from "./embedded.js";

const json = process.argv.includes("--json");
const say = (line = ""): void => {
  if (!json) console.log(line);
};

/** Bike rentals per hour: is demand high? v2's relationship drifted (heat now hurts, rain matters more). */
function dataset(rows: number, seed: number, version: "v0" | "v1" | "v2" | "noise"): string {
  const random = new SeededRandom(seed);
  const lines = ["temperature,humidity,hour,weekday,high_demand"];
  const days = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];
  for (let i = 0; i < rows; i++) {
    const temperature = 5 + random.nextFloat() * 30;
    const humidity = 20 + random.nextFloat() * 75;
    const hour = random.nextInt(24);
    const weekday = days[random.nextInt(7)] ?? "mon";
    const rush = hour === 8 || hour === 17 || hour === 18 ? 1.2 : 0;
    const weekend = weekday === "sat" || weekday === "sun" ? 0.6 : 0;
    const z =
      version === "v2"
        ? -0.12 * (temperature - 20) - 0.06 * (humidity - 55) + rush + weekend
        : 0.1 * (temperature - 20) - 0.03 * (humidity - 55) + rush + weekend;
    const label = version === "noise" ? random.nextInt(2) : random.nextFloat() < 1 / (1 + Math.exp(-z)) ? 1 : 0;
    lines.push(`${temperature.toFixed(1)},${humidity.toFixed(0)},${hour},${weekday},${label}`);
  }
  return lines.join("\n") + "\n";
}

const probeRows = [
  ["12.0", "80", "8", "mon"],
  ["31.5", "30", "17", "sat"],
  ["22.0", "55", "3", "wed"],
];

const dir = await mkdtemp(join(tmpdir(), "retrain-demo-"));
const workspaceKey = randomBytes(24).toString("base64url");
const retrain = await startEmbedded({ dataDir: dir, port: 0, logger: silentLogger(), workspaces: [{ id: "demo", keys: { primary: workspaceKey } }] });
const started = Date.now();
const events: AnyEvent[] = [];
const terminal = new Set<string>([EventTypes.EndpointUpdated, EventTypes.PromotionFailed, EventTypes.ModelRejected, EventTypes.TrainingFailed]);
await retrain.bus.subscribe({
  group: "demo-observer",
  types: [EventTypes.DataArrived, EventTypes.ModelTrained, EventTypes.TrainingFailed, EventTypes.ModelApproved, EventTypes.ModelRejected, EventTypes.EndpointUpdated, EventTypes.PromotionFailed],
  concurrency: 8,
  handler: async (event) => void events.push(event as AnyEvent),
});

async function call(method: string, path: string, body?: unknown, contentType = "application/json", key = workspaceKey): Promise<{ status: number; body: unknown; headers: Headers }> {
  const response = await fetch(`${retrain.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${key}`, ...(body !== undefined ? { "content-type": contentType } : {}) },
    ...(body !== undefined ? { body: typeof body === "string" ? body : JSON.stringify(body) } : {}),
  });
  const text = await response.text();
  let parsed: unknown = text;
  try {
    parsed = text === "" ? undefined : JSON.parse(text);
  } catch {
    // not JSON
  }
  if (response.status >= 400) throw new Error(`${method} ${path} → ${response.status}: ${text}`);
  return { status: response.status, body: parsed, headers: response.headers };
}

async function until<T>(what: string, probe: () => T | undefined | Promise<T | undefined>, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

const indent = (text: string): string => text.replace(/^/gm, "   ");

type Result = { BaseLocation: string; RelativeLocation: string; SasBlobToken: string };
try {
  say("Retrain demo — the retraining loop on the embedded default (in-memory bus, filesystem store)");
  say(`  listening on ${retrain.url}`);

  // 1. The training experiment, published as a training web service.
  await call("PUT", "/v1/workspaces/demo/training-services/bike-demand-training", {
    learner: "Two-Class Logistic Regression",
    label: "high_demand",
    parameters: { l1RegularizationWeight: 0, l2RegularizationWeight: 1 },
    split: { fraction: 0.25, seed: 7 },
  });
  say("1. training web service 'bike-demand-training' (Two-Class Logistic Regression) published");

  // 2. Its first model, trained through the Batch Execution Service as a classic client would.
  await retrain.store.put("uploads/bike-v0.csv", Buffer.from(dataset(4000, 100, "v0")), { contentType: "text/csv" });
  const input = new URL(await retrain.store.readUrl("uploads/bike-v0.csv", 600_000));
  const bes = "/workspaces/demo/services/bike-demand-training";
  const jobId = (await call("POST", `${bes}/jobs?api-version=2.0`, { Inputs: { input1: { BaseLocation: `${input.origin}/_blobs/`, RelativeLocation: "uploads/bike-v0.csv", SasBlobToken: input.search } } })).body as string;
  await call("POST", `${bes}/jobs/${jobId}/start?api-version=2.0`);
  const finished = await until("the BES job", async () => {
    const status = (await call("GET", `${bes}/jobs/${jobId}?api-version=2.0`)).body as { StatusCode: string; Results: Record<string, Result> | null; Details: string | null };
    if (status.StatusCode === "Failed" || status.StatusCode === "Cancelled") throw new Error(`BES job ${status.StatusCode}: ${status.Details}`);
    return status.StatusCode === "Finished" ? status : undefined;
  });
  const model0 = finished.Results?.["output1"] as Result;
  say(`2. BES job ${jobId.slice(0, 8)}… trained the first model: ${model0.RelativeLocation}`);

  // 3. The predictive web service, published from that model.
  const published = (await call("POST", "/v1/workspaces/demo/webservices", { name: "bike-demand", resourceName: "Bike Demand [trained model]", model: { location: model0 }, modelId: "initial" })).body as { webService: { Id: string } };
  say(`3. predictive web service 'bike-demand' published (id ${published.webService.Id}) with its default endpoint`);

  // 4. The pipeline that keeps it fresh: retrain on new data, evaluate, promote to endpoint store-042.
  await call("PUT", "/v1/pipelines/bike-demand", {
    trainingWebService: { workspace: "demo", service: "bike-demand-training" },
    evaluation: { mode: "automatic", primaryMetric: "AUC", threshold: 0.6, minGain: { kind: "absolute", value: 0.005 } },
    targets: [{ kind: "classic", workspace: "demo", webService: "bike-demand", endpoint: "store-042", resourceName: "Bike Demand [trained model]", createIfMissing: true }],
    split: { fraction: 0.25, seed: 11 },
    columns: ["temperature", "humidity", "hour", "weekday", "high_demand"],
  });
  say("4. pipeline 'bike-demand': AUC ≥ 0.6 and ≥ 0.005 better than the champion → endpoint store-042");

  const endpointPath = `/workspaces/demo/webservices/${published.webService.Id}/endpoints/store-042`;
  async function predictions(): Promise<{ model: string; rows: string[][] }> {
    const endpoint = (await call("GET", endpointPath)).body as { ApiLocation: string; PrimaryKey: string };
    const response = await fetch(`${endpoint.ApiLocation}/execute?api-version=2.0&details=true`, {
      method: "POST",
      headers: { authorization: `Bearer ${endpoint.PrimaryKey}`, "content-type": "application/json" },
      body: JSON.stringify({ Inputs: { input1: { ColumnNames: ["temperature", "humidity", "hour", "weekday"], Values: probeRows } }, GlobalParameters: {} }),
    });
    const body = (await response.json()) as { Results: { output1: { value: { Values: string[][] } } } };
    return { model: response.headers.get("x-retrain-model") ?? "?", rows: body.Results.output1.value.Values };
  }

  const runs: Array<{
    dataset: string;
    runId: string;
    runSequence: number;
    outcome: string;
    reason: string;
    metrics?: Record<string, number>;
    revision?: number;
    timeline: Array<{ stage: string; durationMs: number | null }>;
  }> = [];

  /** The registry's view of a run once it has seen the run end (it projects every event). */
  async function registryTimeline(runId: string): Promise<StageView[]> {
    return until(`the registry's timeline of ${runId}`, async () => {
      const response = await fetch(`${retrain.url}/v1/runs/${runId}`, { headers: { authorization: `Bearer ${workspaceKey}` } });
      if (response.status !== 200) return undefined;
      const body = (await response.json()) as { terminal: boolean; stages: StageView[] };
      return body.terminal ? body.stages : undefined;
    });
  }

  async function upload(label: string, csv: string): Promise<void> {
    const accepted = (await call("PUT", "/v1/pipelines/bike-demand/datasets", csv, "text/csv")).body as { runId: string; runSequence: number };
    const end = await until(`run ${accepted.runId}`, () => events.find((e) => terminal.has(e.type) && (e.data as { runId: string }).runId === accepted.runId));
    const trained = events.find((e) => e.type === EventTypes.ModelTrained && e.data.runId === accepted.runId);
    const judged = events.find((e) => (e.type === EventTypes.ModelApproved || e.type === EventTypes.ModelRejected) && e.data.runId === accepted.runId);
    const reason = judged !== undefined && "reason" in judged.data ? String(judged.data.reason) : end.type === EventTypes.TrainingFailed ? end.data.reason : end.type === EventTypes.PromotionFailed ? end.data.reason : "";
    const outcome = end.type === EventTypes.EndpointUpdated ? "promoted" : end.type === EventTypes.ModelRejected ? "rejected" : end.type === EventTypes.TrainingFailed ? "training failed" : "promotion failed";
    const entry = {
      dataset: label,
      runId: accepted.runId,
      runSequence: accepted.runSequence,
      outcome,
      reason,
      ...(trained?.type === EventTypes.ModelTrained ? { metrics: trained.data.metrics } : {}),
      ...(end.type === EventTypes.EndpointUpdated ? { revision: end.data.revision } : {}),
    };
    const timeline = await registryTimeline(accepted.runId);
    runs.push({ ...entry, timeline: timeline.map((s) => ({ stage: s.stage, durationMs: s.durationMs })) });
    say(`   run #${entry.runSequence} (${label}): ${outcome}${entry.revision !== undefined ? ` → store-042 revision ${entry.revision}` : ""}`);
    if (reason) say(`      ${reason}`);
    say(`      timeline: ${timeline.map((t) => `${t.stage}${t.durationMs === null ? "" : ` +${formatDuration(t.durationMs)}`}`).join(" → ")}`);
  }

  say("5. data arrives (each run's timeline as the registry recorded it):");
  await upload("v1", dataset(6000, 201, "v1"));
  const before = await predictions();
  await upload("v2, drifted", dataset(6000, 202, "v2"));
  const after = await predictions();
  await upload("bad: labels are noise", dataset(3000, 203, "noise"));
  const final = await predictions();

  const probability = (row: string[] | undefined): string => (row === undefined ? "?" : `${row[0]} (${Number(row[1]).toFixed(2)})`);
  say("6. predictions of store-042 for the same rows: label (probability)");
  say(
    indent(
      table(
        probeRows.map((row, i) => [...row, probability(before.rows[i]), probability(after.rows[i]), probability(final.rows[i])]),
        ["TEMPERATURE", "HUMIDITY", "HOUR", "WEEKDAY", "AFTER RUN #1", "AFTER RUN #2", "AFTER RUN #3 (REJECTED)"],
      ),
    ),
  );

  // 7. Rollback through the registry (admin key): the model run #1 trained serves again as a new
  // revision recorded as a rollback; then back to run #2's model the same way.
  const target = "classic:demo/bike-demand/store-042";
  const rollbacks: Array<{ to: string; toRunSequence: number; rollbackRunId: string; revision: number; modelId: string; servedModel: string; predictions: string[][] }> = [];
  async function rollback(to: { runId: string; runSequence: number }): Promise<void> {
    const accepted = (await call("POST", "/v1/targets/rollback", { target, to: to.runId, reason: "demo" }, "application/json", retrain.adminKey)).body as { rollbackRunId: string };
    const end = await until(`rollback ${accepted.rollbackRunId}`, () => events.find((e) => terminal.has(e.type) && (e.data as { runId: string }).runId === accepted.rollbackRunId));
    if (end.type !== EventTypes.EndpointUpdated) throw new Error(`rollback to run ${to.runId} ended with ${end.type}: ${JSON.stringify(end.data)}`);
    const served = await predictions();
    rollbacks.push({ to: to.runId, toRunSequence: to.runSequence, rollbackRunId: accepted.rollbackRunId, revision: end.data.revision, modelId: end.data.model.modelId, servedModel: served.model, predictions: served.rows });
    const same = JSON.stringify(served.rows) === JSON.stringify(to.runSequence === 1 ? before.rows : after.rows);
    say(`   to run #${to.runSequence}'s model → store-042 revision ${end.data.revision}; predictions are those after run #${to.runSequence} again: ${same ? "yes" : "NO"}`);
  }
  say("7. rollback to the first model and back (the registry's rollback API, admin key):");
  const [first, second] = runs;
  if (first === undefined || second === undefined) throw new Error("the demo's first two runs are missing");
  await rollback(first);
  await rollback(second);

  const history = await until("the registry's history with both rollbacks", async () => {
    const body = (await call("GET", `/v1/targets/history?target=${encodeURIComponent(target)}`)).body as { value: PromotionView[] };
    return body.value.filter((e) => e.kind === "rollback").length === 2 ? body.value : undefined;
  });
  const sequenceOf = new Map([...runs, ...rollbacks.map((r) => ({ runId: r.rollbackRunId, runSequence: r.toRunSequence }))].map((r) => [r.runId, r.runSequence]));
  say("8. store-042's promotion history (registry): which model served when");
  say(
    indent(
      table(
        history.map((e) => [e.revision, e.kind, `run #${sequenceOf.get(e.runId) ?? e.runSequence}`, e.modelId, e.at.slice(11, 23)]),
        ["REVISION", "KIND", "MODEL OF", "MODEL", "AT (UTC)"],
      ),
    ),
  );
  say(`9. done in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  say("   the same views of your own Retrain: pnpm start, then pnpm retrain runs | run <id> | history <webservice>/<endpoint> (pnpm retrain --help)");

  if (json) {
    console.log(
      JSON.stringify(
        {
          url: retrain.url,
          besJob: { id: jobId, model: model0.RelativeLocation },
          webService: published.webService.Id,
          runs,
          endpoint: { name: "store-042", target, servedBefore: before.model, servedAfter: after.model, servedAtEnd: final.model, history },
          predictions: { rows: probeRows, before: before.rows, after: after.rows },
          rollbacks,
          durationMs: Date.now() - started,
        },
        null,
        2,
      ),
    );
  }
} finally {
  await retrain.stop(1_000);
  await rm(dir, { recursive: true, force: true });
}
