// The registry's observability surface: run metrics on /metrics, the OTLP/HTTP trace receiver with
// spans per run, and the /ui page's files. Memory bus, filesystem store, real HTTP.
import { FileSystemBlobStore } from "@retrain/blob";
import { MemoryBus } from "@retrain/bus";
import { createEvent, EventTypes, exampleData, type AnyEvent, type EndpointTarget } from "@retrain/contracts";
import { keyVerifier } from "@retrain/runtime";
import { createHttpApp, MetricsRegistry, startHttpServer, type RunningServer } from "@retrain/service-kit";
import { setupTelemetry, silentLogger, withSpan, type ReceivedSpan } from "@retrain/telemetry";
import { Cleanup, tempDir } from "@retrain/testing";
import { createRegistry, type Registry } from "./app.js";
import { SpanStore } from "./otlp.js";
import { stageDuration } from "./run-metrics.js";

const SOURCE = "/retrain/test";
const ADMIN = "admin-key-0123456789";
const t0 = Date.parse("2026-11-28T10:00:00.000Z");
const at = (offsetMs: number): Date => new Date(t0 + offsetMs);
const target: EndpointTarget = { kind: "classic", workspace: "ws-contoso", webService: "bike-rental", endpoint: "store-042", resourceName: "Bike Rental [trained model]" };

/** data → trained → approved → updated, or data → trained → rejected. */
function runEvents(runId: string, runSequence: number, outcome: "promoted" | "rejected"): AnyEvent[] {
  const run = { runId, pipeline: "bike-rental", runSequence };
  const plan = { ...exampleData(EventTypes.DataArrived).plan, runSequence, targets: [target] };
  const model = { ...exampleData(EventTypes.ModelTrained).model, modelId: `model-${runId}`, runId, runSequence };
  const start = runSequence * 60_000;
  const events: AnyEvent[] = [
    createEvent(EventTypes.DataArrived, { ...exampleData(EventTypes.DataArrived), ...run, plan }, { source: SOURCE, time: at(start) }),
    createEvent(EventTypes.ModelTrained, { ...exampleData(EventTypes.ModelTrained), ...run, plan, model }, { source: SOURCE, time: at(start + 5_000) }),
  ];
  if (outcome === "rejected") {
    events.push(createEvent(EventTypes.ModelRejected, { ...exampleData(EventTypes.ModelRejected), ...run, plan, model }, { source: SOURCE, time: at(start + 7_000) }));
  } else {
    events.push(
      createEvent(EventTypes.ModelApproved, { ...exampleData(EventTypes.ModelApproved), ...run, plan, model }, { source: SOURCE, time: at(start + 8_000) }),
      createEvent(EventTypes.EndpointUpdated, { ...run, target, model, revision: runSequence, kind: "promotion", updatedAt: at(start + 10_000).toISOString() }, { source: SOURCE, time: at(start + 10_000) }),
    );
  }
  return events;
}

function span(traceId: string, spanId: string, attributes: Record<string, string> = {}): ReceivedSpan {
  return { traceId, spanId, name: spanId, kind: "internal", serviceName: "s", startTimeMs: 0, durationMs: 1, status: { code: "unset" }, attributes, events: [] };
}

