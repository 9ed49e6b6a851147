import { Readable } from "node:stream";
import type { ReadableStream as WebReadableStream } from "node:stream/web";
import { HttpError } from "@retrain/service-kit";

/** Where datasets may be fetched from by URL (SSRF guard). */
export interface RemoteSourceOptions {
  /** Host patterns: `host`, `host:port` or `*.suffix` (e.g. `*.blob.core.windows.net`). */
  readonly allowedHosts: readonly string[];
  /** The own store's read-URL host, always allowed. */
  readonly ownHost?: string;
  /** Time allowed until the response headers arrive. Default 30 000 ms. */
  readonly connectTimeoutMs?: number;
}

/** Whether `url` is http(s) on an allowed host. */
export function urlAllowed(url: URL, options: RemoteSourceOptions): boolean {
  if (url.protocol !== "https:" && url.protocol !== "http:") return false;
  if (url.username !== "" || url.password !== "") return false;
  const host = url.host.toLowerCase();
  const hostname = url.hostname.toLowerCase();
  if (options.ownHost !== undefined && host === options.ownHost.toLowerCase()) return true;
  return options.allowedHosts.some((raw) => {
    const pattern = raw.trim().toLowerCase();
    if (pattern.startsWith("*.")) return hostname.endsWith(pattern.slice(1)) && hostname.length > pattern.length - 1;
    return host === pattern || hostname === pattern;
  });
}

/**
 * Opens a dataset by URL for streaming, after checking the host against the allow-list. Redirects are
 * refused (they could lead anywhere). 400 `UrlNotAllowed`, 400 `DatasetNotFound` (404/403 upstream),
 * 502 `DatasetFetchFailed` otherwise.
 */
export async function openRemoteDataset(text: string, options: RemoteSourceOptions, target = "dataset.url"): Promise<Readable> {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new HttpError(400, "BadArgument", `'${target}' is not a URL.`, { details: [{ code: "InvalidValue", target, message: "not a URL" }] });
  }
  if (!urlAllowed(url, options)) {
    throw new HttpError(400, "UrlNotAllowed", `'${target}' points at ${url.host}, which is not an allowed storage host.`, {
      details: [{ code: "UrlNotAllowed", target, message: `host ${url.host} is not allowed` }],
    });
  }
  let response: Response;
  // Only the wait for the headers is bounded: a large body may take as long as it takes.
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(new Error("timed out waiting for the response")), options.connectTimeoutMs ?? 30_000);
  try {
    response = await fetch(url, { redirect: "error", signal: controller.signal });
  } catch (error) {
    throw new HttpError(502, "DatasetFetchFailed", `Reading the dataset from ${url.host} failed.`, { cause: error });
  } finally {
    clearTimeout(timer);
  }
  if (response.status === 404 || response.status === 403) {
    await response.body?.cancel();
    throw new HttpError(400, "DatasetNotFound", `The dataset at ${url.host}${url.pathname} was not found (HTTP ${response.status}).`);
  }
  if (!response.ok || response.body === null) {
    await response.body?.cancel();
    throw new HttpError(502, "DatasetFetchFailed", `Reading the dataset from ${url.host} failed with HTTP ${response.status}.`);
  }
  return Readable.fromWeb(response.body as WebReadableStream<Uint8Array>);
}
