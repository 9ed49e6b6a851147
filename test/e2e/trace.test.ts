// Observability across processes: every service exports OTLP/HTTP JSON to a collector inside this
// test (which forwards to the registry's own receiver), scrapes /metrics, and writes pino lines that
// are captured whole. One deployment for the file: nats-server, Azurite and every service.
import { randomBytes, randomUUID } from "node:crypto";
import { retrain } from "@retrain/cli/testing";
import { EventTypes, type AnyEvent } from "@retrain/contracts";
import type { ReceivedSpan } from "@retrain/telemetry";
import { Cleanup, waitFor } from "@retrain/testing";
import { startDeployment, trainThroughBes, type Deployment } from "./deployment.js";
import { captureOutput, sample, scrape, startOtlpCollector, type OtlpCollector, type ServiceOutput } from "./observability.js";
import { buildAll } from "./processes.js";
import { CHURN_TRAINING_SERVICE, churnCsv } from "./churn.js";

const TERMINAL = new Set<string>([EventTypes.EndpointUpdated, EventTypes.PromotionFailed, EventTypes.ModelRejected, EventTypes.TrainingFailed]);
const RUN_SERVICES = ["retrain-ingestion", "retrain-trainer", "retrain-evaluator", "retrain-classic-promoter", "retrain-scoring"];

/** A W3C trace context as an upstream system would send it. */
function upstream(): { traceId: string; spanId: string; traceparent: string } {
  const traceId = randomBytes(16).toString("hex");
  const spanId = randomBytes(8).toString("hex");
  return { traceId, spanId, traceparent: `00-${traceId}-${spanId}-01` };
}

/** Spans of a trace whose parent is neither in the trace nor the upstream span: there must be none. */
function orphans(spans: readonly ReceivedSpan[], upstreamSpanId: string): ReceivedSpan[] {
  const ids = new Set(spans.map((s) => s.spanId));
  return spans.filter((s) => s.parentSpanId === undefined || (s.parentSpanId !== upstreamSpanId && !ids.has(s.parentSpanId)));
}

