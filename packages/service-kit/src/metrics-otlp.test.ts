// A MetricsRegistry pushed over OTLP/HTTP by setupTelemetry to a real receiver in the test.
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { setupTelemetry, type Telemetry } from "@retrain/telemetry";
import { waitFor } from "@retrain/testing";
import { MetricsRegistry } from "./index.js";

type Json = Record<string, unknown>;

/** One metric of an OTLP JSON request, flattened for assertions. */
interface ReceivedMetric {
  serviceName: string;
  scope: string;
  name: string;
  unit: string;
  type: "sum" | "gauge" | "histogram";
  aggregationTemporality?: number;
  isMonotonic?: boolean;
  points: Array<{ attributes: Record<string, string>; value?: number; count?: number; sum?: number; bucketCounts?: number[]; explicitBounds?: number[]; startTimeUnixNano: number; timeUnixNano: number }>;
}

const list = (value: unknown): Json[] => (Array.isArray(value) ? (value as Json[]) : []);
// OTLP JSON encodes 64-bit integers as strings or numbers; both are read.
const num = (value: unknown): number => Number(value ?? Number.NaN);
const stringAttributes = (attributes: unknown): Record<string, string> =>
  Object.fromEntries(list(attributes).map((a) => [String(a["key"]), String((a["value"] as Json | undefined)?.["stringValue"])]));

function decodeMetrics(body: Json): ReceivedMetric[] {
  return list(body["resourceMetrics"]).flatMap((rm) => {
    const serviceName = stringAttributes((rm["resource"] as Json | undefined)?.["attributes"])["service.name"] ?? "";
    return list(rm["scopeMetrics"]).flatMap((sm) =>
      list(sm["metrics"]).map((m): ReceivedMetric => {
        const type = "sum" in m ? "sum" : "gauge" in m ? "gauge" : "histogram";
        const data = m[type] as Json;
        return {
          serviceName,
          scope: String((sm["scope"] as Json | undefined)?.["name"]),
          name: String(m["name"]),
          unit: String(m["unit"] ?? ""),
          type,
          ...(data["aggregationTemporality"] !== undefined && { aggregationTemporality: num(data["aggregationTemporality"]) }),
          ...(data["isMonotonic"] !== undefined && { isMonotonic: data["isMonotonic"] === true }),
          points: list(data["dataPoints"]).map((p) => ({
            attributes: stringAttributes(p["attributes"]),
            startTimeUnixNano: num(p["startTimeUnixNano"]),
            timeUnixNano: num(p["timeUnixNano"]),
            ...(p["asDouble"] !== undefined && { value: num(p["asDouble"]) }),
            ...(p["asInt"] !== undefined && { value: num(p["asInt"]) }),
            ...(type === "histogram" && {
              count: num(p["count"]),
              sum: num(p["sum"]),
              bucketCounts: list(p["bucketCounts"]).map(num),
              explicitBounds: list(p["explicitBounds"]).map(num),
            }),
          })),
        };
      }),
    );
  });
}

