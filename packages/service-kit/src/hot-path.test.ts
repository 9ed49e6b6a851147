// The bare node:http hot path and the express app share authenticateBearer, readJsonBody,
// writeError and observeHttpRequest: the same faults must give byte-identical answers.
import type { IncomingMessage, ServerResponse } from "node:http";
import { Cleanup } from "@retrain/testing";
import { silentLogger } from "@retrain/telemetry";
import {
  HttpMetrics,
  MetricsRegistry,
  apiKeyVerifier,
  authenticateBearer,
  bearerToken,
  createHttpApp,
  observeHttpRequest,
  readJsonBody,
  requireApiKey,
  sendJson,
  startHttpServer,
} from "./index.js";
import type { RunningServer } from "./index.js";

const cleanup = new Cleanup();
afterAll(() => cleanup.run());

const verify = apiKeyVerifier([["good-key", { tenant: "t1" }]]);
const LIMIT = 256;

let expressServer: RunningServer;
let hotServer: RunningServer;
let registry: MetricsRegistry;

beforeAll(async () => {
  const { app } = createHttpApp({
    serviceName: "parity",
    logger: silentLogger(),
    bodyLimitBytes: LIMIT,
    routes: (router) =>
      router.post("/score", requireApiKey(verify), (req, res) => sendJson(res, 200, { echo: req.body as unknown })),
  });
  expressServer = await startHttpServer(app, { port: 0 });
  cleanup.add(() => expressServer.close(1000));

  registry = new MetricsRegistry({ defaultMetrics: false });
  const metrics = new HttpMetrics(registry);
  const logger = silentLogger();
  const hot = (req: IncomingMessage, res: ServerResponse): void =>
    observeHttpRequest(req, res, { metrics, logger, route: () => "/score" }, async () => {
      await authenticateBearer(req.headers.authorization, verify);
      const body = await readJsonBody(req, { limitBytes: LIMIT });
      sendJson(res, 200, { echo: body });
    });
  hotServer = await startHttpServer(hot, { port: 0 });
  cleanup.add(() => hotServer.close(1000));
});

interface Answer {
  status: number;
  contentType: string | null;
  body: string;
}

async function post(server: RunningServer, headers: Record<string, string>, body: string): Promise<Answer> {
  const response = await fetch(`${server.url}/score`, { method: "POST", headers, body });
  return { status: response.status, contentType: response.headers.get("content-type"), body: await response.text() };
}

const json = { "content-type": "application/json" };
const cases: Array<[string, Record<string, string>, string, number]> = [
  ["a missing key", json, '{"x":1}', 401],
  ["a wrong key", { ...json, authorization: "Bearer nope" }, '{"x":1}', 401],
  ["malformed JSON", { ...json, authorization: "Bearer good-key" }, "{not json", 400],
  ["a body over the limit", { ...json, authorization: "Bearer good-key" }, JSON.stringify({ x: "y".repeat(LIMIT) }), 413],
  ["a valid request", { ...json, authorization: "Bearer good-key" }, '{"x":1}', 200],
];

describe("the node:http hot path and the express app", () => {
  it.each(cases)("answer %s identically", async (_name, headers, body, status) => {
    const viaExpress = await post(expressServer, headers, body);
    const viaHotPath = await post(hotServer, headers, body);
    expect(viaExpress.status).toBe(status);
    expect(viaHotPath).toEqual(viaExpress);
  });

  it("rejects a non-JSON body on the hot path with 415 UnsupportedMediaType", async () => {
    const answer = await post(hotServer, { "content-type": "text/csv", authorization: "Bearer good-key" }, "a,b\n1,2\n");
    expect(answer.status).toBe(415);
    expect(JSON.parse(answer.body)).toMatchObject({ error: { code: "UnsupportedMediaType" } });
  });

  it("answers 413 without reading a body far over the limit, closing the connection", async () => {
    const answer = await fetch(`${hotServer.url}/score`, {
      method: "POST",
      headers: { ...json, authorization: "Bearer good-key" },
      body: "x".repeat(9 * 1024 * 1024),
    });
    expect(answer.status).toBe(413);
    expect(answer.headers.get("connection")).toBe("close");
    expect(await answer.json()).toMatchObject({ error: { code: "RequestEntityTooLarge" } });
  });

  it("records hot-path requests in the shared http metrics", async () => {
    await post(hotServer, { ...json, authorization: "Bearer good-key" }, "{}");
    const text = await registry.metrics();
    expect(text).toMatch(/http_server_requests_total\{method="POST",route="\/score",status="200"\} [1-9]/);
    expect(text).toMatch(/http_server_requests_total\{method="POST",route="\/score",status="401"\} 2/);
  });
});

describe("bearerToken", () => {
  // The hand scan must accept and refuse exactly what the header grammar (`Bearer <token>`) allows.
  it.each<[string | undefined, string | undefined]>([
    ["Bearer abc", "abc"],
    ["bearer abc", "abc"],
    ["BEARER\tabc \t", "abc"],
    ["Bearer    abc", "abc"],
    ["Bearer", undefined],
    ["Bearer ", undefined],
    ["Bearerabc", undefined],
    ["Basic abc", undefined],
    ["Bearer a b", undefined],
    ["Bearer abc\n", undefined],
    [undefined, undefined],
  ])("%j → %j", (header, token) => {
    expect(bearerToken(header)).toBe(token);
  });
});
