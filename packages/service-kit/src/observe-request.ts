import type { IncomingMessage, ServerResponse } from "node:http";
import type { Logger } from "@retrain/telemetry";
import { extractTraceContext, isTracingRecorded, runWithTraceContext, startSpan } from "@retrain/telemetry";
import type { HttpMetrics } from "./metrics.js";
import { normalizeMethod } from "./metrics.js";
import { writeError } from "./respond.js";

/** Options for {@link observeHttpRequest}. */
export interface ObserveHttpRequestOptions {
  metrics: HttpMetrics;
  logger: Logger;
  /** The route template, asked once the response is done (express only knows it after routing). */
  route: () => string;
}

/** Status recorded when the client went away before the response was complete (nginx's convention). */
export const CLIENT_CLOSED_REQUEST = 499;

/**
 * The cross-cutting part of serving one request, shared by the express app and the hot path: runs
 * `handle` in a server span continuing the caller's `traceparent`, answers a throw from `handle`
 * with {@link writeError}, and when the response is done names the span after the route, records
 * the request in `metrics` and logs it at debug with its duration. Completion is observed with
 * response callbacks rather than an awaited chain: this runs on every request of the hot path.
 */
export function observeHttpRequest(
  req: IncomingMessage,
  res: ServerResponse,
  options: ObserveHttpRequestOptions,
  handle: () => unknown,
): Promise<void> {
  const started = performance.now();
  const method = normalizeMethod(req.method);
  const url = req.url ?? "/";
  const query = url.indexOf("?");
  const path = query === -1 ? url : url.slice(0, query);
  const traceparent = req.headers.traceparent;
  // No exporter and no caller's trace: a span would record nothing and continue nothing.
  const span =
    traceparent === undefined && !isTracingRecorded()
      ? undefined
      : startSpan(method, {
          kind: "server",
          ...(traceparent !== undefined ? { parent: extractTraceContext({ traceparent, tracestate: req.headers.tracestate }) } : {}),
          attributes: { "http.request.method": method, "url.path": path, "url.scheme": "http" },
        });
  return new Promise<void>((resolve) => {
    let settled = false;
    const complete = (completed: boolean) => {
      if (settled) return;
      settled = true;
      const status = completed ? res.statusCode : CLIENT_CLOSED_REQUEST;
      const route = options.route();
      const seconds = (performance.now() - started) / 1000;
      if (span !== undefined) {
        span.updateName(`${method} ${route}`);
        span.setAttributes({ "http.route": route, "http.response.status_code": status });
        // Per the HTTP semantic conventions a server span fails only on 5xx; 4xx is the client's fault.
        if (status >= 500) span.setError(`HTTP ${status}`);
        span.end();
      }
      options.metrics.observe(method, route, status, seconds);
      if (options.logger.isLevelEnabled("debug")) {
        options.logger.debug({ method, route, path, status, duration_ms: Math.round(seconds * 1e6) / 1e3 }, "request");
      }
      resolve();
    };
    // "close" follows "finish" on every response, so one listener tells both outcomes apart.
    res.once("close", () => complete(res.writableFinished));
    const fail = (error: unknown) => writeError(res, error, options.logger);
    try {
      const result = span === undefined ? handle() : runWithTraceContext(span.traceContext, handle);
      if (isThenable(result)) result.then(undefined, fail);
    } catch (error) {
      fail(error);
    }
  });
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return typeof value === "object" && value !== null && "then" in value && typeof value.then === "function";
}
