import { Cleanup, deferred, waitFor } from "@retrain/testing";
import type { FinishedSpan, Telemetry } from "@retrain/telemetry";
import { createLogger, currentTraceIds, runWithTraceContext, setupTelemetry, silentLogger } from "@retrain/telemetry";
import { z } from "zod";
import type { CreateHttpAppOptions, ErrorBody, RunningServer } from "./index.js";
import {
  HttpError,
  HttpMetrics,
  INTERNAL_ERROR_MESSAGE,
  MetricsRegistry,
  apiKeyVerifier,
  createHttpApp,
  observeHttpRequest,
  principalOf,
  readJsonBodyThen,
  requireApiKey,
  sendJson,
  startHttpServer,
} from "./index.js";

interface Caller {
  name: string;
}

const cleanup = new Cleanup();
afterEach(() => cleanup.run());

async function serve(options: Partial<CreateHttpAppOptions> = {}): Promise<RunningServer> {
  const { app } = createHttpApp({ serviceName: "test-svc", logger: silentLogger(), ...options });
  const server = await startHttpServer(app, { port: 0 });
  cleanup.add(() => server.close(1000));
  return server;
}

const verify = apiKeyVerifier<Caller>([
  ["key-alice", { name: "alice" }],
  ["key-bob", { name: "bob" }],
]);

const ScoreRequest = z.object({ inputs: z.array(z.number()).min(1) });

function routes(router: Parameters<NonNullable<CreateHttpAppOptions["routes"]>>[0]): void {
  router.post("/score", requireApiKey(verify), (req, res) => {
    const request = ScoreRequest.parse(req.body);
    sendJson(res, 200, { caller: principalOf<Caller>(res).name, sum: request.inputs.reduce((a, b) => a + b, 0) });
  });
  router.get("/jobs/:id", async (req) => {
    await Promise.resolve();
    throw new HttpError(409, "JobConflict", `Job ${req.params["id"]} is already running.`, {
      details: [{ code: "AlreadyRunning", target: "id", message: "wait for the running job" }],
    });
  });
  router.get("/boom", async () => {
    throw new Error("database password is hunter2");
  });
  router.get("/trace", (_req, res) => sendJson(res, 200, currentTraceIds()));
}

async function json<T>(response: Response): Promise<T> {
  return (await response.json()) as T;
}

