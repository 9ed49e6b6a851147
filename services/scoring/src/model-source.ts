import { createHash } from "node:crypto";
import type { Readable } from "node:stream";
import { locationFromReference, locationFromUri, openLocation, type DataLocation, type LocationDeps } from "@retrain/bes";
import { HttpError } from "@retrain/service-kit";

/** Where a model to load is: a SAS-style location, a URL (ARM asset uri), or a blob of the own store. */
export type ModelSource =
  | { readonly kind: "reference"; readonly BaseLocation: string; readonly RelativeLocation: string; readonly SasBlobToken?: string | undefined }
  | { readonly kind: "uri"; readonly uri: string }
  | { readonly kind: "store"; readonly blob: string };

/** Why a model could not be fetched. */
export class ModelFetchError extends Error {
  override readonly name = "ModelFetchError";
  constructor(
    readonly code: "LocationNotAllowed" | "ModelNotFound" | "ModelFetchFailed" | "ModelTooLarge",
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** Options of {@link fetchModel}. */
export interface FetchModelOptions {
  /** The own store and the allow-list of hosts a URL may point at (SSRF guard, shared with BES). */
  readonly locations: LocationDeps;
  /** Largest model accepted. */
  readonly maxBytes: number;
  /** Time allowed for the whole download. */
  readonly timeoutMs: number;
  readonly signal?: AbortSignal;
}

/** A fetched model: its bytes, their SHA-256, and where it came from without any SAS token. */
export interface FetchedModel {
  readonly bytes: Buffer;
  readonly sha256: string;
  readonly source: string;
}

/** The source URL without its query string (never store or log a SAS token). */
export function redactedSource(source: ModelSource): string {
  switch (source.kind) {
    case "store":
      return `store:${source.blob}`;
    case "uri":
      return stripQuery(source.uri);
    case "reference": {
      const base = source.BaseLocation.endsWith("/") ? source.BaseLocation : `${source.BaseLocation}/`;
      return stripQuery(`${base}${source.RelativeLocation.replace(/^\/+/, "")}`);
    }
  }
}

function stripQuery(url: string): string {
  const q = url.indexOf("?");
  return q < 0 ? url : url.slice(0, q);
}

/**
 * Downloads a model: from the own store, or by URL only when its host is allow-listed (the bes
 * location helpers do the check, so BES inputs and model updates share one SSRF policy).
 */
export async function fetchModel(source: ModelSource, options: FetchModelOptions): Promise<FetchedModel> {
  const timeout = AbortSignal.timeout(options.timeoutMs);
  const signal = options.signal === undefined ? timeout : AbortSignal.any([timeout, options.signal]);
  let location: DataLocation;
  try {
    location =
      source.kind === "store"
        ? { kind: "store", name: source.blob }
        : source.kind === "uri"
          ? locationFromUri(source.uri, "uri")
          : locationFromReference({ BaseLocation: source.BaseLocation, RelativeLocation: source.RelativeLocation, SasBlobToken: source.SasBlobToken ?? null }, "Location");
  } catch (error) {
    throw translate(error);
  }
  let stream: Readable;
  try {
    stream = await openLocation(location, options.locations, "Location", signal);
  } catch (error) {
    throw translate(error);
  }
  const bytes = await readLimited(stream, options.maxBytes, signal);
  return { bytes, sha256: createHash("sha256").update(bytes).digest("hex"), source: redactedSource(source) };
}

function translate(error: unknown): ModelFetchError {
  if (error instanceof HttpError) {
    const detail = error.details?.[0]?.code;
    if (detail === "BlobLocationNotAllowed") return new ModelFetchError("LocationNotAllowed", error.message, { cause: error });
    if (detail === "BlobNotFound") return new ModelFetchError("ModelNotFound", "The model blob was not found (or the SAS token does not grant read access).", { cause: error });
    return new ModelFetchError("ModelFetchFailed", error.message, { cause: error });
  }
  if (error instanceof Error && (error.name === "TimeoutError" || error.name === "AbortError")) {
    return new ModelFetchError("ModelFetchFailed", "Downloading the model timed out.", { cause: error });
  }
  return new ModelFetchError("ModelFetchFailed", `Downloading the model failed: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
}

async function readLimited(stream: Readable, maxBytes: number, signal: AbortSignal): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  try {
    for await (const chunk of stream) {
      signal.throwIfAborted();
      const buffer = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk as Uint8Array);
      size += buffer.byteLength;
      if (size > maxBytes) {
        stream.destroy();
        throw new ModelFetchError("ModelTooLarge", `The model is larger than the limit of ${maxBytes} bytes.`);
      }
      chunks.push(buffer);
    }
  } catch (error) {
    if (error instanceof ModelFetchError) throw error;
    throw translate(error);
  }
  return Buffer.concat(chunks, size);
}
