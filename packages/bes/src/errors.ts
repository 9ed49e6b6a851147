import { HttpError } from "@retrain/service-kit";

/** BES error codes (from the classic web-service error-code list) that this implementation emits. */
export type BesErrorCode =
  | "InvalidBlobExtension"
  | "BlobNotFound"
  | "BatchJobInputsNotSpecified"
  | "BatchJobInputsTooManySpecified"
  | "DuplicateInputInBatchCall"
  | "InvalidInputNames"
  | "InvalidOutputOverrideName"
  | "MissingOutputOverrideSpecification"
  | "MissingRequiredGlobalParameters"
  | "InvalidBlobConnectionString"
  | "InvalidBlob"
  | "BlobLocationNotAllowed"
  | "CannotStartJob";

/**
 * A BES request error in the classic shape: top-level code `BadArgument` (or `InvalidOperation`
 * for state errors) with the specific code in `details`, as the classic service answered.
 */
export function besError(code: BesErrorCode, message: string, target?: string, status = 400): HttpError {
  const top = code === "CannotStartJob" ? "InvalidOperation" : code === "BlobNotFound" ? "BadArgument" : "BadArgument";
  return new HttpError(status, top, message, { details: [{ code, message, ...(target !== undefined ? { target } : {}) }] });
}

/** A job or service that does not exist (or that the caller's workspace cannot see). */
export function notFound(code: "JobNotFound" | "WebServiceNotFound", message: string): HttpError {
  return new HttpError(404, "NotFound", message, { details: [{ code, message }] });
}
