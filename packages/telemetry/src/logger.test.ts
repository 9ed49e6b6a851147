import { createLogger, setupTelemetry, silentLogger, withSpan } from "./index.js";
import type { Telemetry } from "./index.js";

function capture(): { lines: () => Array<Record<string, unknown>>; raw: () => string; write(line: string): void } {
  const chunks: string[] = [];
  return {
    write: (line: string) => {
      chunks.push(line);
    },
    raw: () => chunks.join(""),
    lines: () =>
      chunks
        .join("")
        .split("\n")
        .filter((line) => line !== "")
        .map((line) => JSON.parse(line) as Record<string, unknown>),
  };
}

let telemetry: Telemetry;
beforeEach(() => {
  telemetry = setupTelemetry({ serviceName: "logger-test", exporter: "memory", env: {} });
});
afterEach(async () => {
  await telemetry.shutdown();
});

describe("createLogger", () => {
  it("writes JSON lines with the trace and span ids of the active span", async () => {
    const out = capture();
    const logger = createLogger({ name: "trainer", destination: out, base: { service: "trainer" } });
    logger.info("outside");
    const ids = await withSpan("work", {}, (span) => {
      logger.info({ rows: 3 }, "inside");
      return { traceId: span.traceId, spanId: span.spanId };
    });

    const [outside, inside] = out.lines();
    expect(outside).toMatchObject({ level: "info", name: "trainer", service: "trainer", msg: "outside" });
    expect(outside).not.toHaveProperty("trace_id");
    expect(inside).toMatchObject({ msg: "inside", rows: 3, trace_id: ids.traceId, span_id: ids.spanId });
  });

  it("binds run and event ids on child loggers", () => {
    const out = capture();
    const logger = createLogger({ name: "runner", destination: out, level: "debug" });
    logger.child({ run_id: "run-1", event_id: "evt-9" }).debug("handled");
    expect(out.lines()[0]).toMatchObject({ level: "debug", run_id: "run-1", event_id: "evt-9", msg: "handled" });
  });

  it("redacts secrets in fields, nested objects, headers and child bindings", () => {
    const out = capture();
    const logger = createLogger({ name: "secrets", destination: out });
    const secrets = ["s3cr3t-key", "api-k3y", "Bearer t0ken", "pa55word", "Endpoint=sb://x;SharedAccessKey=abc", "sv=2020&sig=xyz", "primary-k3y"];
    logger.info(
      {
        key: secrets[0],
        endpoint: { apiKey: secrets[1], name: "scoring" },
        headers: { authorization: secrets[2] },
        req: { headers: { authorization: secrets[2] } },
        password: secrets[3],
        bus: { connectionString: secrets[4] },
        sasToken: secrets[5],
      },
      "configured",
    );
    logger.child({ account: { primaryKey: secrets[6] } }).warn("child");

    const raw = out.raw();
    for (const secret of secrets) expect(raw).not.toContain(secret);
    const [first, second] = out.lines();
    expect(first).toMatchObject({
      key: "[redacted]",
      endpoint: { apiKey: "[redacted]", name: "scoring" },
      headers: { authorization: "[redacted]" },
      bus: { connectionString: "[redacted]" },
    });
    expect(second).toMatchObject({ account: { primaryKey: "[redacted]" } });
  });

  it("honours the level and can be silenced", () => {
    const out = capture();
    const logger = createLogger({ name: "quiet", destination: out, level: "warn" });
    logger.info("dropped");
    logger.error({ err: new Error("boom") }, "kept");
    expect(out.lines()).toHaveLength(1);
    expect(out.lines()[0]).toMatchObject({ level: "error", msg: "kept", err: { message: "boom", type: "Error" } });
    expect(logger.isLevelEnabled("debug")).toBe(false);

    const silent = silentLogger();
    expect(silent.isLevelEnabled("fatal")).toBe(false);
    silent.child({ a: 1 }).error("nothing");
  });

  it("scrubs secrets quoted inside text: SAS signatures, account and shared access keys, bearer tokens", () => {
    const out = capture();
    const logger = createLogger({ name: "scrub", destination: out });
    const url = "https://acct.blob.core.windows.net/c/model.ilearner?sv=2024-01-01&se=2030&sr=b&sp=r&sig=AbC%2Fdef%3D";
    logger.error({ err: new Error(`download of ${url} failed`), SasBlobToken: "?sv=1&sig=zzz" }, `fetching ${url}`);
    logger.warn("DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=Eby8vdM02xNO==;BlobEndpoint=http://127.0.0.1:1/");
    logger.warn("Endpoint=sb://ns/;SharedAccessKeyName=k;SharedAccessKey=s3cr3t; then Bearer abc.DEF-123 was refused");
    const raw = out.raw();
    expect(raw).not.toMatch(/AbC%2Fdef|zzz|Eby8vdM02xNO|s3cr3t|abc\.DEF-123/);
    expect(raw).toContain("sig=[redacted]");
    expect(raw).toContain("AccountKey=[redacted]");
    expect(out.lines()).toHaveLength(3);
  });
});