/** An OTLP/HTTP receiver keeping every metrics request it is sent. */
async function startReceiver(): Promise<{ url: string; requests: Array<{ path: string; headers: Record<string, unknown>; metrics: ReceivedMetric[] }>; close(): Promise<void> }> {
  const requests: Array<{ path: string; headers: Record<string, unknown>; metrics: ReceivedMetric[] }> = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => {
      const body = JSON.parse(Buffer.concat(chunks).toString("utf8")) as Json;
      requests.push({ path: req.url ?? "", headers: req.headers, metrics: (req.url ?? "").endsWith("/metrics") ? decodeMetrics(body) : [] });
      res.writeHead(200, { "content-type": "application/json" }).end("{}");
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}`, requests, close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
}

/**
 * A registry with one metric of each kind, recorded with known values. Registries of earlier tests
 * are still exported while alive: each test tells its own apart by the `service` label.
 */
function recordedRegistry(service: string): MetricsRegistry {
  const registry = new MetricsRegistry({ defaultMetrics: false, defaultLabels: { service } });
  registry.counter({ name: "retrain_runs_total", help: "Runs.", labelNames: ["pipeline", "outcome"] }).inc({ pipeline: "churn", outcome: "started" }, 3);
  registry.gauge({ name: "retrain_bes_jobs_running", help: "Jobs running.", labelNames: ["host"] }).set({ host: "trainer" }, 2);
  const stage = registry.histogram({ name: "retrain_run_stage_duration_seconds", help: "Stage durations.", labelNames: ["stage"], buckets: [1, 10] });
  for (const value of [0.5, 5, 5, 50]) stage.observe({ stage: "training" }, value);
  registry.fastCounter({ name: "retrain_rrs_requests_total", help: "RRS requests.", labelNames: ["endpoint"] }).bind({ endpoint: "e1" }).inc(4);
  const latency = registry.fastHistogram({ name: "retrain_rrs_request_duration_seconds", help: "RRS latency.", labelNames: ["endpoint"], buckets: [0.01, 0.1] });
  for (const value of [0.005, 0.05, 0.05, 1]) latency.bind({ endpoint: "e1" }).observe(value);
  return registry;
}

describe("metrics over OTLP/HTTP: every MetricsRegistry pushed by setupTelemetry per the OTEL_* variables", () => {
  let telemetry: Telemetry | undefined;
  let receiver: Awaited<ReturnType<typeof startReceiver>>;
  beforeEach(async () => {
    receiver = await startReceiver();
  });
  afterEach(async () => {
    await telemetry?.shutdown();
    telemetry = undefined;
    await receiver.close();
  });

  it("pushes counters, gauges, histograms and the pre-bound series every interval, with the resource and headers", async () => {
    const registry = recordedRegistry("scoring");
    telemetry = setupTelemetry({
      serviceName: "retrain-default",
      exporter: "none",
      env: {
        OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
        OTEL_EXPORTER_OTLP_HEADERS: "x-tenant=t1",
        OTEL_METRIC_EXPORT_INTERVAL: "100",
        OTEL_SERVICE_NAME: "retrain-scoring",
      },
    });
    expect(telemetry.metricsMode).toBe("otlp");
    // Two pushes show the export is periodic (the second carries the same cumulative values).
    await waitFor(() => receiver.requests.length >= 2, { timeoutMs: 10_000, description: "two periodic metric exports" });
    const [first] = receiver.requests;
    expect(first?.path).toBe("/v1/metrics");
    expect(first?.headers["x-tenant"]).toBe("t1");
    const ours = (first?.metrics ?? []).filter((m) => m.points.some((p) => p.attributes["service"] === "scoring"));
    const byName = new Map(ours.map((m) => [m.name, m]));
    expect([...byName.keys()].sort()).toEqual([
      "retrain_bes_jobs_running",
      "retrain_rrs_request_duration_seconds",
      "retrain_rrs_requests_total",
      "retrain_run_stage_duration_seconds",
      "retrain_runs_total",
    ]);
    expect(new Set(first?.metrics.map((m) => m.serviceName))).toEqual(new Set(["retrain-scoring"]));
    expect(new Set(first?.metrics.map((m) => m.scope))).toEqual(new Set(["@retrain/service-kit"]));

    const runs = byName.get("retrain_runs_total");
    expect(runs).toMatchObject({ type: "sum", isMonotonic: true, aggregationTemporality: 2 });
    expect(runs?.points.map((p) => [p.attributes, p.value])).toEqual([[{ pipeline: "churn", outcome: "started", service: "scoring" }, 3]]);
    const point = runs?.points[0];
    expect(point !== undefined && point.startTimeUnixNano <= point.timeUnixNano && point.startTimeUnixNano >= registry.startTimeMs * 1e6 - 1e6).toBe(true);

    const running = byName.get("retrain_bes_jobs_running");
    expect(running?.type).toBe("gauge");
    expect(running?.points.map((p) => [p.attributes, p.value])).toEqual([[{ host: "trainer", service: "scoring" }, 2]]);

    const stage = byName.get("retrain_run_stage_duration_seconds");
    expect(stage).toMatchObject({ type: "histogram", unit: "s", aggregationTemporality: 2 });
    expect(stage?.points.map(({ attributes, count, sum, bucketCounts, explicitBounds }) => ({ attributes, count, sum, bucketCounts, explicitBounds }))).toEqual([
      { attributes: { stage: "training", service: "scoring" }, count: 4, sum: 60.5, bucketCounts: [1, 2, 1], explicitBounds: [1, 10] },
    ]);

    expect(byName.get("retrain_rrs_requests_total")).toMatchObject({ type: "sum", isMonotonic: true });
    expect(byName.get("retrain_rrs_requests_total")?.points.map((p) => [p.attributes, p.value])).toEqual([[{ endpoint: "e1", service: "scoring" }, 4]]);
    const latency = byName.get("retrain_rrs_request_duration_seconds");
    expect(latency?.points.map(({ attributes, count, sum, bucketCounts, explicitBounds }) => ({ attributes, count, sum, bucketCounts, explicitBounds }))).toEqual([
      { attributes: { endpoint: "e1", service: "scoring" }, count: 4, sum: 1.105, bucketCounts: [1, 2, 1], explicitBounds: [0.01, 0.1] },
    ]);
    // The same numbers as the Prometheus text.
    const text = await registry.metrics();
    expect(text).toContain('retrain_rrs_request_duration_seconds_bucket{endpoint="e1",service="scoring",le="0.1"} 3');
    expect(text).toContain('retrain_run_stage_duration_seconds_bucket{le="10",service="scoring",stage="training"} 3');
  });

  it("shutdown pushes the last values once more, to OTEL_EXPORTER_OTLP_METRICS_ENDPOINT", async () => {
    const registry = recordedRegistry("trainer");
    // The default interval (60 s) never elapses here: the one export seen is shutdown's.
    telemetry = setupTelemetry({ serviceName: "retrain-trainer", exporter: "none", env: { OTEL_EXPORTER_OTLP_METRICS_ENDPOINT: `${receiver.url}/custom/metrics` } });
    registry.counter({ name: "retrain_runs_total", help: "Runs.", labelNames: ["pipeline", "outcome"] }).inc({ pipeline: "churn", outcome: "started" });
    await telemetry.shutdown();
    expect(receiver.requests.map((r) => r.path)).toEqual(["/custom/metrics"]);
    const runs = receiver.requests[0]?.metrics.filter((m) => m.name === "retrain_runs_total") ?? [];
    expect(new Set(runs.map((m) => m.serviceName))).toEqual(new Set(["retrain-trainer"]));
    expect(runs.flatMap((m) => m.points).filter((p) => p.attributes["service"] === "trainer").map((p) => p.value)).toEqual([4]);
  });

  it("pushes nothing unless asked: no endpoint, OTEL_METRICS_EXPORTER=prometheus or none, OTEL_SDK_DISABLED", async () => {
    recordedRegistry("none");
    const modes = [
      {},
      { OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url, OTEL_METRICS_EXPORTER: "prometheus" },
      { OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url, OTEL_METRICS_EXPORTER: "none" },
      { OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url, OTEL_SDK_DISABLED: "true" },
    ].map((env) => {
      const setup = setupTelemetry({ serviceName: "retrain-test", exporter: "none", env });
      return setup.shutdown().then(() => setup.metricsMode);
    });
    expect(await Promise.all(modes)).toEqual(["none", "none", "none", "none"]);
    expect(receiver.requests).toEqual([]);
    // Listed explicitly, otlp is on even with a Prometheus scrape beside it.
    telemetry = setupTelemetry({ serviceName: "retrain-test", exporter: "none", env: { OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url, OTEL_METRICS_EXPORTER: "prometheus,otlp" } });
    expect(telemetry.metricsMode).toBe("otlp");
  });
});
