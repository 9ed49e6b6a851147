/**
 * Why a blob operation failed. Adapters translate their own failures (errno, HTTP status, SDK
 * error codes) into one of these at their edge, so callers never see a vendor error type.
 * - `NotFound`: the blob does not exist.
 * - `Conflict`: a conditional write or delete lost (etag mismatch, or the blob already exists).
 * - `InvalidName`: a blob name, prefix or metadata entry the store cannot hold.
 * - `Unavailable`: the backing store could not be reached or refused the request.
 * - `UrlInvalid`: a read URL could not be minted (missing secret/base URL, bad expiry).
 */
export type BlobErrorCode = "NotFound" | "ContainerNotFound" | "Conflict" | "InvalidName" | "Unavailable" | "UrlInvalid";

/** The one error type every BlobStore operation throws (besides an abort reason); `code` says why. */
export class BlobError extends Error {
  override readonly name: string = "BlobError";

  constructor(
    readonly code: BlobErrorCode,
    /** The blob (or prefix) the operation was about; empty when it concerned no single blob. */
    readonly blobName: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** The blob does not exist (get/getBuffer of a missing name). */
export class BlobNotFoundError extends BlobError {
  override readonly name = "BlobNotFoundError";
  declare readonly code: "NotFound";

  constructor(blobName: string, options?: { cause?: unknown }) {
    super("NotFound", blobName, `blob "${blobName}" does not exist`, options);
  }
}

/** A conditional write or delete lost: the etag no longer matches, or the blob already exists. */
export class BlobConflictError extends BlobError {
  override readonly name = "BlobConflictError";
  declare readonly code: "Conflict";

  constructor(blobName: string, message?: string, options?: { cause?: unknown }) {
    super("Conflict", blobName, message ?? `blob "${blobName}" changed or already exists (condition not met)`, options);
  }
}

/** A blob name (or prefix, or metadata entry) was rejected before any I/O; the message names the problem. */
export class InvalidBlobNameError extends BlobError {
  override readonly name = "InvalidBlobNameError";
  declare readonly code: "InvalidName";

  constructor(blobName: string, problem: string, options?: { cause?: unknown }) {
    super("InvalidName", blobName, `invalid blob name ${JSON.stringify(blobName)}: ${problem}`, options);
  }
}

/** True when `error` is a {@link BlobError} with the given code (narrowing helper for callers). */
export function isBlobError<C extends BlobErrorCode>(error: unknown, code?: C): error is BlobError & { code: C } {
  return error instanceof BlobError && (code === undefined || error.code === code);
}
