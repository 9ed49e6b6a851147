import type { IncomingMessage, ServerResponse } from "node:http";
import type { Logger } from "@retrain/telemetry";
import { extractTraceContext, isTracingRecorded, runWithTraceContext, startSpan, type TraceContext } from "@retrain/telemetry";
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
 * the request in `metrics` and logs it at debug with its duration. Completion is observed with one
 * response listener and nothing is returned to await: this runs on every request of the hot path.
 * `handle` gets the span's trace context (undefined when no span was started), for work it continues
 * from callbacks that run outside it, e.g. service-kit's `readJsonBodyThen`.
 */
export function observeHttpRequest(
  req: IncomingMessage,
  res: ServerResponse,
  options: ObserveHttpRequestOptions,
  handle: (traceContext: TraceContext | undefined) => unknown,
): void {
  const started = performance.now();
  const method = normalizeMethod(req.method);
  const traceparent = req.headers.traceparent;
  // No exporter and no caller's trace: a span would record nothing and continue nothing.
  const span =
    traceparent === undefined && !isTracingRecorded()
      ? undefined
      : startSpan(method, {
          kind: "server",
          ...(traceparent !== undefined ? { parent: extractTraceContext({ traceparent, tracestate: req.headers.tracestate }) } : {}),
          attributes: { "http.request.method": method, "url.path": pathOf(req), "url.scheme": "http" },
        });
  // "close" follows "finish" on every response and is emitted once, so one plain listener tells both outcomes apart.
  res.on("close", () => {
    try {
      const status = res.writableFinished ? res.statusCode : CLIENT_CLOSED_REQUEST;
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
        options.logger.debug({ method, route, path: pathOf(req), status, duration_ms: Math.round(seconds * 1e6) / 1e3 }, "request");
      }
    } catch (error) {
      options.logger.error({ err: error }, "observing a request failed");
    }
  });
  try {
    const result = span === undefined ? handle(undefined) : runWithTraceContext(span.traceContext, () => handle(span.traceContext));
    if (isThenable(result)) result.then(undefined, (error: unknown) => writeError(res, error, options.logger));
  } catch (error) {
    writeError(res, error, options.logger);
  }
}

/** The request path without its query (never logged or recorded with the query: it may hold a SAS). */
function pathOf(req: IncomingMessage): string {
  const url = req.url ?? "/";
  const query = url.indexOf("?");
  return query === -1 ? url : url.slice(0, query);
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return typeof value === "object" && value !== null && "then" in value && typeof value.then === "function";
}
