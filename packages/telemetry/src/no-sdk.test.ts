// No setupTelemetry here (each jest file has its own globals): the OTel API is in its no-op state.
import {
  currentTraceIds,
  extractTraceContext,
  injectTraceHeaders,
  messagingSpan,
  runWithTraceContext,
  setupTelemetry,
  withSpan,
} from "./index.js";

const incoming = {
  traceparent: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
  tracestate: "vendor=opaque",
};

describe("without an SDK", () => {
  it("passes an incoming traceparent through unchanged", async () => {
    const outgoing = await messagingSpan(
      { operation: "process", system: "memory", destination: "in", messageId: "m-1", parent: extractTraceContext(incoming) },
      async (span) => {
        expect(span.traceId).toBe("4bf92f3577b34da6a3ce929d0e0e4736");
        expect(currentTraceIds()).toEqual({ traceId: "4bf92f3577b34da6a3ce929d0e0e4736", spanId: "00f067aa0ba902b7" });
        // A nested publish (no explicit parent) still sees the incoming context as active.
        return messagingSpan({ operation: "publish", system: "memory", destination: "out", messageId: "m-2" }, () => {
          const headers: Record<string, string> = {};
          injectTraceHeaders(headers);
          return headers;
        });
      },
    );
    expect(outgoing).toEqual(incoming);
  });

  it("keeps the context active through awaits with runWithTraceContext", async () => {
    const headers: Record<string, string> = {};
    await runWithTraceContext(extractTraceContext(incoming), async () => {
      await Promise.resolve();
      await withSpan("after-await", {}, () => injectTraceHeaders(headers));
    });
    expect(headers["traceparent"]).toBe(incoming.traceparent);
  });

  it("injects nothing when there is no incoming trace", async () => {
    const headers: Record<string, string> = {};
    await withSpan("root", {}, () => injectTraceHeaders(headers));
    expect(headers).toEqual({});
    expect(currentTraceIds()).toEqual({});
  });

  it("still propagates when OTEL_SDK_DISABLED=true", async () => {
    const telemetry = setupTelemetry({ serviceName: "off", exporter: "memory", env: { OTEL_SDK_DISABLED: "true" } });
    try {
      expect(telemetry.mode).toBe("disabled");
      const headers: Record<string, string> = {};
      await withSpan("s", { parent: extractTraceContext(incoming) }, () => injectTraceHeaders(headers));
      expect(headers).toEqual(incoming);
      expect(telemetry.finishedSpans()).toEqual([]);
    } finally {
      await telemetry.shutdown();
    }
  });
});
