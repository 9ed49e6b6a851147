import { createServer } from "node:http";
import type { IncomingHttpHeaders, Server } from "node:http";
import type { AddressInfo } from "node:net";
import { decodeOtlpTraces, setupTelemetry, tracedFetch, withSpan } from "./index.js";
import type { Telemetry } from "./index.js";

/** A real HTTP server that answers `status` and remembers each request's headers and body. */
async function startServer(status = 200): Promise<{ url: string; requests: Array<{ headers: IncomingHttpHeaders; body: string }>; close(): Promise<void> }> {
  const requests: Array<{ headers: IncomingHttpHeaders; body: string }> = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => {
      requests.push({ headers: req.headers, body: Buffer.concat(chunks).toString("utf8") });
      res.writeHead(status, { "content-type": "application/json" }).end("{}");
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}`, requests, close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
}

describe("tracedFetch", () => {
  let telemetry: Telemetry;
  beforeEach(() => {
    telemetry = setupTelemetry({ serviceName: "http-client-test", exporter: "memory", env: {} });
  });
  afterEach(() => telemetry.shutdown());

  it("sends the client span's traceparent and records the call as a child of the active span", async () => {
    const server = await startServer(200);
    try {
      const response = await withSpan("caller", {}, () =>
        tracedFetch(`${server.url}/v1/model?sig=secret-signature&se=2030`, { method: "patch", headers: { authorization: "Bearer k" }, body: "{}" }),
      );
      expect(response.status).toBe(200);
      await response.text();
      const spans = telemetry.finishedSpans();
      const caller = spans.find((s) => s.name === "caller");
      const client = spans.find((s) => s.kind === "client");
      expect(client).toMatchObject({ name: "PATCH", parentSpanId: caller?.spanId, traceId: caller?.traceId, status: { code: "unset" } });
      expect(client?.attributes).toMatchObject({ "http.request.method": "PATCH", "http.response.status_code": 200, "server.address": "127.0.0.1" });
      // The query (where a SAS signature lives) is never recorded.
      expect(client?.attributes["url.full"]).toBe(`${server.url}/v1/model`);
      const sent = server.requests[0];
      expect(sent?.headers["traceparent"]).toBe(`00-${client?.traceId}-${client?.spanId}-01`);
      expect(sent?.headers["authorization"]).toBe("Bearer k");
      expect(sent?.body).toBe("{}");
    } finally {
      await server.close();
    }
  });

  it("marks a 4xx/5xx answer and a network failure as errors, except a status the caller expects", async () => {
    const server = await startServer(503);
    try {
      await (await tracedFetch(`${server.url}/busy`)).text();
    } finally {
      await server.close();
    }
    const lookup = await startServer(404);
    try {
      await (await tracedFetch(`${lookup.url}/v1/model`, { expectedStatuses: [404] })).text();
    } finally {
      await lookup.close();
    }
    await expect(tracedFetch(server.url)).rejects.toThrow();
    const clients = telemetry.finishedSpans().filter((s) => s.kind === "client");
    // The expected 404 (a lookup answered "none") is not a failure.
    expect(clients.map((s) => s.status.code)).toEqual(["error", "unset", "error"]);
    expect(clients[0]?.status.message).toBe("HTTP 503");
    expect(clients[1]?.attributes["http.response.status_code"]).toBe(404);
    expect(clients[2]?.events.map((e) => e.name)).toContain("exception");
  });
});

describe("decodeOtlpTraces", () => {
  it("reads what the OTLP exporter sends: ids, parents, times, status, attributes, service name", async () => {
    const bodies: unknown[] = [];
    const server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (chunk: Buffer) => chunks.push(chunk));
      req.on("end", () => {
        bodies.push(JSON.parse(Buffer.concat(chunks).toString("utf8")));
        res.writeHead(200, { "content-type": "application/json" }).end("{}");
      });
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const { port } = server.address() as AddressInfo;
    const telemetry = setupTelemetry({ serviceName: "decode-test", env: { OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${port}` } });
    try {
      const before = Date.now();
      await withSpan("outer", { attributes: { "retrain.run_id": "01RUN", rows: 3, ok: true } }, async () => {
        await withSpan("inner", { kind: "consumer" }, (span) => span.setError("refused: stale"));
      });
      await telemetry.forceFlush();
      const spans = bodies.flatMap((body) => decodeOtlpTraces(body));
      const outer = spans.find((s) => s.name === "outer");
      const inner = spans.find((s) => s.name === "inner");
      expect(outer).toMatchObject({ serviceName: "decode-test", kind: "internal", attributes: { "retrain.run_id": "01RUN", rows: 3, ok: true } });
      expect(outer?.parentSpanId).toBeUndefined();
      expect(inner).toMatchObject({ traceId: outer?.traceId, parentSpanId: outer?.spanId, kind: "consumer", status: { code: "error", message: "refused: stale" } });
      expect(outer?.startTimeMs).toBeGreaterThanOrEqual(before - 1);
      expect(outer?.durationMs).toBeGreaterThanOrEqual(inner?.durationMs ?? Infinity);
    } finally {
      await telemetry.shutdown();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });

  it("refuses a body that is not a trace export, saying where", () => {
    expect(() => decodeOtlpTraces({ resourceSpans: [{ scopeSpans: [{ spans: [{ traceId: "xyz", spanId: "00" }] }] }] })).toThrow(/resourceSpans\[0\]\.scopeSpans\[0\]\.spans\[0\]\.traceId/);
    expect(() => decodeOtlpTraces([])).toThrow(/JSON object/);
  });
});
