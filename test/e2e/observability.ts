// Test support for the observability suites: an OTLP/HTTP JSON collector the services export to
// (which also forwards what it receives to the registry, as a collector fanning out would), every
// line a service process writes, and the churn data the runs train on.
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { decodeOtlpTraces, type ReceivedSpan } from "@retrain/telemetry";
import type { Deployment } from "./deployment.js";

/** One data point of a metric pushed to `/v1/metrics`, flattened (a histogram's value is its count). */
export interface ReceivedMetricPoint {
  readonly serviceName: string;
  readonly name: string;
  readonly type: string;
  readonly attributes: Readonly<Record<string, string>>;
  readonly value: number;
}

/** A running OTLP/HTTP receiver. */
export interface OtlpCollector {
  /** Base URL, for OTEL_EXPORTER_OTLP_ENDPOINT. */
  readonly url: string;
  /** Every span received so far. */
  readonly spans: ReceivedSpan[];
  /** Every metric point received so far, oldest first (cumulative values: the last one is current). */
  readonly metrics: ReceivedMetricPoint[];
  /** Bodies that were not OTLP JSON traces or metrics (should stay empty). */
  readonly rejected: string[];
  /** From now on, also POST every body received to `url`/v1/traces with `key` (the registry's receiver). */
  forwardTo(url: string, key: string): void;
  /** Forwards still in flight, and whether each was accepted. */
  forwarded(): Promise<number[]>;
  close(): Promise<void>;
}

type Json = Record<string, unknown>;
const list = (value: unknown): Json[] => (Array.isArray(value) ? (value as Json[]) : []);
const attributesOf = (value: unknown): Record<string, string> =>
  Object.fromEntries(list(value).map((a) => [String(a["key"]), String((a["value"] as Json | undefined)?.["stringValue"] ?? "")]));

/** The points of an OTLP JSON metrics request (only what the suites assert on). */
function decodeOtlpMetrics(body: unknown): ReceivedMetricPoint[] {
  const resourceMetrics = (body as Json | null)?.["resourceMetrics"];
  if (!Array.isArray(resourceMetrics)) throw new Error("not an OTLP metrics request: no resourceMetrics");
  return list(resourceMetrics).flatMap((rm) => {
    const serviceName = attributesOf((rm["resource"] as Json | undefined)?.["attributes"])["service.name"] ?? "";
    return list(rm["scopeMetrics"]).flatMap((sm) =>
      list(sm["metrics"]).flatMap((metric) => {
        const type = ["sum", "gauge", "histogram"].find((t) => t in metric) ?? "unknown";
        return list((metric[type] as Json | undefined)?.["dataPoints"]).map((p) => ({
          serviceName,
          name: String(metric["name"]),
          type,
          attributes: attributesOf(p["attributes"]),
          // OTLP JSON writes 64-bit integers as strings.
          value: Number(type === "histogram" ? p["count"] : (p["asDouble"] ?? p["asInt"])),
        }));
      }),
    );
  });
}

/** Starts an OTLP/HTTP JSON receiver of traces (`/v1/traces`) and metrics (`/v1/metrics`) on a free loopback port. */
export async function startOtlpCollector(): Promise<OtlpCollector> {
  const spans: ReceivedSpan[] = [];
  const metrics: ReceivedMetricPoint[] = [];
  const rejected: string[] = [];
  const forwards: Array<Promise<number>> = [];
  let target: { url: string; key: string } | undefined;
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => {
      const text = Buffer.concat(chunks).toString("utf8");
      // Metrics are kept here only; the registry receives traces alone.
      if (req.url === "/v1/metrics") {
        try {
          metrics.push(...decodeOtlpMetrics(JSON.parse(text)));
          res.writeHead(200, { "content-type": "application/json" }).end("{}");
        } catch (error) {
          rejected.push(`${req.url}: ${(error as Error).message}`);
          res.writeHead(400).end();
        }
        return;
      }
      try {
        spans.push(...decodeOtlpTraces(JSON.parse(text)));
      } catch (error) {
        rejected.push(`${req.url ?? ""}: ${(error as Error).message}`);
        res.writeHead(400).end();
        return;
      }
      res.writeHead(200, { "content-type": "application/json" }).end("{}");
      if (target !== undefined) {
        forwards.push(
          fetch(`${target.url}/v1/traces`, { method: "POST", headers: { "content-type": "application/json", authorization: `Bearer ${target.key}` }, body: text }).then(
            async (r) => (await r.text(), r.status),
            () => 0,
          ),
        );
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    spans,
    metrics,
    rejected,
    forwardTo: (url, key) => void (target = { url, key }),
    forwarded: () => Promise.all(forwards),
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** Every line a deployment's service processes write, from their start (what they printed before is taken from their buffer). */
export interface ServiceOutput {
  /** All lines so far, each with the service that wrote it. */
  lines(): Array<{ service: string; line: string }>;
}

/** Starts capturing every service's stdout and stderr. Call right after the deployment started. */
export function captureOutput(deployment: Deployment): ServiceOutput {
  const captured: Array<{ service: string; text: () => string }> = [];
  for (const service of deployment.services) {
    const proc = service.current.process;
    // What the process wrote before this point is in its (64 KiB) buffer; everything after is kept here.
    let text = proc.output();
    const keep = (chunk: Buffer) => void (text += chunk.toString("utf8"));
    proc.child.stdout?.on("data", keep);
    proc.child.stderr?.on("data", keep);
    captured.push({ service: service.name, text: () => text });
  }
  return {
    lines: () =>
      captured.flatMap(({ service, text }) =>
        text()
          .split("\n")
          .filter((line) => line.trim() !== "")
          .map((line) => ({ service, line })),
      ),
  };
}

/**
 * Churn data; `noise` makes the labels random (a model no better than chance: rejected); `drift`
 * reverses how tenure and charges matter (the served model no longer fits: a new one wins).
 */

/** The Prometheus text of a service's /metrics. */
export async function scrape(url: string): Promise<string> {
  const response = await fetch(`${url}/metrics`);
  if (response.status !== 200) throw new Error(`GET ${url}/metrics answered ${response.status}`);
  return response.text();
}

/** The value of the first sample of `name` whose labels include every one of `labels` (undefined when none). */
export function sample(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  for (const line of text.split("\n")) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    if (!Object.entries(labels).every(([k, v]) => line.includes(`${k}="${v}"`))) continue;
    return Number(line.slice(line.lastIndexOf(" ") + 1));
  }
  return undefined;
}
