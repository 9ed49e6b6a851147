// `pnpm start` (services/embedded/dist/main.js) as a process, configured by its variables only: a
// webhook receiver on this machine is allowed by NOTIFIER_ALLOW_HTTP_HOSTS, and the embedded default
// pushes its metrics over OTLP like every service.
import { createServer, type IncomingHttpHeaders, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { Cleanup, tempDir, testEnvironment, waitFor } from "@retrain/testing";
import { buildAll, startService } from "./processes.js";

interface Received {
  readonly method: string;
  readonly path: string;
  readonly headers: IncomingHttpHeaders;
  readonly body: string;
}

/** A webhook receiver (answers the CloudEvents validation handshake) that is also an OTLP/HTTP endpoint. */
async function startReceiver(): Promise<{ url: string; received: Received[]; close(): Promise<void> }> {
  const received: Received[] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => {
      received.push({ method: req.method ?? "", path: req.url ?? "", headers: req.headers, body: Buffer.concat(chunks).toString("utf8") });
      if (req.method === "OPTIONS") res.writeHead(200, { "webhook-allowed-origin": "*" }).end();
      else res.writeHead(200, { "content-type": "application/json" }).end("{}");
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}`, received, close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
}

describe("the embedded default's main: NOTIFIER_ALLOW_HTTP_HOSTS and metrics over OTLP", () => {
  const cleanup = new Cleanup();
  afterAll(() => cleanup.run(), 30_000);

  it("subscribes a webhook on 127.0.0.1 over plain http (the handshake reaches it) and pushes metrics as service `retrain`", async () => {
    buildAll();
    const receiver = await startReceiver();
    cleanup.add(() => receiver.close());
    const dataDir = await tempDir("retrain-embedded-main");
    cleanup.add(() => dataDir.remove());
    const adminKey = "embedded-main-admin-key-0123456789";
    const retrain = await startService("embedded", "RETRAIN_PORT", {
      ...testEnvironment(),
      RETRAIN_DATA_DIR: dataDir.path,
      RETRAIN_ADMIN_KEY: adminKey,
      NOTIFIER_ALLOW_HTTP_HOSTS: "127.0.0.1",
      OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
      OTEL_TRACES_EXPORTER: "none",
      OTEL_METRIC_EXPORT_INTERVAL: "500",
    });
    cleanup.add(() => retrain.process.stop());

    const answer = await fetch(`${retrain.url}/v1/subscriptions`, {
      method: "POST",
      headers: { authorization: `Bearer ${adminKey}`, "content-type": "application/json" },
      body: JSON.stringify({ url: `${receiver.url}/hook`, types: ["EndpointUpdated"] }),
    });
    expect({ status: answer.status, body: answer.status === 201 ? "" : await answer.text() }).toEqual({ status: 201, body: "" });
    const handshake = receiver.received.find((r) => r.method === "OPTIONS" && r.path === "/hook");
    expect(typeof handshake?.headers["webhook-request-origin"]).toBe("string");

    // The subscription request was answered: its HTTP series reach the OTLP endpoint under `retrain`.
    const pushed = await waitFor(
      () =>
        receiver.received.find(
          (r) => r.path === "/v1/metrics" && r.body.includes('"http_server_requests_total"') && r.body.includes('"stringValue":"/v1/subscriptions"'),
        ),
      { timeoutMs: 20_000, description: "a metrics push with the subscription request counted" },
    );
    const body = JSON.parse(pushed.body) as { resourceMetrics: Array<{ resource: { attributes: Array<{ key: string; value: { stringValue?: string } }> } }> };
    const resource = body.resourceMetrics[0]?.resource.attributes ?? [];
    expect(resource.find((a) => a.key === "service.name")?.value.stringValue).toBe("retrain");
    expect(receiver.received.filter((r) => r.path === "/v1/traces")).toEqual([]);
  }, 120_000);
});
