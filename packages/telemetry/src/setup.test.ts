import { createServer } from "node:http";
import type { IncomingHttpHeaders, Server } from "node:http";
import type { AddressInfo } from "node:net";
import { gunzipSync } from "node:zlib";
import { setupTelemetry, withSpan } from "./index.js";
import type { Telemetry } from "./index.js";

interface Received {
  path: string;
  headers: IncomingHttpHeaders;
  body: OtlpTraces;
  /** How many requests the receiver had answered before this one. */
  earlierRequests: number;
}

// The parts of an OTLP/HTTP JSON ExportTraceServiceRequest this test looks at.
interface OtlpTraces {
  resourceSpans: Array<{
    resource: { attributes: Array<{ key: string; value: { stringValue?: string } }> };
    scopeSpans: Array<{ spans: Array<{ name: string; traceId: string; spanId: string }> }>;
  }>;
}

function deferred<T>(): { promise: Promise<T>; resolve(value: T): void } {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}

/**
 * A real OTLP/HTTP receiver. The n-th request is answered with `statuses[n]` (default 200); the first
 * request answered 2xx is handed over, its body decompressed when gzip-encoded.
 */
async function startReceiver(statuses: number[] = []): Promise<{ url: string; first: Promise<Received>; close(): Promise<void> }> {
  const first = deferred<Received>();
  let requests = 0;
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => {
      const status = statuses[requests] ?? 200;
      const earlierRequests = requests++;
      if (status !== 200) {
        res.writeHead(status, { "retry-after": "0" }).end();
        return;
      }
      res.writeHead(200, { "content-type": "application/json" }).end("{}");
      const raw = Buffer.concat(chunks);
      const text = (req.headers["content-encoding"] === "gzip" ? gunzipSync(raw) : raw).toString("utf8");
      first.resolve({ path: req.url ?? "", headers: req.headers, body: JSON.parse(text) as OtlpTraces, earlierRequests });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    first: first.promise,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

let telemetry: Telemetry | undefined;
afterEach(async () => {
  await telemetry?.shutdown();
  telemetry = undefined;
});

describe("setupTelemetry from OTEL_* variables", () => {
  it("exports spans over OTLP/HTTP to OTEL_EXPORTER_OTLP_ENDPOINT/v1/traces", async () => {
    const receiver = await startReceiver();
    try {
      telemetry = setupTelemetry({
        serviceName: "code-name",
        env: {
          OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
          OTEL_SERVICE_NAME: "env-name",
          OTEL_RESOURCE_ATTRIBUTES: "deployment.environment.name=test,retrain.team=ml%20ops",
          OTEL_EXPORTER_OTLP_HEADERS: "x-collector-tenant=retrain",
        },
      });
      expect(telemetry.mode).toBe("otlp");
      expect(telemetry.serviceName).toBe("env-name");
      const ids = await withSpan("exported", {}, (span) => ({ traceId: span.traceId, spanId: span.spanId }));
      await telemetry.forceFlush();

      const received = await receiver.first;
      expect(received.path).toBe("/v1/traces");
      expect(received.headers["x-collector-tenant"]).toBe("retrain");
      const resourceSpans = received.body.resourceSpans[0];
      const attributes = Object.fromEntries(
        (resourceSpans?.resource.attributes ?? []).map((a) => [a.key, a.value.stringValue]),
      );
      expect(attributes).toMatchObject({
        "service.name": "env-name",
        "deployment.environment.name": "test",
        "retrain.team": "ml ops",
      });
      const span = resourceSpans?.scopeSpans[0]?.spans[0];
      expect(span?.name).toBe("exported");
      // JSON OTLP encodes ids as hex strings.
      expect(span?.traceId).toBe(ids.traceId);
      expect(span?.spanId).toBe(ids.spanId);
      expect(telemetry.finishedSpans()).toEqual([]);
    } finally {
      await telemetry?.shutdown();
      await receiver.close();
    }
  });

  it("uses OTEL_EXPORTER_OTLP_TRACES_ENDPOINT as the full URL", async () => {
    const receiver = await startReceiver();
    try {
      telemetry = setupTelemetry({
        serviceName: "svc",
        env: { OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: `${receiver.url}/custom/traces` },
      });
      await withSpan("to-custom-path", {}, () => undefined);
      await telemetry.forceFlush();
      expect((await receiver.first).path).toBe("/custom/traces");
    } finally {
      await telemetry?.shutdown();
      await receiver.close();
    }
  });

  it("retries a 503 from the collector and gzips when OTEL_EXPORTER_OTLP_COMPRESSION=gzip", async () => {
    const receiver = await startReceiver([503]);
    try {
      telemetry = setupTelemetry({
        serviceName: "svc",
        env: { OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url, OTEL_EXPORTER_OTLP_COMPRESSION: "gzip" },
      });
      await withSpan("retried", {}, () => undefined);
      await telemetry.forceFlush();
      const received = await receiver.first;
      expect(received.earlierRequests).toBe(1);
      expect(received.headers["content-encoding"]).toBe("gzip");
      expect(received.body.resourceSpans[0]?.scopeSpans[0]?.spans[0]?.name).toBe("retried");
    } finally {
      await telemetry?.shutdown();
      await receiver.close();
    }
  });

  it("exports nothing under auto without an endpoint, but still gives spans ids", async () => {
    telemetry = setupTelemetry({ serviceName: "quiet", env: {} });
    expect(telemetry.mode).toBe("none");
    const traceId = await withSpan("local", {}, (span) => span.traceId);
    expect(traceId).toMatch(/^[0-9a-f]{32}$/);
    expect(traceId).not.toBe("0".repeat(32));
    expect(telemetry.finishedSpans()).toEqual([]);
  });

  it("takes service.name from OTEL_RESOURCE_ATTRIBUTES over the code default", async () => {
    telemetry = setupTelemetry({
      serviceName: "code-name",
      exporter: "memory",
      env: { OTEL_RESOURCE_ATTRIBUTES: "service.name=from-resource" },
    });
    await withSpan("named", {}, () => undefined);
    expect(telemetry.finishedSpans()[0]?.serviceName).toBe("from-resource");
  });

  it("honours OTEL_TRACES_SAMPLER=always_off", async () => {
    telemetry = setupTelemetry({ serviceName: "sampled", exporter: "memory", env: { OTEL_TRACES_SAMPLER: "always_off" } });
    await withSpan("dropped", {}, () => undefined);
    expect(telemetry.finishedSpans()).toEqual([]);
  });
});
