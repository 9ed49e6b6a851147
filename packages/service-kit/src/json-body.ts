import type { IncomingMessage } from "node:http";
import { HttpError } from "./errors.js";

/** Default request body limit: 1 MiB. */
export const DEFAULT_BODY_LIMIT_BYTES = 1024 * 1024;

/** Options for {@link readJsonBody}. */
export interface ReadJsonBodyOptions {
  /** Largest accepted body. Default {@link DEFAULT_BODY_LIMIT_BYTES}. */
  limitBytes?: number;
}

/** Whether a Content-Type header names JSON (`application/json` or `application/*+json`). */
export function isJsonContentType(contentType: string | undefined): boolean {
  // What nearly every client sends, answered without splitting and lower-casing (this runs per request).
  if (contentType === "application/json") return true;
  const mediaType = contentType?.split(";", 1)[0]?.trim().toLowerCase() ?? "";
  return mediaType === "application/json" || (mediaType.startsWith("application/") && mediaType.endsWith("+json"));
}

/** Whether the request carries a body at all (a length above zero, or chunked). */
export function hasRequestBody(req: IncomingMessage): boolean {
  if (req.headers["transfer-encoding"] !== undefined) return true;
  const length = req.headers["content-length"];
  return length !== undefined && length !== "0";
}

/**
 * Reads and parses a JSON request body, streaming and enforcing the size limit. Throws HttpError
 * 415 `UnsupportedMediaType` when the content type is not JSON (or a charset other than UTF-8 is
 * declared), 413 `RequestEntityTooLarge` over the limit and 400 `InvalidJson` for an empty or
 * malformed body. Transport-independent: the express app's body parser is this same function.
 */
export function readJsonBody(req: IncomingMessage, options: ReadJsonBodyOptions = {}): Promise<unknown> {
  return new Promise((resolve, reject) => readJsonBodyThen(req, options, (error, body) => (error === undefined ? resolve(body) : reject(error))));
}

/**
 * {@link readJsonBody} with a callback instead of a promise, for the hot path (no promise and no
 * microtask per request). `done` is called exactly once, possibly before this returns (a refused
 * content type); the callback runs from the request's stream events, outside the caller's async context.
 */
export function readJsonBodyThen(req: IncomingMessage, options: ReadJsonBodyOptions, done: (error: HttpError | undefined, body: unknown) => void): void {
  const limitBytes = options.limitBytes ?? DEFAULT_BODY_LIMIT_BYTES;
  const contentType = req.headers["content-type"];
  if (!isJsonContentType(contentType)) {
    done(new HttpError(415, "UnsupportedMediaType", "The request body must be JSON (Content-Type: application/json)."), undefined);
    return;
  }
  const charset = contentType?.includes(";") ? /;\s*charset\s*=\s*"?([^";\s]+)/i.exec(contentType)?.[1]?.toLowerCase() : undefined;
  if (charset !== undefined && charset !== "utf-8" && charset !== "utf8") {
    done(new HttpError(415, "UnsupportedMediaType", "The request body must be encoded as UTF-8."), undefined);
    return;
  }
  readBody(req, limitBytes, (error, bytes) => {
    if (error !== undefined) {
      done(error, undefined);
      return;
    }
    let parsed: unknown;
    try {
      parsed = parseJsonText((bytes as Buffer).toString("utf8"));
    } catch (parseError) {
      done(parseError as HttpError, undefined);
      return;
    }
    done(undefined, parsed);
  });
}

function parseJsonText(text: string): unknown {
  // A UTF-8 byte order mark is legal in front of JSON text but JSON.parse rejects it.
  const json = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  try {
    return JSON.parse(json) as unknown;
  } catch (error) {
    // Only now tell "empty" from "malformed": trimming every body up front costs a copy per request.
    if (json.trim() === "") throw new HttpError(400, "InvalidJson", "The request body is empty; a JSON value was expected.");
    throw new HttpError(400, "InvalidJson", "The request body is not valid JSON.", { cause: error });
  }
}

// Past this much, an oversize body is no longer read to its end: the 413 goes out and the connection closes.
const MAX_DRAIN_BYTES = 8 * 1024 * 1024;

function tooLarge(limitBytes: number, closeConnection: boolean): HttpError {
  return new HttpError(413, "RequestEntityTooLarge", `The request body exceeds the limit of ${limitBytes} bytes.`, {
    ...(closeConnection && { headers: { connection: "close" } }),
  });
}

/**
 * Reads the whole body and calls `done` once. The listeners stay on the request once it is settled
 * (a later "error" or "close" finds it settled and does nothing): removing four listeners per
 * request cost more than the request object they die with.
 */
function readBody(req: IncomingMessage, limitBytes: number, done: (error: HttpError | undefined, body: Buffer | undefined) => void): void {
  const declared = Number(req.headers["content-length"]);
  const drainBudget = Math.max(MAX_DRAIN_BYTES, limitBytes);
  if (Number.isFinite(declared) && declared > limitBytes + drainBudget) {
    // Not worth reading at all: answer now and let Node close the connection after the answer.
    done(tooLarge(limitBytes, true), undefined);
    return;
  }
  // Most bodies arrive in one chunk: the list is only built for a second one.
  let first: Buffer | undefined;
  let more: Buffer[] | undefined;
  let size = 0;
  let oversize = false;
  let settled = false;
  const settle = (error: HttpError | undefined, body: Buffer | undefined): void => {
    if (settled) return;
    settled = true;
    done(error, body);
  };
  req.on("data", (chunk: Buffer) => {
    if (settled) return;
    size += chunk.byteLength;
    if (size <= limitBytes) {
      if (first === undefined) first = chunk;
      else (more ??= [first]).push(chunk);
      return;
    }
    if (!oversize) {
      // Keep reading (and discarding) to the end, as body-parser does, so that the client gets to
      // read the 413 instead of failing on a write to a connection we stopped reading.
      oversize = true;
      first = undefined;
      more = undefined;
    }
    if (size > limitBytes + drainBudget) {
      req.pause();
      settle(tooLarge(limitBytes, true), undefined);
    }
  });
  req.on("end", () => {
    if (oversize) settle(tooLarge(limitBytes, false), undefined);
    else settle(undefined, more !== undefined ? Buffer.concat(more, size) : (first ?? Buffer.alloc(0)));
  });
  req.on("error", (error: Error) => settle(new HttpError(400, "BadRequest", "The request body could not be read.", { cause: error }), undefined));
  req.on("close", () => {
    if (!req.complete) settle(new HttpError(400, "BadRequest", "The client closed the connection before sending the whole body."), undefined);
  });
}
