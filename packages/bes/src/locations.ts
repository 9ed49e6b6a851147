import { Readable } from "node:stream";
import type { ReadableStream as WebReadableStream } from "node:stream/web";
import { AzureBlobStore, isBlobError, splitSasUrl, type BlobStore } from "@retrain/blob";
import { besError } from "./errors.js";
import type { AzureBlobDataReference } from "./wire.js";

/** Where a job reads an input or writes an output. */
export type DataLocation =
  /** Retrain's own blob store (the workspace's default storage). */
  | { readonly kind: "store"; readonly name: string }
  /** An Azure storage account named by connection string (`container/blob` in RelativeLocation). */
  | { readonly kind: "azure"; readonly connectionString: string; readonly container: string; readonly blob: string }
  /** A URL: a SAS location (BaseLocation + RelativeLocation + SasBlobToken) or the `URI` global parameter. */
  | { readonly kind: "url"; readonly url: string };

/** A BES result reference, as `Results.<output>` shows it. */
export interface ResultReference {
  ConnectionString: string | null;
  RelativeLocation: string;
  BaseLocation: string;
  SasBlobToken: string;
}

/** What reading and writing locations needs. */
export interface LocationDeps {
  /** Retrain's own store. */
  readonly store: BlobStore;
  /**
   * Hosts a job may fetch from or write to by URL (SSRF guard), e.g. `*.blob.core.windows.net`.
   * The own store's host is always allowed.
   */
  readonly allowedHosts: readonly string[];
  /** Host of the own store's read URLs (allowed implicitly). */
  readonly ownHost?: string;
}

function parseConnectionString(text: string): Map<string, string> {
  const parts = new Map<string, string>();
  for (const segment of text.split(";")) {
    const eq = segment.indexOf("=");
    if (eq <= 0) continue;
    parts.set(segment.slice(0, eq).trim().toLowerCase(), segment.slice(eq + 1).trim());
  }
  return parts;
}

function splitRelative(relative: string, target: string): { container: string; blob: string } {
  const trimmed = relative.replace(/^\/+/, "");
  const slash = trimmed.indexOf("/");
  if (slash <= 0 || slash === trimmed.length - 1) {
    throw besError("InvalidBlob", `RelativeLocation '${relative}' must be 'container/path/blob.ext'.`, target);
  }
  return { container: trimmed.slice(0, slash), blob: trimmed.slice(slash + 1) };
}

/**
 * Turns a wire reference into a location: connection string + relative path, or SAS. Throws the
 * classic 400s (`InvalidBlobConnectionString`, `InvalidBlob`) naming the input or output.
 */
export function locationFromReference(ref: AzureBlobDataReference, target: string): DataLocation {
  const relative = ref.RelativeLocation ?? "";
  if (ref.ConnectionString) {
    const parts = parseConnectionString(ref.ConnectionString);
    const dev = parts.get("usedevelopmentstorage") === "true";
    if (!dev && (!parts.get("accountname") || !parts.get("accountkey"))) {
      throw besError("InvalidBlobConnectionString", `The connection string of '${target}' needs AccountName and AccountKey.`, target);
    }
    if (!relative) throw besError("InvalidBlob", `'${target}' needs a RelativeLocation with its connection string.`, target);
    return { kind: "azure", connectionString: ref.ConnectionString, ...splitRelative(relative, target) };
  }
  if (ref.BaseLocation) {
    const base = ref.BaseLocation.endsWith("/") ? ref.BaseLocation : `${ref.BaseLocation}/`;
    const token = ref.SasBlobToken ? (ref.SasBlobToken.startsWith("?") ? ref.SasBlobToken : `?${ref.SasBlobToken}`) : "";
    const url = `${base}${relative.replace(/^\/+/, "")}${token}`;
    return { kind: "url", url: checkedUrl(url, target).toString() };
  }
  throw besError(
    "InvalidBlob",
    `'${target}' must name a blob by connection string / relative path or SAS token (BaseLocation, RelativeLocation, SasBlobToken).`,
    target,
  );
}

/** A `URI` global parameter as a location. */
export function locationFromUri(uri: string, target = "URI"): DataLocation {
  return { kind: "url", url: checkedUrl(uri, target).toString() };
}

