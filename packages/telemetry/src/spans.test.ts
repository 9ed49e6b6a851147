import {
  activeTraceContext,
  currentTraceIds,
  extractTraceContext,
  injectTraceHeaders,
  messagingSpan,
  runWithTraceContext,
  setupTelemetry,
  withSpan,
} from "./index.js";
import type { FinishedSpan, Telemetry } from "./index.js";

let telemetry: Telemetry;

beforeEach(() => {
  telemetry = setupTelemetry({ serviceName: "spans-test", exporter: "memory", env: {} });
});

afterEach(async () => {
  await telemetry.shutdown();
});

function spanNamed(name: string): FinishedSpan {
  const span = telemetry.finishedSpans().find((s) => s.name === name);
  if (span === undefined) throw new Error(`no finished span named ${name}`);
  return span;
}

describe("withSpan", () => {
  it("records nested spans with parent/child links and the service name", async () => {
    const result = await withSpan("outer", { attributes: { "retrain.step": "train" } }, async (outer) => {
      await withSpan("inner", { kind: "client" }, async (inner) => {
        inner.setAttribute("retrain.rows", 42);
        inner.addEvent("checkpoint", { epoch: 1 });
        expect(currentTraceIds()).toEqual({ traceId: inner.traceId, spanId: inner.spanId });
      });
      expect(currentTraceIds()).toEqual({ traceId: outer.traceId, spanId: outer.spanId });
      return "done";
    });
    expect(result).toBe("done");

    const outer = spanNamed("outer");
    const inner = spanNamed("inner");
    expect(outer.parentSpanId).toBeUndefined();
    expect(inner.parentSpanId).toBe(outer.spanId);
    expect(inner.traceId).toBe(outer.traceId);
    expect(inner.kind).toBe("client");
    expect(outer.kind).toBe("internal");
    expect(outer.attributes["retrain.step"]).toBe("train");
    expect(inner.attributes["retrain.rows"]).toBe(42);
    expect(inner.events.map((e) => e.name)).toEqual(["checkpoint"]);
    expect(inner.events[0]?.attributes["epoch"]).toBe(1);
    expect(outer.serviceName).toBe("spans-test");
    expect(outer.status.code).toBe("unset");
    expect(outer.durationMs).toBeGreaterThanOrEqual(0);
    expect(currentTraceIds()).toEqual({});
  });

  it("records an exception event and error status when fn throws, and rethrows", async () => {
    const failure = new TypeError("model file is corrupt");
    await expect(
      withSpan("failing", {}, async () => {
        throw failure;
      }),
    ).rejects.toBe(failure);

    const span = spanNamed("failing");
    expect(span.status).toEqual({ code: "error", message: "model file is corrupt" });
    const exception = span.events.find((e) => e.name === "exception");
    expect(exception?.attributes["exception.type"]).toBe("TypeError");
    expect(exception?.attributes["exception.message"]).toBe("model file is corrupt");
  });

  it("marks a span failed through setError without throwing", async () => {
    await withSpan("soft-fail", {}, (span) => {
      span.setError("upstream answered 503");
      span.updateName("soft-fail renamed");
    });
    expect(spanNamed("soft-fail renamed").status).toEqual({ code: "error", message: "upstream answered 503" });
  });

  it("parents a span explicitly on a captured trace context", async () => {
    const captured = await withSpan("request", {}, () => activeTraceContext());
    await withSpan("background", { parent: captured }, () => undefined);
    expect(spanNamed("background").parentSpanId).toBe(spanNamed("request").spanId);
  });

  it("makes spans children of a context run with runWithTraceContext", async () => {
    const carrier = { traceparent: "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01" };
    await runWithTraceContext(extractTraceContext(carrier), () => withSpan("child", {}, () => undefined));
    const child = spanNamed("child");
    expect(child.traceId).toBe("0af7651916cd43dd8448eb211c80319c");
    expect(child.parentSpanId).toBe("b7ad6b7169203331");
  });
});

