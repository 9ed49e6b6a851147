import type { IncomingMessage, ServerResponse } from "node:http";
import type { Logger } from "@retrain/telemetry";
import { extractTraceContext, withSpan } from "@retrain/telemetry";
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
 * the request in `metrics` and logs it at debug with its duration.
 */
export function observeHttpRequest(
  req: IncomingMessage,
  res: ServerResponse,
  options: ObserveHttpRequestOptions,
  handle: () => unknown,
): Promise<void> {
  const started = process.hrtime.bigint();
  const method = normalizeMethod(req.method);
  const path = (req.url ?? "/").split("?", 1)[0] ?? "/";
  const done = responseDone(res);
  return withSpan(
    method,
    {
      kind: "server",
      parent: extractTraceContext(req.headers),
      attributes: { "http.request.method": method, "url.path": path, "url.scheme": "http" },
    },
    async (span) => {
      try {
        await handle();
      } catch (error) {
        writeError(res, error, options.logger);
      }
      const completed = await done;
      const status = completed ? res.statusCode : CLIENT_CLOSED_REQUEST;
      const route = options.route();
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      span.updateName(`${method} ${route}`);
      span.setAttributes({ "http.route": route, "http.response.status_code": status });
      // Per the HTTP semantic conventions a server span fails only on 5xx; 4xx is the client's fault.
      if (status >= 500) span.setError(`HTTP ${status}`);
      options.metrics.observe(method, route, status, seconds);
      if (options.logger.isLevelEnabled("debug")) {
        options.logger.debug({ method, route, path, status, duration_ms: Math.round(seconds * 1e6) / 1e3 }, "request");
      }
    },
  );
}

/** Resolves true when the response was fully handed to the OS, false when the connection closed first. */
function responseDone(res: ServerResponse): Promise<boolean> {
  if (res.writableFinished) return Promise.resolve(true);
  return new Promise<boolean>((resolve) => {
    res.once("finish", () => resolve(true));
    res.once("close", () => resolve(res.writableFinished));
  });
}
