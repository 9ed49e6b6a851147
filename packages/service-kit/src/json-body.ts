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
export async function readJsonBody(req: IncomingMessage, options: ReadJsonBodyOptions = {}): Promise<unknown> {
  const limitBytes = options.limitBytes ?? DEFAULT_BODY_LIMIT_BYTES;
  const contentType = req.headers["content-type"];
  if (!isJsonContentType(contentType)) {
    throw new HttpError(415, "UnsupportedMediaType", "The request body must be JSON (Content-Type: application/json).");
  }
  const charset = contentType?.includes(";") ? /;\s*charset\s*=\s*"?([^";\s]+)/i.exec(contentType)?.[1]?.toLowerCase() : undefined;
  if (charset !== undefined && charset !== "utf-8" && charset !== "utf8") {
    throw new HttpError(415, "UnsupportedMediaType", "The request body must be encoded as UTF-8.");
  }
  const text = (await readBody(req, limitBytes)).toString("utf8");
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

function readBody(req: IncomingMessage, limitBytes: number): Promise<Buffer> {
  return new Promise<Buffer>((resolve, reject) => {
    const declared = Number(req.headers["content-length"]);
    const drainBudget = Math.max(MAX_DRAIN_BYTES, limitBytes);
    if (Number.isFinite(declared) && declared > limitBytes + drainBudget) {
      // Not worth reading at all: answer now and let Node close the connection after the answer.
      reject(tooLarge(limitBytes, true));
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    let oversize = false;
    const cleanup = (): void => {
      req.off("data", onData);
      req.off("end", onEnd);
      req.off("error", onError);
      req.off("close", onClose);
    };
    const onData = (chunk: Buffer): void => {
      size += chunk.byteLength;
      if (size <= limitBytes) {
        chunks.push(chunk);
        return;
      }
      if (!oversize) {
        // Keep reading (and discarding) to the end, as body-parser does, so that the client gets to
        // read the 413 instead of failing on a write to a connection we stopped reading.
        oversize = true;
        chunks.length = 0;
      }
      if (size > limitBytes + drainBudget) {
        cleanup();
        req.pause();
        reject(tooLarge(limitBytes, true));
      }
    };
    const onEnd = (): void => {
      cleanup();
      if (oversize) reject(tooLarge(limitBytes, false));
      else resolve(chunks.length === 1 && chunks[0] !== undefined ? chunks[0] : Buffer.concat(chunks, size));
    };
    const onError = (error: Error): void => {
      cleanup();
      reject(new HttpError(400, "BadRequest", "The request body could not be read.", { cause: error }));
    };
    const onClose = (): void => {
      if (req.complete) return;
      cleanup();
      reject(new HttpError(400, "BadRequest", "The client closed the connection before sending the whole body."));
    };
    req.on("data", onData);
    req.on("end", onEnd);
    req.on("error", onError);
    req.on("close", onClose);
  });
}