describe("one trace per run, metrics and logs across processes (NATS JetStream + Azurite + OTLP)", () => {
  const cleanup = new Cleanup();
  let deployment: Deployment;
  let collector: OtlpCollector;
  let output: ServiceOutput;
  let events: AnyEvent[] = [];
  let classicWebServiceId = "";
  const uploaded: string[] = [];
  let promoted: { runId: string; traceId: string; upstreamSpanId: string } | undefined;

  const call = async (base: string, method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<{ status: number; body: unknown }> => {
    const contentType = typeof body === "string" ? "text/csv" : "application/json";
    const response = await fetch(`${base}${path}`, {
      method,
      headers: { authorization: `Bearer ${deployment.key}`, ...(body !== undefined ? { "content-type": contentType } : {}), ...headers },
      ...(body !== undefined ? { body: typeof body === "string" ? body : JSON.stringify(body) } : {}),
    });
    const text = await response.text();
    return { status: response.status, body: text === "" ? undefined : (JSON.parse(text) as unknown) };
  };
  const endOf = (runId: string) =>
    waitFor(() => events.find((e) => TERMINAL.has(e.type) && (e.data as { runId: string }).runId === runId), { timeoutMs: 90_000, description: `run ${runId} to end` });
  const traceSpans = (traceId: string) => collector.spans.filter((s) => s.traceId === traceId);
  const upload = async (pipeline: string, csv: string, traceparent: string) => {
    uploaded.push(csv);
    const answer = await call(deployment.ingestion.url, "PUT", `/v1/pipelines/${pipeline}/datasets`, csv, { traceparent });
    expect(answer.status).toBe(202);
    return (answer.body as { runId: string }).runId;
  };

  beforeAll(async () => {
    buildAll();
    collector = await startOtlpCollector();
    cleanup.add(() => collector.close());
    const target = (webService: string, createIfMissing: boolean) =>
      `{ kind: classic, workspace: e2e, webService: ${webService}, endpoint: ep1, resourceName: "Churn [trained model]", createIfMissing: ${createIfMissing} }`;
    deployment = await startDeployment({
      config: [
        ...CHURN_TRAINING_SERVICE,
        "pipelines:",
        "  - name: churn",
        "    trainingWebService: { workspace: e2e, service: churn-training }",
        "    evaluation: { mode: automatic, primaryMetric: AUC, threshold: 0.6 }",
        `    targets: [ ${target("churn", true)} ]`,
        "    split: { fraction: 0.25, seed: 11 }",
        "  - name: churn-missing",
        "    trainingWebService: { workspace: e2e, service: churn-training }",
        "    evaluation: { mode: automatic, primaryMetric: AUC, threshold: 0.6 }",
        `    targets: [ ${target("no-such-web-service", false)} ]`,
        "    split: { fraction: 0.25, seed: 12 }",
      ],
      // Only standard OTEL_* variables configure tracing and metrics; a short batch delay and metric
      // interval make export prompt.
      env: { OTEL_EXPORTER_OTLP_ENDPOINT: collector.url, OTEL_BSP_SCHEDULE_DELAY: "100", OTEL_METRIC_EXPORT_INTERVAL: "1000", LOG_LEVEL: "debug" },
    });
    cleanup.add(() => deployment.stop());
    output = captureOutput(deployment);
    collector.forwardTo(deployment.registry.url, deployment.adminKey);
    events = deployment.events;
    const initial = churnCsv(3000, 1);
    uploaded.push(initial);
    const model0 = await trainThroughBes(deployment, "churn-training", initial);
    const classic = await call(deployment.scoring.url, "POST", "/v1/workspaces/e2e/webservices", { name: "churn", resourceName: "Churn [trained model]", model: { location: model0 }, modelId: "initial" });
    expect(classic.status).toBe(201);
    classicWebServiceId = (classic.body as { webService: { Id: string } }).webService.Id;
  }, 240_000);
  afterAll(() => cleanup.run(), 60_000);

  it("an upload with an upstream traceparent: ingestion, trainer (through the queued BES job), evaluator, promoter and scoring's PATCH are one tree under it", async () => {
    const parent = upstream();
    const runId = await upload("churn", churnCsv(4000, 2), parent.traceparent);
    const end = await endOf(runId);
    expect(end.type).toBe(EventTypes.EndpointUpdated);
    promoted = { runId, traceId: parent.traceId, upstreamSpanId: parent.spanId };

    // Spans are exported in batches, each process on its own schedule: wait for the whole tree.
    const spans = await waitFor(
      () => {
        const found = traceSpans(parent.traceId);
        const services = new Set(found.map((s) => s.serviceName));
        const patch = found.some((s) => s.serviceName === "retrain-scoring" && s.kind === "server" && s.attributes["http.request.method"] === "PATCH");
        return RUN_SERVICES.every((name) => services.has(name)) && patch && orphans(found, parent.spanId).length === 0 && found;
      },
      { timeoutMs: 30_000, description: "every service's spans of the run, with every parent present" },
    );
    expect(collector.rejected).toEqual([]);
    // One tree: exactly one way in from upstream (ingestion's server span), every other parent present.
    const fromUpstream = spans.filter((s) => s.parentSpanId === parent.spanId);
    expect(fromUpstream.map((s) => [s.serviceName, s.kind])).toEqual([["retrain-ingestion", "server"]]);
    expect(orphans(spans, parent.spanId)).toEqual([]);

    const byId = new Map(spans.map((s) => [s.spanId, s]));
    // Messaging spans per the semantic conventions, carrying the run id.
    const publish = spans.find((s) => s.kind === "producer" && s.attributes["messaging.destination.name"]?.toString().endsWith(EventTypes.DataArrived));
    expect(publish?.attributes).toMatchObject({ "messaging.system": "nats", "messaging.operation.type": "send", "retrain.run_id": runId });
    expect(typeof publish?.attributes["messaging.message.id"]).toBe("string");
    const trainerProcess = spans.find((s) => s.serviceName === "retrain-trainer" && s.kind === "consumer" && s.parentSpanId === publish?.spanId);
    expect(trainerProcess?.attributes).toMatchObject({ "messaging.system": "nats", "messaging.operation.type": "process", "messaging.message.id": publish?.attributes["messaging.message.id"], "retrain.run_id": runId });
    // The training job runs from the queued BES command, in the same trace.
    const job = spans.find((s) => s.name === "bes job churn-training");
    expect(job?.attributes["retrain.run_id"]).toBe(runId);
    const jobProcess = job?.parentSpanId === undefined ? undefined : byId.get(job.parentSpanId);
    expect(jobProcess?.attributes["messaging.destination.name"]).toContain(EventTypes.BatchJobQueued);
    // Evaluator → scoring (the champion) and promoter → scoring (the PATCH): client spans continued by scoring's server spans.
    for (const caller of ["retrain-evaluator", "retrain-classic-promoter"]) {
      const continued = spans.filter((s) => s.serviceName === "retrain-scoring" && s.kind === "server" && byId.get(s.parentSpanId ?? "")?.serviceName === caller);
      expect({ caller, continued: continued.length > 0 && continued.every((s) => byId.get(s.parentSpanId ?? "")?.kind === "client") }).toEqual({ caller, continued: true });
    }
    const patch = spans.find((s) => s.serviceName === "retrain-scoring" && s.attributes["http.request.method"] === "PATCH");
    expect(byId.get(patch?.parentSpanId ?? "")?.serviceName).toBe("retrain-classic-promoter");
    // A promoted run decided nothing as a failure (a client's 404 on a lookup may be an error span; no stage is).
    expect(spans.filter((s) => (s.kind === "consumer" || s.kind === "producer") && s.status.code === "error")).toEqual([]);
  }, 120_000);

  it("a rejected run carries error status with the evaluator's reason", async () => {
    const parent = upstream();
    const runId = await upload("churn", churnCsv(3000, 3, { noise: true }), parent.traceparent);
    const end = await endOf(runId);
    expect(end.type).toBe(EventTypes.ModelRejected);
    const reason = end.type === EventTypes.ModelRejected ? end.data.reason : "";
    // The processing span ends (and is exported) after the publish span inside it: wait for both.
    const failed = await waitFor(
      () => {
        const found = traceSpans(parent.traceId).filter((s) => s.serviceName === "retrain-evaluator" && s.status.code === "error");
        return found.some((s) => s.kind === "consumer") && found.some((s) => s.kind === "producer") && found;
      },
      { timeoutMs: 30_000, description: "the evaluator's error spans" },
    );
    expect(failed.filter((s) => s.kind === "consumer").map((s) => s.status.message)).toEqual([`rejected: ${reason}`]);
    const publish = failed.find((s) => s.kind === "producer");
    expect(publish?.attributes).toMatchObject({ "retrain.outcome": EventTypes.ModelRejected, "retrain.reason": `rejected: ${reason}` });
    expect(publish?.status.message).toBe(`rejected: ${reason}`);
  }, 120_000);

  it("a CloudEvent's traceparent parents its run; a failed promotion carries error status and the reason", async () => {
    const parent = upstream();
    const csv = churnCsv(3000, 4);
    uploaded.push(csv);
    const blobName = `uploads/${randomUUID()}.csv`;
    await deployment.store.put(blobName, Buffer.from(csv), { contentType: "text/csv" });
    const cloudEvent = { specversion: "1.0", id: randomUUID(), source: "/upstream/test", type: EventTypes.DatasetAvailable, traceparent: parent.traceparent, data: { pipeline: "churn-missing", dataset: { blobName } } };
    const accepted = await call(deployment.ingestion.url, "POST", "/v1/events", cloudEvent, { "content-type": "application/cloudevents+json" });
    expect(accepted.status).toBe(202);
    const runId = (accepted.body as { runId: string }).runId;
    const end = await endOf(runId);
    expect(end.type).toBe(EventTypes.PromotionFailed);
    if (end.type !== EventTypes.PromotionFailed) return;
    const expected = `promotion failed: ${end.data.code}: ${end.data.reason}`;
    const spans = await waitFor(
      () => {
        const found = traceSpans(parent.traceId);
        const failed = found.some((s) => s.serviceName === "retrain-classic-promoter" && s.kind === "consumer" && s.status.message === expected);
        return failed && found.some((s) => s.serviceName === "retrain-trainer") && orphans(found, parent.spanId).length === 0 && found;
      },
      { timeoutMs: 30_000, description: "the promoter's failed span in the upstream's trace" },
    );
    // The upstream's span is the run's parent: ingestion's work hangs from it, not from the HTTP request's own trace.
    expect(spans.filter((s) => s.parentSpanId === parent.spanId).map((s) => s.name)).toContain(`ingest ${EventTypes.DatasetAvailable}`);
    expect(spans.some((s) => s.attributes["retrain.run_id"] === runId)).toBe(true);
  }, 120_000);

  it("retrain trace <run>: the waterfall from the registry's events, with the spans the registry received", async () => {
    if (promoted === undefined) throw new Error("the promoted run's test did not run");
    const { runId, traceId } = promoted;
    await collector.forwarded();
    const count = traceSpans(traceId).length;
    // The registry keeps what the collector forwarded to it.
    await waitFor(
      async () => {
        const answer = await fetch(`${deployment.registry.url}/v1/runs/${runId}/spans`, { headers: { authorization: `Bearer ${deployment.adminKey}` } });
        return answer.status === 200 && ((await answer.json()) as { value: unknown[] }).value.length >= count;
      },
      { timeoutMs: 15_000, description: "the registry to hold the run's spans" },
    );
    const human = await retrain(["trace", runId], { url: deployment.registry.url, key: deployment.adminKey });
    expect(human.code).toBe(0);
    const text = human.stdout;
    expect(text).toContain(`run ${runId} · pipeline churn`);
    for (const [stage, service] of [["received", "ingestion"], ["trained", "trainer"], ["approved", "evaluator"], ["updated", "classic-promoter"]]) {
      expect(text).toMatch(new RegExp(`^${stage}\\S*(\\s\\S+)?\\s+${service}\\s+\\+`, "m"));
    }
    expect(text).toContain(`trace ${traceId}`);
    expect(text).toContain("bes job churn-training");
    const json = (await retrain(["trace", runId, "--json"], { url: deployment.registry.url, key: deployment.adminKey })).json<{ stages: Array<{ service: string; outcome: string }>; spans: unknown[] }>();
    expect(json.stages.map((s) => s.service)).toEqual(["ingestion", "trainer", "evaluator", "classic-promoter"]);
    expect(json.stages.every((s) => s.outcome === "ok")).toBe(true);
    expect(json.spans.length).toBeGreaterThanOrEqual(count);
  }, 60_000);

  it("/metrics: runs by pipeline and outcome, stage durations, broker lag and dead letters, RRS per endpoint and model, BES jobs by status", async () => {
    const endpointKey = `classic:e2e/${classicWebServiceId}/ep1`;
    // The promoters' smoke test scored through RRS already: this test's request is counted on top.
    const scoringBefore = await scrape(deployment.scoring.url);
    const endpoint = (await call(deployment.scoring.url, "GET", `/workspaces/e2e/webservices/${classicWebServiceId}/endpoints/ep1`)).body as { ApiLocation: string; PrimaryKey: string };
    const scored = await fetch(`${endpoint.ApiLocation}/execute?api-version=2.0`, {
      method: "POST",
      headers: { authorization: `Bearer ${endpoint.PrimaryKey}`, "content-type": "application/json" },
      body: JSON.stringify({ Inputs: { input1: { ColumnNames: ["tenure", "charges", "plan"], Values: [["3", "99.5", "basic"]] } }, GlobalParameters: {} }),
    });
    expect(scored.status).toBe(200);
    const refused = await fetch(`${endpoint.ApiLocation}/execute?api-version=2.0`, {
      method: "POST",
      headers: { authorization: `Bearer ${endpoint.PrimaryKey}`, "content-type": "application/json" },
      body: JSON.stringify({ Inputs: { input1: { ColumnNames: ["no-such-column"], Values: [["1"]] } }, GlobalParameters: {} }),
    });
    expect(refused.status).toBe(400);
    const modelId = (scored.headers.get("x-retrain-model") ?? "").split("@")[0] ?? "";

    const registry = await scrape(deployment.registry.url);
    expect(sample(registry, "retrain_runs_total", { pipeline: "churn", outcome: "started" })).toBe(2);
    expect(sample(registry, "retrain_runs_total", { pipeline: "churn", outcome: "succeeded" })).toBe(1);
    expect(sample(registry, "retrain_runs_total", { pipeline: "churn", outcome: "rejected" })).toBe(1);
    expect(sample(registry, "retrain_runs_total", { pipeline: "churn-missing", outcome: "failed" })).toBe(1);
    expect(sample(registry, "retrain_run_stage_duration_seconds_count", { pipeline: "churn", stage: "training" })).toBe(2);
    expect(sample(registry, "retrain_run_stage_duration_seconds_count", { pipeline: "churn", stage: "promotion" })).toBe(1);
    expect(sample(registry, "retrain_run_stage_duration_seconds_sum", { pipeline: "churn", stage: "run" })).toBeGreaterThan(0);

    // Every run has ended: each consumer group's backlog is empty and nothing was dead-lettered.
    for (const [service, group] of [[deployment.trainers[0], "trainer"], [deployment.evaluator, "evaluator"], [deployment.registry, "registry"]] as const) {
      // The last events may still be in flight to a consumer that is not part of the run's end (the registry's log).
      const text = await waitFor(
        async () => {
          const scraped = await scrape(service?.url ?? "");
          return sample(scraped, "retrain_bus_consumer_pending_messages", { group }) === 0 && sample(scraped, "retrain_bus_consumer_unacknowledged_messages", { group }) === 0 && scraped;
        },
        { timeoutMs: 15_000, description: `group ${group}'s backlog to empty` },
      );
      expect(sample(text, "retrain_bus_dead_letters")).toBe(0);
    }
    for (const service of [deployment.ingestion, deployment.scoring]) expect(sample(await scrape(service.url), "retrain_bus_dead_letters")).toBe(0);

    const scoring = await scrape(deployment.scoring.url);
    const rrs = (text: string, name: string, labels: Record<string, string> = {}) => sample(text, name, { endpoint: endpointKey, model: modelId, ...labels }) ?? 0;
    expect(rrs(scoring, "retrain_rrs_requests_total") - rrs(scoringBefore, "retrain_rrs_requests_total")).toBe(2);
    expect(rrs(scoring, "retrain_rrs_request_duration_seconds_count") - rrs(scoringBefore, "retrain_rrs_request_duration_seconds_count")).toBe(2);
    expect(rrs(scoring, "retrain_rrs_request_duration_seconds_sum")).toBeGreaterThan(rrs(scoringBefore, "retrain_rrs_request_duration_seconds_sum"));
    const errors = (text: string) =>
      text.split("\n").filter((l) => l.startsWith("retrain_rrs_errors_total{") && l.includes(`endpoint="${endpointKey}"`) && l.includes(`model="${modelId}"`)).reduce((sum, l) => sum + Number(l.split(" ").pop()), 0);
    expect(errors(scoring) - errors(scoringBefore)).toBe(1);
    const executed = (text: string) => sample(text, "http_server_requests_total", { route: "/workspaces/:workspace/services/:service/execute", status: "200" }) ?? 0;
    expect(executed(scoring) - executed(scoringBefore)).toBe(1);

    const trainer = await scrape(deployment.trainers[0]?.url ?? "");
    // The initial BES job and the three runs' jobs.
    expect(sample(trainer, "retrain_bes_jobs_total", { host: "trainer", status: "NotStarted" })).toBe(4);
    expect(sample(trainer, "retrain_bes_jobs_total", { host: "trainer", status: "Finished" })).toBe(4);
    // A job handed to another attempt (a redelivery under load) starts running again.
    expect(sample(trainer, "retrain_bes_jobs_total", { host: "trainer", status: "Running" })).toBeGreaterThanOrEqual(4);
    expect(sample(trainer, "retrain_bes_jobs_running", { host: "trainer" })).toBe(0);
  }, 60_000);

  it("metrics over OTLP: every service pushes its registry to /v1/metrics under its service name, agreeing with /metrics", async () => {
    const serviceNames = [...new Set(deployment.services.map((s) => `retrain-${s.name}`))];
    // A scrape is itself an answered request: afterwards every service has HTTP server series to push.
    for (const service of deployment.services) await scrape(service.url);
    const latest = (serviceName: string, name: string, labels: Record<string, string> = {}) =>
      collector.metrics.filter((p) => p.serviceName === serviceName && p.name === name && Object.entries(labels).every(([k, v]) => p.attributes[k] === v)).at(-1);
    const runsScraped = sample(await scrape(deployment.registry.url), "retrain_runs_total", { pipeline: "churn", outcome: "started" });
    await waitFor(
      () =>
        serviceNames.every((name) => (latest(name, "http_server_request_duration_seconds", { route: "/metrics", status: "200" })?.value ?? 0) >= 1) &&
        latest("retrain-registry", "retrain_runs_total", { pipeline: "churn", outcome: "started" })?.value === runsScraped,
      { timeoutMs: 20_000, description: `metrics pushed by ${serviceNames.join(", ")}` },
    );
    expect(collector.rejected).toEqual([]);
    expect(runsScraped).toBe(2);
    for (const name of serviceNames) {
      const http = latest(name, "http_server_request_duration_seconds", { route: "/metrics" });
      expect({ name, type: http?.type, service: http?.attributes["service"] }).toEqual({ name, type: "histogram", service: name.replace(/^retrain-/, "") });
      expect({ name, counter: latest(name, "http_server_requests_total", { route: "/metrics" })?.type }).toEqual({ name, counter: "sum" });
    }
  }, 60_000);

  it("logs: pino JSON lines correlated by trace_id, span_id, run_id and event_id; no key, SAS signature, CSV content or connection string", async () => {
    if (promoted === undefined) throw new Error("the promoted run's test did not run");
    const lines = output.lines();
    const json = lines.flatMap(({ service, line }) => {
      try {
        return [{ service, entry: JSON.parse(line) as Record<string, unknown> }];
      } catch {
        return [];
      }
    });
    expect(json.length).toBeGreaterThan(50);
    const correlated = json.filter(({ entry }) => entry["run_id"] === promoted?.runId && entry["trace_id"] === promoted?.traceId && typeof entry["span_id"] === "string" && typeof entry["event_id"] === "string");
    expect(correlated.map((c) => c.service)).toEqual(expect.arrayContaining(["trainer", "evaluator", "classic-promoter"]));

    const endpoint = (await call(deployment.scoring.url, "GET", `/workspaces/e2e/webservices/${classicWebServiceId}/endpoints/ep1`)).body as { PrimaryKey: string; SecondaryKey?: string };
    const accountKey = /AccountKey=([^;]+)/.exec(deployment.azureConnectionString)?.[1] ?? "";
    const secrets: Record<string, string> = {
      "admin key": deployment.adminKey,
      "workspace key": deployment.key,
      "endpoint primary key": endpoint.PrimaryKey,
      "storage account key": accountKey,
      "storage connection string": deployment.azureConnectionString,
      "SCORING_KEK": deployment.env["SCORING_KEK"] ?? "",
      "RETRAIN_KEK": deployment.env["RETRAIN_KEK"] ?? "",
    };
    const all = lines.map((l) => l.line).join("\n");
    for (const [what, secret] of Object.entries(secrets)) {
      expect(secret.length).toBeGreaterThan(8);
      expect({ what, leaked: all.includes(secret) }).toEqual({ what, leaked: false });
    }
    // A SAS signature's value never appears (a redacted one may).
    expect(all.match(/sig=(?!\[redacted\])[^&"\s]*/g) ?? []).toEqual([]);
    // No row of any dataset uploaded.
    const rows = uploaded.flatMap((csv) => csv.split("\n").slice(1, 6));
    expect(rows.filter((row) => all.includes(row))).toEqual([]);
  }, 60_000);
});
