import type { ServerResponse } from "node:http";
import type { Logger } from "@retrain/telemetry";
import { errorBody, toHttpError } from "./errors.js";

/** Writes `body` as a JSON response with `status` (works for node:http and express responses). */
export function sendJson(res: ServerResponse, status: number, body: unknown, headers?: Readonly<Record<string, string>>): void {
  // A flat [name, value, …] list: Node writes it without building a header map (see sendJsonText).
  const raw: string[] = [];
  if (headers !== undefined) for (const name in headers) raw.push(name, headers[name] as string);
  sendJsonText(res, status, JSON.stringify(body), raw);
}

const JSON_CONTENT_TYPE = "application/json; charset=utf-8";

/**
 * Writes `json`, already serialized, as a JSON response with `status`; `headers` is a flat
 * [name, value, …] list that this call extends (pass a fresh array). writeHead with such a list
 * writes the header block without building a header map, which matters on the hot path; headers set
 * earlier with setHeader (e.g. Connection: close) are merged by Node.
 */
export function sendJsonText(res: ServerResponse, status: number, json: string, headers: string[] = []): void {
  headers.push("content-type", JSON_CONTENT_TYPE, "content-length", String(Buffer.byteLength(json)));
  res.writeHead(status, headers);
  res.end(json);
}

/**
 * Answers `error` with the classic error body (mapping per {@link toHttpError}). 5xx causes are logged
 * at error level, 4xx at debug. If the response has already started, the connection is cut instead
 * so the client sees a failure rather than a truncated success.
 */
export function writeError(res: ServerResponse, error: unknown, logger?: Logger): void {
  const httpError = toHttpError(error);
  if (httpError.status >= 500) {
    logger?.error({ err: error, status: httpError.status }, "request failed");
  } else {
    logger?.debug({ status: httpError.status, code: httpError.code, reason: httpError.message }, "request rejected");
  }
  if (res.headersSent) {
    res.destroy();
    return;
  }
  sendJson(res, httpError.status, errorBody(httpError.code, httpError.message, httpError.details), httpError.headers);
}
