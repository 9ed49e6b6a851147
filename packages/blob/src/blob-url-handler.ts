import type { IncomingMessage, ServerResponse } from "node:http";
import { pipeline } from "node:stream/promises";
import type { BlobProperties, BlobStore } from "./blob-store.js";
import { BlobError, isBlobError } from "./errors.js";
import { DEFAULT_BLOB_URL_PATH_PREFIX, verifyBlobRead } from "./signed-url.js";

/** Options for {@link createBlobUrlHandler}. */
export interface BlobUrlHandlerOptions {
  /** The HMAC key the store signs read URLs with (its `urlSecret`). */
  secret: string | Buffer;
  /** The path the handler owns; requests elsewhere are left to the host. Default `/_blobs/`. */
  pathPrefix?: string;
}

/** A plain `node:http` request handler that returns false when the request is not its own, so hosts can chain it. */
export type BlobUrlHandler = (req: IncomingMessage, res: ServerResponse) => boolean;

/**
 * Serves the read URLs minted by {@link FileSystemBlobStore.readUrl}: checks signature and expiry
 * (403 `AuthenticationFailed` otherwise), answers GET and HEAD with Content-Length/Type and ETag, and
 * streams the body.
 */
export function createBlobUrlHandler(store: BlobStore, options: BlobUrlHandlerOptions): BlobUrlHandler {
  const prefix = `/${(options.pathPrefix ?? DEFAULT_BLOB_URL_PATH_PREFIX).replace(/^\/+|\/+$/g, "")}/`;
  return (req, res) => {
    const url = new URL(req.url ?? "/", "http://host.invalid");
    if (!url.pathname.startsWith(prefix)) return false;
    serve(store, options.secret, prefix, url, req, res).catch((error: unknown) => {
      // Headers already went out: the only honest signal left is a truncated response.
      if (res.headersSent) res.destroy(error instanceof Error ? error : undefined);
      else sendError(res, 500, "InternalError", "the blob could not be served");
    });
    return true;
  };
}

async function serve(
  store: BlobStore,
  secret: string | Buffer,
  prefix: string,
  url: URL,
  req: IncomingMessage,
  res: ServerResponse,
): Promise<void> {
  if (req.method !== "GET" && req.method !== "HEAD") {
    res.setHeader("Allow", "GET, HEAD");
    sendError(res, 405, "UnsupportedHttpVerb", `${req.method ?? "?"} is not allowed on a blob read URL`);
    return;
  }
  let name: string;
  try {
    name = decodeURIComponent(url.pathname.slice(prefix.length));
  } catch {
    sendError(res, 403, "AuthenticationFailed", "the URL's blob path is malformed");
    return;
  }
  const expiry = url.searchParams.get("se") ?? "";
  const signature = url.searchParams.get("sig") ?? "";
  const expiresAt = /^\d{1,16}$/.test(expiry) ? Number(expiry) : Number.NaN;
  if (Number.isNaN(expiresAt) || signature === "" || !verifyBlobRead(secret, name, expiresAt, signature)) {
    sendError(res, 403, "AuthenticationFailed", "the signature does not match this blob and expiry");
    return;
  }
  if (expiresAt <= Date.now()) {
    sendError(res, 403, "AuthenticationFailed", `the URL expired at ${new Date(expiresAt).toISOString()}`);
    return;
  }
  try {
    if (req.method === "HEAD") {
      const properties = await store.head(name);
      if (properties === undefined) {
        sendError(res, 404, "BlobNotFound", "the blob does not exist");
        return;
      }
      writeHeaders(res, properties);
      res.end();
      return;
    }
    const { properties, body } = await store.get(name);
    writeHeaders(res, properties);
    await pipeline(body, res);
  } catch (error) {
    if (res.headersSent) throw error;
    if (isBlobError(error, "NotFound")) sendError(res, 404, "BlobNotFound", "the blob does not exist");
    else if (isBlobError(error, "InvalidName")) sendError(res, 400, "InvalidResourceName", error.message);
    else if (error instanceof BlobError) sendError(res, 503, "ServerBusy", error.message);
    else throw error;
  }
}

function writeHeaders(res: ServerResponse, properties: BlobProperties): void {
  res.statusCode = 200;
  res.setHeader("Content-Length", String(properties.size));
  res.setHeader("Content-Type", properties.contentType ?? "application/octet-stream");
  res.setHeader("ETag", properties.etag);
  res.setHeader("Last-Modified", properties.lastModified.toUTCString());
  // Each URL grants time-limited access; shared caches must not extend it.
  res.setHeader("Cache-Control", "private, no-store");
}

function sendError(res: ServerResponse, status: number, code: string, message: string): void {
  const body = JSON.stringify({ error: { code, message } });
  res.statusCode = status;
  res.setHeader("Content-Type", "application/json; charset=utf-8");
  res.setHeader("Content-Length", String(Buffer.byteLength(body)));
  res.end(body);
}