describe("createHttpApp built-in endpoints", () => {
  it("answers /healthz, /readyz and /metrics", async () => {
    const server = await serve();
    const health = await fetch(`${server.url}/healthz`);
    expect(health.status).toBe(200);
    expect(await health.json()).toEqual({ status: "ok" });

    const ready = await fetch(`${server.url}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toEqual({ status: "ready" });

    const metrics = await fetch(`${server.url}/metrics`);
    expect(metrics.status).toBe(200);
    expect(metrics.headers.get("content-type")).toContain("text/plain");
    const text = await metrics.text();
    expect(text).toContain("process_cpu_user_seconds_total");
    expect(text).toContain("http_server_request_duration_seconds_bucket");
  });

  it("answers /readyz 503 while the readiness check fails or throws, and once shutdown began", async () => {
    let state: "ready" | "not ready" | "throws" = "not ready";
    const shutdown = new AbortController();
    const server = await serve({
      readiness: () => {
        if (state === "throws") throw new Error("bus probe failed");
        return state === "ready";
      },
      shutdownSignal: shutdown.signal,
    });
    const probe = async (): Promise<[number, unknown]> => {
      const response = await fetch(`${server.url}/readyz`);
      return [response.status, await response.json()];
    };
    expect(await probe()).toEqual([503, { status: "not ready" }]);
    state = "throws";
    expect((await probe())[0]).toBe(503);
    state = "ready";
    expect(await probe()).toEqual([200, { status: "ready" }]);
    shutdown.abort();
    expect(await probe()).toEqual([503, { status: "not ready" }]);
  });

  it("answers an unknown route with 404 NotFound in the classic body", async () => {
    const server = await serve();
    const response = await fetch(`${server.url}/nowhere`);
    expect(response.status).toBe(404);
    expect(await json<ErrorBody>(response)).toEqual({ error: { code: "NotFound", message: "No resource at GET /nowhere." } });
  });

  it("counts requests in the http metrics by method, route and status", async () => {
    const registry = new MetricsRegistry({ defaultMetrics: false });
    const server = await serve({ registry, routes });
    for (let i = 0; i < 3; i++) expect((await fetch(`${server.url}/healthz`)).status).toBe(200);
    expect((await fetch(`${server.url}/jobs/7`)).status).toBe(409);
    expect((await fetch(`${server.url}/jobs/8`)).status).toBe(409);

    const text = await (await fetch(`${server.url}/metrics`)).text();
    const count = (route: string, status: number): number | undefined => {
      const line = text
        .split("\n")
        .find((l) => l.startsWith("http_server_requests_total{") && l.includes(`route="${route}"`) && l.includes(`status="${status}"`));
      return line === undefined ? undefined : Number(line.split(" ").at(-1));
    };
    expect(count("/healthz", 200)).toBe(3);
    // Labelled by route template, not by raw path.
    expect(count("/jobs/:id", 409)).toBe(2);
    expect(text).not.toContain('route="/jobs/7"');
  });
});

describe("createHttpApp request handling", () => {
  it("rejects a JSON body over the limit with 413 RequestEntityTooLarge", async () => {
    const server = await serve({ routes });
    const big = JSON.stringify({ inputs: new Array(300_000).fill(1) }); // ~600 KB
    expect(big.length).toBeGreaterThan(64 * 1024);
    const limited = await serve({ routes, bodyLimitBytes: 64 * 1024 });
    const response = await fetch(`${limited.url}/score`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: "Bearer key-alice" },
      body: big,
    });
    expect(response.status).toBe(413);
    const body = await json<ErrorBody>(response);
    expect(body.error.code).toBe("RequestEntityTooLarge");

    // The default limit (1 MiB) accepts the same body.
    const accepted = await fetch(`${server.url}/score`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: "Bearer key-alice" },
      body: big,
    });
    expect(accepted.status).toBe(200);
    expect(await accepted.json()).toEqual({ caller: "alice", sum: 300_000 });
  });

  it("rejects malformed JSON with 400 InvalidJson", async () => {
    const server = await serve({ routes });
    const response = await fetch(`${server.url}/score`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: "Bearer key-alice" },
      body: '{"inputs": [1, 2,',
    });
    expect(response.status).toBe(400);
    expect(await json<ErrorBody>(response)).toEqual({
      error: { code: "InvalidJson", message: "The request body is not valid JSON." },
    });
  });

  it("answers a schema violation with 400 BadArgument and one detail per issue", async () => {
    const server = await serve({ routes });
    const response = await fetch(`${server.url}/score`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: "Bearer key-bob" },
      body: JSON.stringify({ inputs: ["x"] }),
    });
    expect(response.status).toBe(400);
    const body = await json<ErrorBody>(response);
    expect(body.error.code).toBe("BadArgument");
    expect(body.error.details).toEqual([expect.objectContaining({ code: "InvalidType", target: "inputs.0" })]);
  });

  it("requires a valid bearer key: 401 in the classic body without one, the principal with one", async () => {
    const server = await serve({ routes });
    const post = (authorization?: string): Promise<Response> =>
      fetch(`${server.url}/score`, {
        method: "POST",
        headers: { "content-type": "application/json", ...(authorization !== undefined && { authorization }) },
        body: JSON.stringify({ inputs: [1, 2, 3] }),
      });

    const missing = await post();
    expect(missing.status).toBe(401);
    expect(missing.headers.get("www-authenticate")).toContain("Bearer");
    expect(await json<ErrorBody>(missing)).toEqual({
      error: { code: "Unauthorized", message: "Missing or malformed Authorization header; expected 'Bearer <api key>'." },
    });

    const wrong = await post("Bearer key-mallory");
    expect(wrong.status).toBe(401);
    expect(await json<ErrorBody>(wrong)).toEqual({ error: { code: "Unauthorized", message: "The API key is not valid." } });

    const basic = await post("Basic a2V5LWFsaWNl");
    expect(basic.status).toBe(401);

    const right = await post("Bearer key-bob");
    expect(right.status).toBe(200);
    expect(await right.json()).toEqual({ caller: "bob", sum: 6 });
  });

  it("answers a thrown HttpError with its status and body", async () => {
    const server = await serve({ routes });
    const response = await fetch(`${server.url}/jobs/42`);
    expect(response.status).toBe(409);
    expect(await json<ErrorBody>(response)).toEqual({
      error: {
        code: "JobConflict",
        message: "Job 42 is already running.",
        details: [{ code: "AlreadyRunning", target: "id", message: "wait for the running job" }],
      },
    });
  });

  it("answers an unexpected throw with 500 and a generic message, logging the cause", async () => {
    const lines: string[] = [];
    const logger = createLogger({ name: "t", destination: { write: (line) => void lines.push(line) } });
    const server = await serve({ routes, logger });
    const response = await fetch(`${server.url}/boom`);
    expect(response.status).toBe(500);
    const text = await response.text();
    expect(JSON.parse(text)).toEqual({ error: { code: "InternalError", message: INTERNAL_ERROR_MESSAGE } });
    expect(text).not.toContain("hunter2");
    expect(lines.join("")).toContain("database password is hunter2");
  });
});

describe("createHttpApp tracing", () => {
  let telemetry: Telemetry;
  beforeEach(() => {
    telemetry = setupTelemetry({ serviceName: "traced", exporter: "memory", env: {} });
  });
  afterEach(() => telemetry.shutdown());

  it("continues the caller's trace in a server span named after the route", async () => {
    const server = await serve({ routes });
    const traceId = "0af7651916cd43dd8448eb211c80319c";
    const response = await fetch(`${server.url}/trace`, {
      headers: { traceparent: `00-${traceId}-b7ad6b7169203331-01` },
    });
    const seen = await json<{ traceId: string; spanId: string }>(response);
    expect(seen.traceId).toBe(traceId);

    // The span ends right after the response is finished; wait for it rather than sleep.
    const span = await waitForSpan(telemetry, "GET /trace");
    expect(span.kind).toBe("server");
    expect(span.spanId).toBe(seen.spanId);
    expect(span.parentSpanId).toBe("b7ad6b7169203331");
    expect(span.attributes).toMatchObject({ "http.route": "/trace", "http.response.status_code": 200, "http.request.method": "GET" });
  });

  it("keeps the span active after the JSON body is read, and marks 5xx spans failed", async () => {
    const entered = deferred<{ traceId?: string }>();
    const server = await serve({
      routes: (router) => {
        router.post("/echo", (req, res) => {
          entered.resolve(currentTraceIds());
          sendJson(res, 200, req.body);
        });
        router.get("/fail", () => {
          throw new Error("boom");
        });
      },
    });
    const response = await fetch(`${server.url}/echo`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ a: 1 }),
    });
    expect(await response.json()).toEqual({ a: 1 });
    expect((await entered.promise).traceId).toMatch(/^[0-9a-f]{32}$/);

    expect((await fetch(`${server.url}/fail`)).status).toBe(500);
    const failed = await waitForSpan(telemetry, "GET /fail");
    expect(failed.status.code).toBe("error");
  });
});

describe("a bare node:http handler under observeHttpRequest (as the hot path)", () => {
  let telemetry: Telemetry;
  beforeEach(() => {
    telemetry = setupTelemetry({ serviceName: "traced", exporter: "memory", env: {} });
  });
  afterEach(() => telemetry.shutdown());

  it("hands the span's context to the handler, so the body callback re-enters the request's trace", async () => {
    const metrics = new HttpMetrics(new MetricsRegistry({ defaultMetrics: false }));
    const outside = deferred<{ traceId?: string }>();
    const server = await startHttpServer(
      (req, res) =>
        observeHttpRequest(req, res, { metrics, logger: silentLogger(), route: () => "/body" }, (traceContext) => {
          readJsonBodyThen(req, {}, (error, body) => {
            // Stream events run outside the handler's async context: only the handed-over context joins them.
            outside.resolve(currentTraceIds());
            if (traceContext === undefined) throw new Error("a span was expected: tracing is recorded");
            runWithTraceContext(traceContext, () => (error !== undefined ? sendJson(res, error.status, {}) : sendJson(res, 200, { body, ...currentTraceIds() })));
          });
        }),
      { port: 0 },
    );
    cleanup.add(() => server.close(1000));
    const traceId = "0af7651916cd43dd8448eb211c80319c";
    const response = await fetch(`${server.url}/body`, {
      method: "POST",
      headers: { "content-type": "application/json", traceparent: `00-${traceId}-b7ad6b7169203331-01` },
      body: '{"a":1}',
    });
    const seen = await json<{ body: unknown; traceId: string; spanId: string }>(response);
    expect(seen).toMatchObject({ body: { a: 1 }, traceId });
    expect((await outside.promise).traceId).toBeUndefined();
    const span = await waitForSpan(telemetry, "POST /body");
    expect(span.spanId).toBe(seen.spanId);
  });
});

function waitForSpan(telemetry: Telemetry, name: string): Promise<FinishedSpan> {
  return waitFor(() => telemetry.finishedSpans().find((s) => s.name === name), { description: `span ${name}` });
}
