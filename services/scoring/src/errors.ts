import { HttpError } from "@retrain/service-kit";

/**
 * Codes of the management APIs (classic and /v1): the specific reason is the top-level code, so a
 * promoter can map it to `PromotionFailed.code` without reading details.
 */
export type ManagementErrorCode =
  | "BadArgument"
  | "InvalidEndpointName"
  | "InvalidWebServiceName"
  | "WebServiceNotFound"
  | "EndpointNotFound"
  | "WorkspaceNotFound"
  | "ResourceNotFound"
  | "NoUpdatableResources"
  | "DefaultEndpointNotUpdatable"
  | "DefaultEndpointInUse"
  | "DefaultEndpointNotRefreshable"
  | "TooManyEndpoints"
  | "WebServiceExists"
  | "ModelIncompatible"
  | "ModelUnreadable"
  | "ModelNotFound"
  | "ModelTooLarge"
  | "ModelFetchFailed"
  | "LocationNotAllowed"
  | "StaleModelUpdate";

const STATUS: Partial<Record<ManagementErrorCode, number>> = {
  WebServiceNotFound: 404,
  EndpointNotFound: 404,
  WorkspaceNotFound: 404,
  StaleModelUpdate: 409,
  WebServiceExists: 409,
};

/** A management API error: 400 unless the code implies 404/409. */
export function managementError(code: ManagementErrorCode, message: string, target?: string): HttpError {
  return new HttpError(STATUS[code] ?? 400, code, message, target === undefined ? {} : { details: [{ code, target, message }] });
}

/** The troubleshooting article's text for a PATCH of a training web service. */
export const NO_UPDATABLE_RESOURCES_MESSAGE =
  "Sorry, but this feature is not supported or available in this context. This Web Service has no updatable resources.";

/** Specific codes of the classic execution (RRS) errors, carried in `details` under the status's family code. */
export type ExecutionErrorCode =
  | "InputParseError"
  | "MissingInputColumns"
  | "ScoreRequestUnauthorized"
  | "WebServiceNotFound"
  | "TooManyConcurrentRequests"
  | "ModelNotReady"
  | "InvalidOperation";

const FAMILY: Record<number, string> = {
  400: "BadArgument",
  401: "Unauthorized",
  404: "NotFound",
  503: "ServiceUnavailable",
};

/**
 * An RRS/BES execution error as the classic service wrote them: the family code on top (`BadArgument`,
 * `Unauthorized`, `NotFound`, `ServiceUnavailable`) and the specific one in `details`.
 */
export function executionError(status: number, code: ExecutionErrorCode, message: string, options: { headers?: Record<string, string>; cause?: unknown } = {}): HttpError {
  return new HttpError(status, FAMILY[status] ?? code, message, { details: [{ code, message }], ...options });
}

/** ARM error codes this host answers with (`{"error":{"code","message"}}`, always 4xx). */
export type ArmErrorCode =
  | "InvalidAuthenticationToken"
  | "ResourceNotFound"
  | "AnotherOperationInProgress"
  | "StaleModelUpdate"
  | "InvalidRequestContent"
  | "MissingApiVersionParameter"
  | "InvalidApiVersionParameter"
  | "InvalidResourceName"
  | "OperationNotFound"
  | "LocationNotAllowed"
  | "ModelIncompatible"
  | "ModelUnreadable"
  | "ModelNotFound";

const ARM_STATUS: Partial<Record<ArmErrorCode, number>> = {
  InvalidAuthenticationToken: 401,
  ResourceNotFound: 404,
  OperationNotFound: 404,
  AnotherOperationInProgress: 409,
  StaleModelUpdate: 409,
};

/** An ARM error: 400 unless the code implies 401/404/409. */
export function armError(code: ArmErrorCode, message: string): HttpError {
  const headers: Record<string, string> = code === "InvalidAuthenticationToken" ? { "www-authenticate": 'Bearer authorization_uri="retrain", error="invalid_token"' } : {};
  return new HttpError(ARM_STATUS[code] ?? 400, code, message, { headers });
}