describe("registry observability: run metrics, OTLP traces per run, /ui", () => {
  const cleanup = new Cleanup();
  let registry: Registry;
  let server: RunningServer;
  const metrics = new MetricsRegistry({ defaultMetrics: false });

  beforeAll(async () => {
    const dir = await tempDir();
    cleanup.add(() => dir.remove());
    const store = new FileSystemBlobStore({ root: dir.path });
    const bus = new MemoryBus({ logger: silentLogger() });
    cleanup.add(() => bus.close());
    registry = createRegistry({ store, bus, logger: silentLogger(), verifyKey: keyVerifier({ workspaces: [], adminKey: ADMIN }), metrics });
    const { app } = createHttpApp({ serviceName: "registry", logger: silentLogger(), registry: metrics, routes: (router) => registry.registerRoutes(router) });
    server = await startHttpServer(app, { port: 0, host: "127.0.0.1", logger: silentLogger() });
    cleanup.add(() => server.close(1000));
  });
  afterAll(() => cleanup.run());

  it("counts runs started and ended by outcome per pipeline, and stage durations from the events' times", async () => {
    for (const event of [...runEvents("01RUNA", 1, "promoted"), ...runEvents("01RUNB", 2, "rejected")]) await registry.record(event);
    // A duplicate delivery changes nothing, so it counts nothing.
    for (const event of runEvents("01RUNA", 1, "promoted")) await registry.record(event);
    const text = await (await fetch(`${server.url}/metrics`)).text();
    expect(text).toContain('retrain_runs_total{pipeline="bike-rental",outcome="started"} 2');
    expect(text).toContain('retrain_runs_total{pipeline="bike-rental",outcome="succeeded"} 1');
    expect(text).toContain('retrain_runs_total{pipeline="bike-rental",outcome="rejected"} 1');
    expect(text).toContain('retrain_run_stage_duration_seconds_count{pipeline="bike-rental",stage="training"} 2');
    expect(text).toContain('retrain_run_stage_duration_seconds_sum{pipeline="bike-rental",stage="training"} 10');
    expect(text).toContain('retrain_run_stage_duration_seconds_sum{pipeline="bike-rental",stage="evaluation"} 5');
    expect(text).toContain('retrain_run_stage_duration_seconds_sum{pipeline="bike-rental",stage="promotion"} 2');
    expect(text).toContain('retrain_run_stage_duration_seconds_sum{pipeline="bike-rental",stage="run"} 17');
  });

  it("receives OTLP/HTTP JSON from the SDK's exporter and answers a run's spans, also those without the run id", async () => {
    await registry.record(runEvents("01RUNC", 3, "rejected")[0] as AnyEvent);
    const telemetry = setupTelemetry({
      serviceName: "otlp-sender",
      env: { OTEL_EXPORTER_OTLP_ENDPOINT: server.url, OTEL_EXPORTER_OTLP_HEADERS: `authorization=Bearer%20${ADMIN}` },
    });
    try {
      await withSpan("process DataArrived", { kind: "consumer", attributes: { "retrain.run_id": "01RUNC" } }, async () => {
        await withSpan("PATCH /v1/model", { kind: "client" }, () => undefined);
      });
      await withSpan("unrelated", {}, () => undefined);
      await telemetry.forceFlush();
    } finally {
      await telemetry.shutdown();
    }
    const answer = await fetch(`${server.url}/v1/runs/01RUNC/spans`, { headers: { authorization: `Bearer ${ADMIN}` } });
    expect(answer.status).toBe(200);
    const body = (await answer.json()) as { traceIds: string[]; value: ReceivedSpan[] };
    expect(body.traceIds).toHaveLength(1);
    expect(body.value.map((s) => s.name)).toEqual(["process DataArrived", "PATCH /v1/model"]);
    expect(body.value[1]?.parentSpanId).toBe(body.value[0]?.spanId);
    expect(body.value[0]?.serviceName).toBe("otlp-sender");
  });

  it("refuses traces without a key, in protobuf, or not OTLP; an unknown run is 404", async () => {
    const post = (headers: Record<string, string>, body: string) => fetch(`${server.url}/v1/traces`, { method: "POST", headers, body });
    expect((await post({ "content-type": "application/json" }, "{}")).status).toBe(401);
    const auth = { authorization: `Bearer ${ADMIN}` };
    expect((await post({ ...auth, "content-type": "application/x-protobuf" }, "\u0000")).status).toBe(415);
    const invalid = await post({ ...auth, "content-type": "application/json" }, JSON.stringify({ resourceSpans: [{ scopeSpans: [{ spans: [{ traceId: 1 }] }] }] }));
    expect(invalid.status).toBe(400);
    expect(((await invalid.json()) as { error: { code: string } }).error.code).toBe("InvalidOtlpRequest");
    expect((await fetch(`${server.url}/v1/runs/NOPE/spans`, { headers: auth })).status).toBe(404);
  });

  it("times a manual approval from the wait, and a promotion from the approval", () => {
    const stage = (name: "received" | "trained" | "awaiting" | "approved" | "updated", seconds: number) => ({ stage: name, at: at(seconds * 1000).toISOString(), eventId: name, eventType: name });
    const stages = [stage("received", 0), stage("trained", 4), stage("awaiting", 5), stage("approved", 65), stage("updated", 66)];
    expect(stages.map((s) => stageDuration(stages, s))).toEqual([
      undefined,
      { stage: "training", seconds: 4 },
      { stage: "evaluation", seconds: 1 },
      { stage: "approval", seconds: 60 },
      { stage: "promotion", seconds: 1 },
    ]);
  });

  it("keeps spans bounded: past the limit the oldest traces go whole", () => {
    const store = new SpanStore({ maxSpans: 3, maxSpansPerTrace: 2 });
    store.add([span("a".repeat(32), "1".repeat(16), { "retrain.run_id": "R1" }), span("a".repeat(32), "2".repeat(16))]);
    expect(store.add([span("a".repeat(32), "3".repeat(16))])).toBe(1);
    store.add([span("b".repeat(32), "4".repeat(16), { "retrain.run_id": "R2" }), span("b".repeat(32), "5".repeat(16))]);
    expect(store.size).toBe(2);
    expect(store.forRun("R1").spans).toHaveLength(0);
    expect(store.forRun("R2").spans.map((s) => s.spanId)).toEqual(["4".repeat(16), "5".repeat(16)]);
  });

  it("serves /ui as a self-contained page (own script and styles only) without a key", async () => {
    const page = await fetch(`${server.url}/ui`);
    expect(page.status).toBe(200);
    expect(page.headers.get("content-type")).toContain("text/html");
    expect(page.headers.get("content-security-policy")).toContain("default-src 'none'");
    const html = await page.text();
    expect(html).toContain('<script src="/ui/app.js"></script>');
    expect(html).not.toMatch(/https?:\/\//);
    const script = await (await fetch(`${server.url}/ui/app.js`)).text();
    expect(script).toContain('"authorization"'.slice(1, -1));
    expect(script).not.toContain("innerHTML");
    expect((await fetch(`${server.url}/ui/app.css`)).headers.get("content-type")).toContain("text/css");
  });
});