function checkedUrl(text: string, target: string): URL {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw besError("InvalidBlob", `'${target}' is not a valid URL.`, target);
  }
  if (url.protocol !== "https:" && url.protocol !== "http:") {
    throw besError("InvalidBlob", `'${target}' must be an http(s) URL.`, target);
  }
  return url;
}

/** The blob name of a location, for extension checks. */
export function locationBlobName(location: DataLocation): string {
  switch (location.kind) {
    case "store":
      return location.name;
    case "azure":
      return location.blob;
    case "url":
      return decodeURIComponent(new URL(location.url).pathname);
  }
}

function hostAllowed(host: string, deps: LocationDeps): boolean {
  const h = host.toLowerCase();
  if (deps.ownHost !== undefined && h === deps.ownHost.toLowerCase()) return true;
  return deps.allowedHosts.some((pattern) => {
    const p = pattern.toLowerCase();
    return p.startsWith("*.") ? h.endsWith(p.slice(1)) && h.length > p.length - 1 : h === p;
  });
}

/**
 * Whether a location may be read or written from here (SSRF guard): the own store always; a URL or a
 * connection string only when the host it would call is the own store's or on the allow-list. Lets a
 * caller refuse at once what would fail later (an ARM update that loads its model in the background).
 */
export function locationAllowed(location: DataLocation, deps: LocationDeps): boolean {
  switch (location.kind) {
    case "store":
      return true;
    case "azure": {
      const host = connectionStringHost(location.connectionString);
      return host !== undefined && hostAllowed(host, deps);
    }
    case "url":
      return hostAllowed(new URL(location.url).host, deps);
  }
}

function assertAllowed(url: URL, deps: LocationDeps, target: string): void {
  if (!hostAllowed(url.host, deps)) {
    throw besError("BlobLocationNotAllowed", `'${target}' points at ${url.host}, which is not an allowed storage host.`, target);
  }
}

/**
 * The host a storage connection string sends its requests to: its `BlobEndpoint`, the development
 * storage emulator, or `<account>.blob.<EndpointSuffix>`; undefined when it names none.
 */
export function connectionStringHost(connectionString: string): string | undefined {
  const parts = parseConnectionString(connectionString);
  if (parts.get("usedevelopmentstorage") === "true") return "127.0.0.1:10000";
  const endpoint = parts.get("blobendpoint");
  if (endpoint !== undefined) {
    try {
      return new URL(endpoint).host;
    } catch {
      return undefined;
    }
  }
  const account = parts.get("accountname");
  return account ? `${account}.blob.${parts.get("endpointsuffix") ?? "core.windows.net"}`.toLowerCase() : undefined;
}

/**
 * A store for a connection-string location, once its endpoint passed the same SSRF allow-list as a
 * URL: a connection string can name any `BlobEndpoint`, so without the check it would let a caller
 * make this host send requests anywhere.
 */
function azureStore(location: Extract<DataLocation, { kind: "azure" }>, deps: LocationDeps, target: string): AzureBlobStore {
  const host = connectionStringHost(location.connectionString);
  if (host === undefined || !hostAllowed(host, deps)) {
    throw besError("BlobLocationNotAllowed", `The connection string of '${target}' points at ${host ?? "no storage endpoint"}, which is not an allowed storage host.`, target);
  }
  return new AzureBlobStore({ connectionString: location.connectionString, container: location.container });
}

/**
 * Whether a location's blob exists, checked where it is cheap (own store, connection string); a URL
 * is assumed to exist until the job reads it (a HEAD could cost the owner a request per submit).
 */
export async function locationExists(location: DataLocation, deps: LocationDeps, target = "input"): Promise<boolean> {
  switch (location.kind) {
    case "store":
      return (await deps.store.head(location.name)) !== undefined;
    case "azure":
      try {
        return (await azureStore(location, deps, target).head(location.blob)) !== undefined;
      } catch (error) {
        // The caller named a container that does not exist: for them, the blob is not there.
        if (isBlobError(error, "ContainerNotFound")) return false;
        // A name no blob can have (`..` segments, control characters, over 1024 characters) is the
        // caller's mistake (400), not the server's (500).
        if (isBlobError(error, "InvalidName")) throw besError("InvalidBlob", `The blob name of '${target}' is not valid: ${error.message}`, target);
        throw error;
      }
    case "url":
      return true;
  }
}