describe("propagation across a process boundary", () => {
  it("keeps the trace id and makes the consumer span a child of the producer span", async () => {
    // Producer side: inject into message headers, then serialize them as a broker would.
    const wire = await messagingSpan(
      { operation: "publish", system: "nats", destination: "retrain.model.trained.v1", messageId: "evt-1", runId: "run-7" },
      async () => {
        const headers: Record<string, string> = { "ce-id": "evt-1" };
        injectTraceHeaders(headers);
        return JSON.stringify(headers);
      },
    );

    // Consumer side: only the serialized headers cross over.
    const received = JSON.parse(wire) as Record<string, string>;
    expect(received["traceparent"]).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/);
    await messagingSpan(
      {
        operation: "process",
        system: "nats",
        destination: "retrain.model.trained.v1",
        messageId: "evt-1",
        runId: "run-7",
        parent: extractTraceContext(received),
      },
      () => undefined,
    );

    const producer = spanNamed("publish retrain.model.trained.v1");
    const consumer = spanNamed("process retrain.model.trained.v1");
    expect(consumer.traceId).toBe(producer.traceId);
    expect(consumer.parentSpanId).toBe(producer.spanId);
    expect(received["traceparent"]).toBe(`00-${producer.traceId}-${producer.spanId}-01`);
  });

  it("matches header names case-insensitively and ignores a carrier without traceparent", async () => {
    const upper = extractTraceContext({ TraceParent: "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01" });
    expect(currentTraceIds(upper)).toEqual({ traceId: "0af7651916cd43dd8448eb211c80319c", spanId: "b7ad6b7169203331" });
    const none = extractTraceContext({ traceparent: undefined });
    expect(currentTraceIds(none)).toEqual({});
    const headers: Record<string, string> = {};
    injectTraceHeaders(headers, none);
    expect(headers).toEqual({});
  });
});

describe("messagingSpan", () => {
  it("sets the semantic-convention attributes, name and kind", async () => {
    await messagingSpan(
      {
        operation: "publish",
        system: "servicebus",
        destination: "retrain-requests",
        messageId: "m-1",
        runId: "r-1",
        attributes: { "messaging.message.conversation_id": "c-1" },
      },
      () => undefined,
    );
    await messagingSpan(
      { operation: "settle", operationName: "complete", system: "servicebus", destination: "retrain-requests", messageId: "m-1" },
      () => undefined,
    );

    const publish = spanNamed("publish retrain-requests");
    expect(publish.kind).toBe("producer");
    expect(publish.attributes).toEqual({
      "messaging.system": "servicebus",
      "messaging.destination.name": "retrain-requests",
      "messaging.message.id": "m-1",
      "messaging.operation.type": "send",
      "messaging.operation.name": "publish",
      "messaging.message.conversation_id": "c-1",
      "retrain.run_id": "r-1",
    });
    const settle = spanNamed("settle retrain-requests");
    expect(settle.kind).toBe("client");
    expect(settle.attributes["messaging.operation.type"]).toBe("settle");
    expect(settle.attributes["messaging.operation.name"]).toBe("complete");
    expect(settle.attributes["retrain.run_id"]).toBeUndefined();
  });

  it("uses the consumer kind for process", async () => {
    await messagingSpan({ operation: "process", system: "memory", destination: "d", messageId: "m" }, () => undefined);
    expect(spanNamed("process d").kind).toBe("consumer");
    expect(spanNamed("process d").attributes["messaging.operation.type"]).toBe("process");
  });
});

describe("setupTelemetry called again", () => {
  it("replaces the previous setup and records only into the new one", async () => {
    const first = telemetry;
    await withSpan("before", {}, () => undefined);
    expect(first.finishedSpans().map((s) => s.name)).toEqual(["before"]);

    telemetry = setupTelemetry({ serviceName: "second", exporter: "memory", env: {} });
    await withSpan("after", {}, () => undefined);
    expect(telemetry.finishedSpans().map((s) => s.name)).toEqual(["after"]);
    expect(telemetry.finishedSpans()[0]?.serviceName).toBe("second");
    await first.shutdown();

    // Shutting down the replaced setup must not detach the current one.
    await withSpan("still-recorded", {}, () => undefined);
    expect(telemetry.finishedSpans().map((s) => s.name)).toEqual(["after", "still-recorded"]);
    telemetry.resetSpans();
    expect(telemetry.finishedSpans()).toEqual([]);
  });
});
