import type { ServerResponse } from "node:http";
import type { Logger } from "@retrain/telemetry";
import { errorBody, toHttpError } from "./errors.js";

/** Writes `body` as a JSON response with `status` (works for node:http and express responses). */
export function sendJson(res: ServerResponse, status: number, body: unknown, headers?: Readonly<Record<string, string>>): void {
  const payload = JSON.stringify(body);
  // writeHead with a flat [name, value, …] list: Node writes it without building a header map (this runs
  // on every RRS answer); headers set earlier with setHeader (e.g. Connection: close) are merged by Node.
  const raw: string[] = [];
  if (headers !== undefined) for (const name in headers) raw.push(name, headers[name] as string);
  raw.push("content-type", "application/json; charset=utf-8", "content-length", String(Buffer.byteLength(payload)));
  res.writeHead(status, raw);
  res.end(payload);
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
