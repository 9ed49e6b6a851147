// HTTP client spans per the OTel HTTP semantic conventions, around the platform's fetch.
import type { SpanAttributes } from "./spans.js";
import { startSpan } from "./spans.js";
import { injectTraceHeaders } from "./trace-context.js";

/** Options for {@link tracedFetch}: fetch's own, plus what the client span records. */
export interface TracedFetchOptions extends RequestInit {
  /** Extra span attributes (e.g. `retrain.run_id`). Default none. */
  spanAttributes?: SpanAttributes;
  /** 4xx statuses that are an answer, not a failure (a lookup's 404). Default none. */
  expectedStatuses?: readonly number[];
}

/**
 * `fetch` in a client span: `traceparent` of that span is sent with the request, so the server's
 * span becomes its child. The span records method, server address/port, the URL without its query
 * (a query may hold a SAS signature or a key) and the response status; a network failure or a
 * 4xx/5xx answer marks it failed, as the semantic conventions define for clients, unless the caller
 * names the status as expected. The body is not read here: the caller owns the response.
 */
export async function tracedFetch(url: string | URL, options: TracedFetchOptions = {}): Promise<Response> {
  const { spanAttributes, expectedStatuses, ...init } = options;
  const target = typeof url === "string" ? new URL(url) : url;
  const method = (init.method ?? "GET").toUpperCase();
  const span = startSpan(method, {
    kind: "client",
    attributes: {
      "http.request.method": method,
      "server.address": target.hostname,
      "server.port": Number(target.port || (target.protocol === "https:" ? 443 : 80)),
      "url.full": `${target.origin}${target.pathname}`,
      ...spanAttributes,
    },
  });
  const headers = new Headers(init.headers);
  const carrier: Record<string, string> = {};
  injectTraceHeaders(carrier, span.traceContext);
  for (const [name, value] of Object.entries(carrier)) headers.set(name, value);
  let response: Response;
  try {
    response = await fetch(target, { ...init, method, headers });
  } catch (error) {
    span.end(error);
    throw error;
  }
  span.setAttribute("http.response.status_code", response.status);
  if (response.status >= 400 && expectedStatuses?.includes(response.status) !== true) span.setError(`HTTP ${response.status}`);
  span.end();
  return response;
}