/** Opens a location for reading; `BlobNotFound` (400) when it does not exist. */
export async function openLocation(location: DataLocation, deps: LocationDeps, target: string, signal?: AbortSignal): Promise<Readable> {
  const missing = () => besError("BlobNotFound", `The blob of '${target}' was not found.`, target);
  try {
    switch (location.kind) {
      case "store":
        return (await deps.store.get(location.name, signal ? { signal } : {})).body;
      case "azure":
        return (await azureStore(location, deps, target).get(location.blob, signal ? { signal } : {})).body;
      case "url": {
        const url = new URL(location.url);
        assertAllowed(url, deps, target);
        const response = await fetch(url, { redirect: "error", ...(signal ? { signal } : {}) });
        if (response.status === 404 || response.status === 403) throw missing();
        if (!response.ok || response.body === null) {
          throw besError("InvalidBlob", `Reading '${target}' failed with HTTP ${response.status}.`, target);
        }
        return Readable.fromWeb(response.body as WebReadableStream<Uint8Array>);
      }
    }
  } catch (error) {
    if (isBlobError(error, "NotFound") || isBlobError(error, "ContainerNotFound")) throw missing();
    throw error;
  }
}

/** Writes `body` to a location (a SAS URL gets a single Put Blob). */
export async function writeLocation(location: DataLocation, body: Buffer, contentType: string, deps: LocationDeps, target: string): Promise<{ etag: string; size: number }> {
  switch (location.kind) {
    case "store": {
      const props = await deps.store.put(location.name, body, { contentType });
      return { etag: props.etag, size: props.size };
    }
    case "azure": {
      const store = azureStore(location, deps, target);
      const props = await store.put(location.blob, body, { contentType });
      return { etag: props.etag, size: props.size };
    }
    case "url": {
      const url = new URL(location.url);
      assertAllowed(url, deps, target);
      const response = await fetch(url, {
        method: "PUT",
        body,
        headers: { "x-ms-blob-type": "BlockBlob", "content-type": contentType, "x-ms-version": "2021-08-06" },
        redirect: "error",
      });
      if (!response.ok) throw besError("InvalidBlob", `Writing '${target}' failed with HTTP ${response.status}.`, target);
      return { etag: response.headers.get("etag") ?? "", size: body.byteLength };
    }
  }
}

/**
 * The `Results` entry for an output, with a freshly minted read-only SAS (every status GET mints a
 * new one: a client whose token expired gets a fresh one by asking again, as the classic docs say).
 */
export async function resultReference(location: DataLocation, deps: LocationDeps, sasLifetimeMs: number): Promise<ResultReference> {
  switch (location.kind) {
    case "store":
      return splitOwnUrl(await deps.store.readUrl(location.name, sasLifetimeMs), location.name, deps.store.kind === "azure");
    case "azure": {
      const parts = splitSasUrl(await azureStore(location, deps, "output").readUrl(location.blob, sasLifetimeMs));
      return { ConnectionString: null, RelativeLocation: parts.relativeLocation, BaseLocation: parts.baseLocation, SasBlobToken: parts.sasBlobToken };
    }
    case "url": {
      const url = new URL(location.url);
      const token = url.search;
      url.search = "";
      const path = url.pathname.replace(/^\/+/, "");
      return { ConnectionString: null, RelativeLocation: path, BaseLocation: `${url.origin}/`, SasBlobToken: token };
    }
  }
}

function splitOwnUrl(url: string, name: string, azure: boolean): ResultReference {
  if (azure) {
    const parts = splitSasUrl(url);
    return { ConnectionString: null, RelativeLocation: parts.relativeLocation, BaseLocation: parts.baseLocation, SasBlobToken: parts.sasBlobToken };
  }
  const parsed = new URL(url);
  const encoded = name.split("/").map(encodeURIComponent).join("/");
  const base = parsed.pathname.endsWith(encoded) ? parsed.pathname.slice(0, parsed.pathname.length - encoded.length) : "/";
  return { ConnectionString: null, RelativeLocation: encoded, BaseLocation: `${parsed.origin}${base}`, SasBlobToken: parsed.search };
}
